"""A temp VM as vmtemp knows it: its definition on disk, reconciled with the engine.

The compose file is the truth. ``state.json`` caches what the read-only paths need
(list, status, completion) together with the compose file's size and mtime; when
the file was changed by hand the cache no longer matches and the file is re-read.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from vmtemp import names, paths, store
from vmtemp.errors import OperationFailed
from vmtemp.mounts import Mount, has_control_chars

CACHE_SCHEMA = 1
CONTAINER_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")


class VmDef:
    """A temp VM's definition (a plain class: dataclasses cost the hot paths an import)."""

    __slots__ = ("name", "image", "mounts", "created_at", "project_dir", "owner", "container", "template",
                 "base_image", "auto_ro", "warnings")

    def __init__(self, *, name: str, image: str, mounts: list[Mount], created_at: str | None,
                 project_dir: str | None, owner: str | None, container: str, template: str | None = None,
                 base_image: str | None = None, auto_ro: list[str] | None = None,
                 warnings: list[str] | None = None) -> None:
        self.name = name
        self.image = image
        self.mounts = mounts
        self.created_at = created_at
        self.project_dir = project_dir
        self.owner = owner
        self.container = container
        self.template = template
        self.base_image = base_image
        self.auto_ro = auto_ro if auto_ro is not None else []
        self.warnings = warnings if warnings is not None else []


def _compose_key(path: Path) -> list[int] | None:
    try:
        st = path.lstat()  # a compose file replaced by a link never matches the cache
    except FileNotFoundError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _cache_trusted(cached: dict, name: str, *, any_container: bool = False) -> bool:
    """The cache describes this temp VM with sane values (a hand-edited state.json that
    points exec at another container, or carries odd types, is not used)."""
    mounts = cached.get("mounts")
    container = cached.get("container")
    return (cached.get("name") == name
            and (container in (names.container(name), f"{names.project(name)}-vm-1")
                 or any_container and isinstance(container, str) and CONTAINER_RE.match(container) is not None)
            and isinstance(cached.get("image"), str) and isinstance(mounts, list)
            and all(isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in mounts)
            and all(isinstance(cached.get(k), (str, type(None))) for k in ("owner", "created_at", "project_dir")))


def from_compose(name: str) -> VmDef:
    from vmtemp import composefile

    path = paths.compose_file(name)
    doc = composefile.load(path)
    meta = composefile.meta(doc)
    vm = composefile.main_service(doc)
    mounts = composefile.read_mounts(doc, path.parent)
    for m in mounts:
        bad = next((p for p in (m.source, m.target) if has_control_chars(p)), None)
        if bad is not None:
            raise OperationFailed(
                f"{path}: mount path {bad.encode('unicode_escape').decode()!r} contains a control character",
                hint=f"fix or remove that mount in {path}")
    return VmDef(
        name=name,
        image=composefile.image(doc),
        mounts=mounts,
        created_at=meta.get("created_at"),
        project_dir=meta.get("project_dir"),
        owner=meta.get("owner"),
        container=_container_name(vm, name, path),
        template=meta.get("template"),
        base_image=meta.get("base_image"),
        auto_ro=list(meta.get("auto_ro") or []),
    )


def _container_name(vm: Any, name: str, path: Path) -> str:
    from vmtemp import composefile

    container = str(vm.get("container_name") or f"{names.project(name)}-{composefile.MAIN_SERVICE}-1")
    if not CONTAINER_RE.match(container):
        shown = container.encode("unicode_escape").decode()
        raise OperationFailed(f"{path}: container_name {shown!r} is not a valid container name",
                              hint=f"fix it in {path} (vmtemp uses {names.container(name)})")
    return container


