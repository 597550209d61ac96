"""vmtemp migrate: import the older ``vm temp`` tool's state into a vmtemp temp VM.

The older tool kept one temp VM per user in ``~/.vm/temp-vm.state``, in three shapes
over its life: YAML with mount objects (``container_name``, ``created_at``,
``project_dir``, ``mounts: [{source, target, permissions}]``), YAML with legacy
``"src:target:perm"`` strings, and the JSON its mount command rewrote. Each becomes a
temp VM definition (compose file + cache) in one atomic step; phantom sources (gone
from disk) are kept as phantom mounts, not dropped; the mount policy applies.

A stopped old container is adopted: its files are committed, with vmtemp's labels,
as the temp VM's working image (``vmtemp-live/<name>:current``), so ``vmtemp start``
runs them with the new mounts. The old file is backed up next to itself and left in
place; the old container is left as it was.
"""

from __future__ import annotations

import calendar
import getpass
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmtemp import audit, composefile, config, engine, interrupts, names, paths, policy, store
from vmtemp import mounts as mountspec
from vmtemp import vm as vmmod
from vmtemp.errors import OperationFailed, UsageError, VmtempError
from vmtemp.mounts import Mount
from vmtemp.output import note, say, success, warn
from vmtemp.undo import Undo

STOPPED = ("exited", "created", "dead")


def default_state_file() -> Path:
    return Path(os.path.expanduser("~")) / ".vm" / "temp-vm.state"


@dataclass
class Plan:
    path: Path
    shape: str  # "yaml (mount objects)" | "yaml (legacy strings)" | "json"
    name: str
    old_container: str
    created_at: str
    project_dir: str | None
    mounts: list[Mount]
    phantoms: list[str] = field(default_factory=list)
    allowed: list[tuple[Mount, str]] = field(default_factory=list)
    container_state: str | None = None  # of the old container; None: gone
    base_image: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def adopt(self) -> bool:
        return self.container_state in STOPPED


# --- reading the old file (pure, apart from the path checks) -----------------------------


