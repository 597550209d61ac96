"""The temp VM's compose file: generated from a template, then edited round-trip.

ruamel.yaml keeps the user's comments, quotes, order and extra keys; vmtemp only
touches the keys it owns (the main service's image, labels and bind mounts, and
the ``x-vmtemp`` block). ``docker compose config`` output is never written back.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from vmtemp import __version__, names, paths, resources
from vmtemp.errors import OperationFailed, UsageError
from vmtemp.mounts import Mount

MAIN_SERVICE = "vm"
META_KEY = "x-vmtemp"
TEMPLATE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
LABEL_MANAGED = "dev.vmtemp.managed"
LABEL_NAME = "dev.vmtemp.name"
LABEL_OWNER = "dev.vmtemp.owner"
LABEL_HOME = "dev.vmtemp.home"  # the state folder it belongs to: gc never touches another's


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


def dumps(doc: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def loads(text: str, origin: str) -> CommentedMap:
    try:
        doc = _yaml().load(text)
    except YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid YAML"
        raise OperationFailed(
            f"{origin} is not valid YAML ({first})",
            hint=f"fix it by hand, or look at it with: vmtemp doctor; file: {origin}",
        ) from None
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("services"), dict):
        raise OperationFailed(
            f"{origin} is not a compose file vmtemp can use (no services mapping)",
            hint=f"fix it by hand or restore it; file: {origin}",
        )
    return doc


def load(path: Path) -> CommentedMap:
    if path.is_symlink():
        raise OperationFailed(
            f"{path} is a symbolic link; vmtemp only edits its own regular file",
            hint=f"replace the link with the file it points to: cp --remove-destination \"$(readlink -f {path})\" {path}",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OperationFailed(f"compose file {path} is missing", hint="vmtemp doctor") from None
    except (OSError, UnicodeDecodeError) as e:
        raise OperationFailed(f"cannot read compose file {path}: {e}", hint=f"check it: ls -l {path}") from None
    doc = loads(text, str(path))
    if MAIN_SERVICE not in doc["services"] or not isinstance(doc["services"][MAIN_SERVICE], dict):
        raise OperationFailed(
            f"{path} has no '{MAIN_SERVICE}' service", hint=f"restore the '{MAIN_SERVICE}' service in {path}"
        )
    return doc


# --- templates -----------------------------------------------------------------


def template_names() -> dict[str, Path]:
    """Template name -> file; the user's templates shadow the built-in ones."""
    found: dict[str, Path] = {}
    for folder in (resources.data_dir("compose-templates"), paths.user_templates_dir()):
        if folder.is_dir():
            for f in sorted(folder.glob("*.yaml")):
                found[f.stem] = f
    return found


def template_path(template: str) -> Path:
    if not TEMPLATE_RE.match(template):
        raise UsageError(
            f"invalid template name {template.encode('unicode_escape').decode()!r}",
            hint="vmtemp templates list",
        )
    available = template_names()
    if template not in available:
        raise UsageError(f"no template named {template!r}", hint="vmtemp templates list")
    return available[template]


def _labels(name: str, owner: str) -> CommentedMap:
    labels = CommentedMap()
    labels[LABEL_MANAGED] = "true"
    labels[LABEL_NAME] = name
    labels[LABEL_OWNER] = owner
    labels[LABEL_HOME] = str(paths.home())
    return labels