def load(name: str) -> VmDef:
    """The definition, from the cache when it matches the compose file, else from the file."""
    path = paths.compose_file(name)
    key = _compose_key(path)
    if key is None:
        raise OperationFailed(
            f"temp VM {name!r} has no compose file ({path})",
            hint=f"vmtemp doctor -n {name}, or remove it: vmtemp destroy {name} --force",
        )
    unreadable = None
    try:
        cached = store.read_json(paths.state_file(name))
    except FileNotFoundError:
        cached = None
    except (OSError, ValueError) as e:
        cached, unreadable = None, getattr(e, "strerror", None) or "not valid JSON"
    if cached is not None and not isinstance(cached, dict):
        cached, unreadable = None, "not a JSON object"
    distrusted = None
    if isinstance(cached, dict) and cached.get("schema") == CACHE_SCHEMA and not _cache_trusted(cached, name):
        cached, distrusted, unreadable = None, cached, "its content does not describe this temp VM"
    if isinstance(cached, dict) and cached.get("schema") == CACHE_SCHEMA and cached.get("compose_key") == key:
        try:
            return _with_journal(VmDef(
                name=name,
                image=cached["image"],
                mounts=[Mount(**m) for m in cached["mounts"]],
                created_at=cached.get("created_at"),
                project_dir=cached.get("project_dir"),
                owner=cached.get("owner"),
                container=cached["container"],
                template=cached.get("template"),
                base_image=cached.get("base_image"),
                auto_ro=list(cached.get("auto_ro") or []),
            ))
        except (KeyError, TypeError):
            pass
    d = from_compose(name)
    if (distrusted is not None and _cache_trusted(distrusted, name, any_container=True)
            and distrusted.get("container") == d.container):
        unreadable = None  # a custom container_name in the compose file: the cache agrees with it
    if unreadable:
        d.warnings.append(f"{paths.state_file(name)} is ignored ({unreadable}); read the compose file instead "
                          f"(vmtemp rewrites it on the next change, e.g. vmtemp start -n {name})")
    elif cached is not None:
        d.warnings.append("the compose file was changed outside vmtemp; re-read it")
    return _with_journal(d)


def _with_journal(d: VmDef) -> VmDef:
    """A half-done mount change (its process died) is reported by every command."""
    if os.path.exists(paths.pending_file(d.name)):
        from vmtemp import journal

        half = journal.stale(d.name)
        if half is not None:
            d.warnings.append(f"half-done change: {journal.describe(half)}; repair it: vmtemp doctor -n {d.name} --fix")
    return d


def _current_user() -> str:
    import getpass

    return getpass.getuser()


def save_cache(d: VmDef) -> None:
    """Write state.json and mounts.list (call with the temp VM's lock held)."""
    key = _compose_key(paths.compose_file(d.name))
    data = {
        "schema": CACHE_SCHEMA,
        "name": d.name,
        "image": d.image,
        "mounts": [m.to_json() for m in d.mounts],
        "created_at": d.created_at,
        "project_dir": d.project_dir,
        "owner": d.owner,
        # lets the shell's fast path check ownership without a process
        "owner_uid": os.getuid() if d.owner == _current_user() else None,
        "container": d.container,
        "template": d.template,
        "base_image": d.base_image,
        "auto_ro": d.auto_ro,
        "compose_key": key,
    }
    store.atomic_write(paths.state_file(d.name), json.dumps(data, indent=1))
    lines = "".join(f"{m.target}\t{m.source}\t{m.mode}\n" for m in d.mounts)
    store.atomic_write(paths.mounts_index(d.name), lines)


def mount_state(m: Mount) -> str:
    if m.type != "bind":
        return "unknown"
    if not os.path.lexists(m.source) or not os.path.exists(m.source):
        return "phantom"
    if not os.access(m.source, os.R_OK):
        return "inaccessible"
    return "ok"


def status_of(container_state: str | None, name: str) -> str:
    if container_state is None:
        holder = store.read_holder(name)
        if holder and holder.get("command") == "create" and store.pid_alive(int(holder.get("pid", 0))):
            return "creating"
        return "missing"
    if container_state == "running":
        return "running"
    if container_state in ("exited", "created", "paused"):
        return "stopped"
    return "error"


def created_epoch(created_at: str | None) -> float | None:
    if not created_at:
        return None
    try:
        import calendar

        return float(calendar.timegm(time.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


def to_json(d: VmDef, container_state: str | None, container_name: str | None) -> dict[str, Any]:
    mounts = []
    warnings = list(d.warnings)
    for m in d.mounts:
        state = mount_state(m)
        mounts.append({**m.to_json(), "state": state, "auto": m.target in d.auto_ro})
        if state == "phantom":
            warnings.append(f"mount source {m.source} is gone (phantom); remove it: vmtemp unmount -n {d.name} {m.source}")
        elif state == "inaccessible":
            warnings.append(f"mount source {m.source} is not readable by you")
    status = status_of(container_state, d.name)
    if status == "missing":
        warnings.append(f"the container is gone; recreate it: vmtemp start -n {d.name}, or remove: vmtemp destroy {d.name}")
    elif status == "error":
        warnings.append(f"the container is in state {container_state!r}; see vmtemp logs -n {d.name}")
    return {
        "name": d.name,
        "status": status,
        "image": d.base_image or d.image,
        "mounts": mounts,
        "created_at": d.created_at,
        "project_dir": d.project_dir,
        "container": container_name,
        "warnings": warnings,
        "owner": d.owner,
    }