def read_state(path: Path) -> tuple[dict[str, Any], str]:
    """The old state as a dict, and which of the three shapes it was."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no state file of the older tool at {path}",
                         hint="give its path: vmtemp migrate --from PATH") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}", hint=f"check it: ls -l {path}") from None
    if not text.strip():
        raise UsageError(f"{path} is empty: there is nothing to migrate",
                         hint="the older tool left an empty state; create a temp VM instead: vmtemp create ./src")
    try:
        data, shape = json.loads(text), "json"
    except ValueError:
        from ruamel.yaml import YAML, YAMLError

        try:
            data, shape = YAML(typ="safe").load(text), "yaml"
        except YAMLError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid YAML"
            raise UsageError(f"{path} is neither JSON nor YAML ({first})", hint=f"look at it: cat {path}") from None
    if not isinstance(data, dict) or not data.get("container_name"):
        raise UsageError(f"{path} is not a state file of the older tool (no container_name)",
                         hint="give the right file: vmtemp migrate --from PATH")
    raw = data.get("mounts") or []
    if not isinstance(raw, list):
        raise UsageError(f"{path}: 'mounts' is not a list", hint=f"look at it: cat {path}")
    if shape == "yaml":
        shape = "yaml (legacy strings)" if raw and all(isinstance(m, str) for m in raw) else "yaml (mount objects)"
    return data, shape


def _mode(value: Any, where: str) -> str:
    text = str(value or "rw").strip().lower()
    if text in ("ro", "readonly", "read-only", "read_only"):
        return "ro"
    if text in ("rw", "readwrite", "read-write", ""):
        return "rw"
    raise UsageError(f"{where}: permissions {value!r} is neither ro nor rw", hint="fix the entry, then migrate again")


def _entry(entry: Any, n: int) -> tuple[str, str | None, str, str]:
    """(source, target or None, mode, the entry as text) of one old mount."""
    where = f"mount {n}"
    if isinstance(entry, str):  # the older tool split these on ':' too: SRC[:TARGET][:PERM]
        parts = entry.split(":")
        if len(parts) == 3:
            return parts[0], parts[1], _mode(parts[2], where), entry
        if len(parts) == 2 and parts[1].lower() in ("ro", "rw"):
            return parts[0], None, parts[1].lower(), entry
        if len(parts) == 2:
            return parts[0], parts[1], "rw", entry
        if len(parts) == 1:
            return parts[0], None, "rw", entry
        raise UsageError(f"{where} {entry!r} is not 'src:target:perm'",
                         hint="fix that entry (a path with ':' cannot be read from this shape), then migrate again")
    if isinstance(entry, dict) and entry.get("source"):
        target = entry.get("target")
        mode = _mode(entry.get("permissions", entry.get("mode")), where)
        return str(entry["source"]), str(target) if target else None, mode, json.dumps(entry)
    raise UsageError(f"{where} is neither 'src:target:perm' nor {{source, target, permissions}}: {entry!r}",
                     hint="fix or remove that entry, then migrate again")


def _created_at(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(value)))
    import datetime as dt

    text = str(value).strip()
    if text.isdigit():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(text)))
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # the older tool wrote local time without a zone
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.mktime(parsed.timetuple())))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(parsed.utctimetuple())))


def plan(path: Path, *, allow_sensitive: bool) -> Plan:
    data, shape = read_state(path)
    old_container = str(data["container_name"])
    name = names.suggest_from(old_container)
    project_dir = data.get("project_dir")
    project_dir = os.path.realpath(os.path.expanduser(str(project_dir))) if project_dir else None
    cfg = config.load()
    mounts: list[Mount] = []
    phantoms: list[str] = []
    allowed: list[tuple[Mount, str]] = []
    for n, entry in enumerate(data.get("mounts") or [], 1):
        source, target, mode, raw = _entry(entry, n)
        mountspec.reject_control_chars(source, f"mount {n} source")
        if target and not target.startswith("/"):
            raise UsageError(f"mount {n}: target {target!r} must be an absolute container path",
                             hint="fix that entry, e.g. /workspace/NAME, then migrate again")
        base = project_dir or str(path.parent)
        real = os.path.realpath(os.path.join(base, os.path.expanduser(source)))
        if not os.path.exists(real):
            phantoms.append(real)
        v = policy.enforce(real, source, allow_sensitive, cfg)
        target = mountspec.check_target(target, raw) if target else mountspec.default_target(real)
        m = Mount(real, target, mode)
        mounts.append(m)
        if v is not None:
            allowed.append((m, f"{v.rule}: {v.what}; allowed by {v.allowed_by}"))
    mountspec.check_unique_targets(mounts)
    created = _created_at(data.get("created_at"))
    p = Plan(path=path, shape=shape, name=name, old_container=old_container,
             created_at=created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             project_dir=project_dir, mounts=mounts, phantoms=phantoms, allowed=allowed)
    if created is None and data.get("created_at"):
        p.warnings.append(f"created_at {data.get('created_at')!r} is not a date vmtemp reads; using now")
    info = engine.inspect_container(old_container)
    if info is not None:
        p.container_state = (info.get("State") or {}).get("Status")
        p.base_image = str((info.get("Config") or {}).get("Image") or "")
    if not p.base_image:
        from vmtemp.commands.create import choose_image

        p.base_image = choose_image(None, cfg)
    return p


def build(p: Plan, compose_path: Path):
    doc = composefile.build(
        template="default", name=p.name, image=p.base_image, owner=getpass.getuser(), uid=os.getuid(),
        gid=os.getgid(), created_at=p.created_at, project_dir=p.project_dir, mounts=p.mounts,
        compose_path=compose_path, run_image=paths.live_image(p.name),
    )
    doc[composefile.META_KEY]["migrated_from"] = str(p.path)
    return doc


# --- the command ---------------------------------------------------------------------


def describe(p: Plan) -> None:
    say(f"older tool's state: {p.path} ({p.shape})")
    say(f"  temp VM name: {p.name} (from container name {p.old_container!r})")
    say(f"  created: {p.created_at}   project: {p.project_dir or '-'}   image: {p.base_image}")
    for m in p.mounts:
        flag = "  [phantom: the source is gone; kept so you can see and remove it]" if m.source in p.phantoms else ""
        say(f"  {m.source} -> {m.target} ({m.mode}){flag}")
    if not p.mounts:
        say("  no mounts")
    if p.adopt:
        say(f"  old container {p.old_container} ({p.container_state}): adopted - its files become "
            f"{paths.live_image(p.name)}; the old container is left as it is")
    elif p.container_state is None:
        say(f"  old container {p.old_container}: gone - vmtemp start -n {p.name} creates a new one")
    for w in p.warnings:
        warn(w)


def _existing(p: Plan) -> int:
    current = vmmod.load(p.name)
    if {(m.source, m.target, m.mode) for m in current.mounts} == {(m.source, m.target, m.mode) for m in p.mounts}:
        say(f"already migrated: temp VM {p.name!r} has these mounts (vmtemp status -n {p.name})")
        return 0
    raise OperationFailed(
        f"a temp VM named {p.name!r} already exists with other mounts; nothing was changed",
        hint=f"look at it: vmtemp status -n {p.name}; to replace it: vmtemp destroy {p.name}, then migrate again",
    )


def run(*, from_: str | None, dry_run: bool, allow_sensitive: bool = False) -> int:
    path = Path(os.path.abspath(os.path.expanduser(from_))) if from_ else default_state_file()
    p = plan(path, allow_sensitive=allow_sensitive)
    if p.container_state and not p.adopt:
        raise OperationFailed(
            f"the old container {p.old_container} is {p.container_state}; stop it first so its files can be "
            "adopted; nothing was changed",
            hint=f"docker stop {p.old_container} && vmtemp migrate" + (f" --from {path}" if from_ else "")
            + f"   (or start afresh without its files: docker rm -f {p.old_container}, then migrate)",
        )
    compose_path = paths.compose_file(p.name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    if dry_run:
        say("# vmtemp migrate --dry-run: nothing is changed")
        describe(p)
        if paths.vm_dir(p.name).exists():
            say(f"# temp VM {p.name!r} exists already: would compare its mounts and change nothing")
            return 0
        say(f"# would back up {path} to {backup}")
        say(f"# would write {compose_path}:")
        say(composefile.dumps(build(p, compose_path)).rstrip())
        if p.adopt:
            say(f"# would run: docker commit {p.old_container} {paths.live_image(p.name)} (with vmtemp's labels)")
        else:
            say(f"# would run: docker tag {p.base_image} {paths.live_image(p.name)}")
        return 0

    paths.ensure_dir(paths.home())
    interrupts.install()
    with store.locked(p.name, "migrate"):
        if paths.vm_dir(p.name).exists():
            return _existing(p)
        describe(p)
        store.atomic_write(backup, path.read_bytes(), mode=0o600)
        undo = Undo()
        try:
            _apply(p, undo)
        except VmtempError as e:
            failures = undo.run()
            e.message = (f"migrating {path} failed: {e.message}; "
                         + ("rolled back, nothing of it remains" if not failures
                            else "rollback incomplete: " + "; ".join(failures)))
            audit.append(p.name, "migrate", result=f"failed: {e.message}", source=str(path))
            raise
        except BaseException:
            undo.run()
            raise
        audit.append(p.name, "migrate", result="ok", source=str(path), shape=p.shape, backup=str(backup),
                     adopted=p.old_container if p.adopt else None, mounts=[m.spec() for m in p.mounts],
                     phantom=p.phantoms)
        for m, rule in p.allowed:
            audit.append(p.name, "allow-sensitive", result="ok", source=m.source, target=m.target, mode=m.mode,
                         rule=rule)
    success(f"migrated to temp VM {p.name!r}; the old file is kept as {backup}")
    if p.phantoms:
        note("phantom mounts (their sources are gone) must go before it can start: "
             + "; ".join(f"vmtemp unmount -n {p.name} {s}" for s in p.phantoms))
    if p.adopt:
        note(f"when it runs as you want, remove the old container: docker rm {p.old_container}")
    say(f"next: vmtemp start -n {p.name}")
    return 0


def _untag(ref: str) -> None:
    if engine.image_id(ref) is not None:
        engine.remove("image", [ref], force=False)


def _apply(p: Plan, undo: Undo) -> None:
    live = paths.live_image(p.name)
    if p.adopt:
        labels = {engine.LABEL_MANAGED: "true", engine.LABEL_NAME: p.name, engine.LABEL_OWNER: getpass.getuser(),
                  engine.LABEL_HOME: str(paths.home())}
        undo.push(f"remove the image {live}", lambda: _untag(live))
        engine.commit_labelled(p.old_container, live, labels)
    else:
        if engine.image_id(p.base_image) is None:
            engine.pull(p.base_image)
        undo.push(f"remove the image tag {live}", lambda: _untag(live))
        engine.tag(p.base_image, live)
    # the folder is made aside and renamed into place: it appears whole or not at all
    final = paths.vm_dir(p.name)
    tmp = paths.home() / f".migrate-{p.name}-{os.getpid()}"
    undo.push(f"remove {tmp}", lambda: tmp.exists() and shutil.rmtree(tmp))
    paths.ensure_dir(tmp)
    store.atomic_write(tmp / paths.COMPOSE_FILE, composefile.dumps(build(p, paths.compose_file(p.name))))
    undo.push(f"remove {final}", lambda: final.exists() and shutil.rmtree(final))
    os.rename(tmp, final)
    store.fsync_dir(paths.home())
    vmmod.save_cache(vmmod.from_compose(p.name))