def build(
    *,
    template: str,
    name: str,
    image: str,
    owner: str,
    uid: int,
    gid: int,
    created_at: str,
    project_dir: str | None,
    mounts: list[Mount],
    compose_path: Path,
    run_image: str | None = None,
) -> CommentedMap:
    """A new compose document for a temp VM, from a template."""
    tpath = template_path(template)
    doc = loads(tpath.read_text(encoding="utf-8"), str(tpath))
    if MAIN_SERVICE not in doc["services"]:
        raise UsageError(f"template {template!r} has no '{MAIN_SERVICE}' service", hint=f"add one to {tpath}")

    out = CommentedMap()
    out["name"] = names.project(name)
    meta = CommentedMap()
    meta["version"] = 1
    meta["name"] = name
    meta["template"] = template
    meta["created_at"] = created_at
    meta["project_dir"] = project_dir
    meta["owner"] = owner
    meta["base_image"] = image
    out[META_KEY] = meta
    for key, value in doc.items():
        if key not in ("name", META_KEY):
            out[key] = value

    for svc in out["services"].values():
        svc.setdefault("image", image)
        labels = svc.get("labels")
        if not isinstance(labels, dict):
            labels = CommentedMap()
            svc["labels"] = labels
        labels.update(_labels(name, owner))

    vm = out["services"][MAIN_SERVICE]
    fresh = CommentedMap()
    fresh["image"] = run_image or image
    if run_image:
        fresh.yaml_add_eol_comment(f"= {image} plus what you change inside (kept across mount changes)", "image")
    fresh["container_name"] = names.container(name)
    fresh["hostname"] = name
    fresh["user"] = DoubleQuotedScalarString(f"{uid}:{gid}")
    env = CommentedMap()
    env["HOME"] = "/root" if uid == 0 else "/tmp/home"
    env["VMTEMP_NAME"] = name
    fresh["environment"] = env
    for key, value in vm.items():
        if key == "environment" and isinstance(value, dict):
            env.update({k: v for k, v in value.items() if k not in env})
        elif key not in fresh:
            fresh[key] = value
    out["services"][MAIN_SERVICE] = fresh
    set_mounts(out, mounts)

    networks = out.get("networks")
    if not isinstance(networks, dict):
        networks = CommentedMap()
        out["networks"] = networks
    default = networks.get("default")
    if not isinstance(default, dict):
        default = CommentedMap()
        networks["default"] = default
    default["labels"] = _labels(name, owner)
    for vol_name, vol in list((out.get("volumes") or {}).items()):
        if vol is None:
            vol = CommentedMap()
            out["volumes"][vol_name] = vol
        vol.setdefault("labels", CommentedMap()).update(_labels(name, owner))

    out.yaml_set_start_comment(
        f"vmtemp temp VM '{name}' (generated by vmtemp {__version__} from template '{template}').\n"
        "vmtemp edits this file in place and keeps your comments and additions;\n"
        "it owns the 'vm' service's image, labels and bind mounts, and the x-vmtemp block.\n"
        f"Run it by hand: docker compose -f {compose_path} up -d"
    )
    return out


# --- reading and editing ---------------------------------------------------------


def meta(doc: CommentedMap) -> dict[str, Any]:
    value = doc.get(META_KEY)
    return dict(value) if isinstance(value, dict) else {}


def main_service(doc: CommentedMap) -> CommentedMap:
    return doc["services"][MAIN_SERVICE]


def _entry_to_mount(entry: Any, base: Path) -> Mount | None:
    if isinstance(entry, str):
        parts = entry.split(":")
        if len(parts) < 2:
            return None  # anonymous volume
        source, target = parts[0], parts[1]
        mode = "ro" if len(parts) > 2 and "ro" in parts[2].split(",") else "rw"
        if not (source.startswith((".", "/", "~"))):
            return None  # a named volume
        return Mount(os.path.normpath(os.path.join(base, os.path.expanduser(source))), target, mode)
    if isinstance(entry, dict) and entry.get("type", "volume") == "bind":
        source = os.path.normpath(os.path.join(base, os.path.expanduser(str(entry.get("source", "")))))
        return Mount(source, str(entry.get("target")), "ro" if entry.get("read_only") else "rw")
    return None


def read_mounts(doc: CommentedMap, base: Path) -> list[Mount]:
    """The bind mounts of the main service, in file order."""
    volumes = main_service(doc).get("volumes") or []
    if not isinstance(volumes, list):
        raise OperationFailed(f"services.{MAIN_SERVICE}.volumes in {base / paths.COMPOSE_FILE} is not a list",
                              hint=f"fix it by hand (vmtemp doctor); file: {base / paths.COMPOSE_FILE}")
    found = []
    for entry in volumes:
        m = _entry_to_mount(entry, base)
        if m is not None:
            found.append(m)
    return found


def _new_entry(m: Mount) -> CommentedMap:
    entry = CommentedMap()
    entry["type"] = "bind"
    entry["source"] = m.source
    entry["target"] = m.target
    if m.readonly:
        entry["read_only"] = True
    return entry


def set_mounts(doc: CommentedMap, mounts: list[Mount]) -> None:
    """Make the main service's bind mounts exactly ``mounts``, surgically:
    entries that stay keep their place and comments, others are removed or appended."""
    vm = main_service(doc)
    volumes = vm.get("volumes")
    if not isinstance(volumes, list):
        volumes = CommentedSeq()
        vm["volumes"] = volumes
    wanted = {m.target: m for m in mounts}
    base = Path("/")
    for i in range(len(volumes) - 1, -1, -1):
        current = _entry_to_mount(volumes[i], base)
        if current is None:
            continue  # named volumes and other entries are the user's
        new = wanted.pop(current.target, None)
        if new is None:
            del volumes[i]
        elif new != current:
            entry = volumes[i]
            if isinstance(entry, dict) and os.path.normpath(str(entry.get("source"))) == new.source:
                if new.readonly:
                    entry["read_only"] = True
                elif "read_only" in entry:
                    del entry["read_only"]
            else:
                volumes[i] = _new_entry(new)
    for m in mounts:
        if m.target in wanted:
            volumes.append(_new_entry(m))


def image(doc: CommentedMap) -> str:
    return str(main_service(doc).get("image", ""))
