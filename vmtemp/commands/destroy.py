"""vmtemp destroy: show everything that goes, ask, then remove all of it.

What goes is found on the engine by label (``dev.vmtemp.name=<name>``, and the
compose project label for what a hand edit of the compose file added), never by
name substrings; the compose file may be broken or gone and destroy still works.
Snapshot images (``vmtemp-snap/<name>:TAG``) are kept unless ``--snapshots``;
vmtemp's own working images (``vmtemp-live/<name>:…``) go with the temp VM. Host
folders are never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from vmtemp import audit, engine, interrupts, names, paths, prompts, store
from vmtemp import vm as vmmod
from vmtemp.errors import (
    EngineError,
    EngineUnavailable,
    NotConfirmed,
    OperationFailed,
    UsageError,
    VmtempError,
)
from vmtemp.output import human_size, note, say, success, table, warn

SNAPSHOT_REPO = "vmtemp-snap"
LIVE_REPO = "vmtemp-live"
PROJECT_LABEL = "com.docker.compose.project"


@dataclass
class Picture:
    name: str
    status: str
    container: str | None
    uptime: str | None
    containers: list[engine.ContainerInfo] = field(default_factory=list)
    processes: list[engine.Process] = field(default_factory=list)
    volumes: dict[str, int | None] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # vmtemp's own: deleted with the temp VM
    snapshots: list[str] = field(default_factory=list)  # kept unless --snapshots
    foreign_images: list[str] = field(default_factory=list)  # carry its labels but are tagged by someone else
    folder: str | None = None
    host_folders: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.containers or self.volumes or self.networks or self.images or self.snapshots
                    or self.folder)


def _labels(name: str) -> tuple[str, str]:
    return f"{engine.LABEL_NAME}={name}", f"{PROJECT_LABEL}={names.project(name)}"


def _by_labels(kind: str, name: str) -> list[str]:
    """Names of one kind carrying this temp VM's name label or its compose project label."""
    found: dict[str, None] = {}
    for label in _labels(name):
        for r in engine.labelled(kind, label):
            found[r["name"]] = None
    return list(found)


def classify_image(name: str, ref: str) -> str:
    """'snapshot', 'own' (vmtemp's working image or a dangling one) or 'foreign'."""
    repo = ref.rsplit(":", 1)[0]
    if repo == f"{SNAPSHOT_REPO}/{name}" or repo.startswith(SNAPSHOT_REPO + "/"):
        return "snapshot"
    if repo.startswith(LIVE_REPO + "/") or repo == "<none>":
        return "own"
    return "foreign"


def _images(name: str) -> tuple[list[str], list[str], list[str]]:
    """(own, snapshots, foreign) image references of a temp VM; dangling ones by ID."""
    own: dict[str, None] = {}
    snaps: dict[str, None] = {}
    foreign: dict[str, None] = {}
    found = [(i["id"], i["name"]) for i in engine.labelled("image", f"{engine.LABEL_NAME}={name}")]
    found += [(r.id, r.name) for r in engine.images_of_repo(f"{LIVE_REPO}/{name}")]
    for rid, ref in found:
        kind = classify_image(name, ref)
        key = rid if ref.startswith("<none>") else ref
        {"own": own, "snapshot": snaps, "foreign": foreign}[kind][key] = None
    return list(own), list(snaps), list(foreign)


def gather(name: str) -> Picture:
    """Everything of one temp VM, read-only. Never fails on a broken compose file."""
    containers = engine.list_containers(name)
    main = next((c for c in containers if c.is_main), None)
    folder = paths.vm_dir(name)
    pic = Picture(name=name, status=vmmod.status_of(main.state if main else None, name),
                  container=main.name if main else None, uptime=main.status if main else None,
                  containers=containers, folder=str(folder) if folder.exists() else None)
    if main is not None and main.state == "running":
        try:
            pic.processes = engine.user_processes(main.name)
        except EngineError as e:
            pic.warnings.append(f"could not list the processes inside: {e.stderr_tail(1) or e.message}")
    vols = _by_labels("volume", name)
    try:
        sizes = engine.volume_sizes(vols)
    except EngineError:
        sizes = {}
    pic.volumes = {v: sizes.get(v) for v in vols}
    pic.networks = _by_labels("network", name)
    pic.images, pic.snapshots, pic.foreign_images = _images(name)
    if folder.exists():
        try:
            d = vmmod.load(name)
        except VmtempError as e:
            pic.warnings.append(f"{e.message}; removing what carries its labels instead")
        except Exception as e:  # noqa: BLE001 - a mangled compose file must not stop destroy
            pic.warnings.append(f"the compose file cannot be read ({e!r}); removing what carries its labels instead")
        else:
            for m in d.mounts:
                state = vmmod.mount_state(m)
                pic.host_folders.append(m.source + ("" if state in ("ok", "unknown") else f" ({state})"))
                if state == "phantom":
                    pic.warnings.append(f"mount source {m.source} is gone (phantom); it does not block destroy")
    return pic


def show(pic: Picture, *, keep_volumes: bool, snapshots: bool) -> None:
    say(f"temp VM {pic.name!r}: {pic.status}" + (f" ({pic.uptime})" if pic.uptime else ""))
    if pic.containers:
        say("  containers: " + ", ".join(f"{c.name} ({c.state})" for c in pic.containers) + " - deleted")
    else:
        say("  containers: none")
    if pic.processes:
        say("  processes running inside (they will be killed):")
        rows = [[p.pid, p.user, p.elapsed, p.command[:100]] for p in pic.processes]
        say("\n".join("    " + line for line in table(["PID", "USER", "ELAPSED", "COMMAND"], rows).splitlines()))
    elif pic.status == "running":
        say("  processes running inside: none besides its own keep-alive")
    for v, size in pic.volumes.items():
        action = "kept (--keep-volumes)" if keep_volumes else "deleted"
        say(f"  volume {v}: {human_size(size) if size is not None else 'size unknown'}, {action}")
    for n in pic.networks:
        say(f"  network {n}: deleted")
    for i in pic.images:
        say(f"  image {i}: deleted (vmtemp's working image of this temp VM)")
    for s in pic.snapshots:
        say(f"  snapshot {s}: " + ("deleted (--snapshots)" if snapshots else "kept (--snapshots deletes it)"))
    for i in pic.foreign_images:
        say(f"  image {i}: kept (tagged outside vmtemp)")
    say(f"  compose folder {pic.folder}: deleted" if pic.folder else "  compose folder: none")
    for w in pic.warnings:
        warn(w)
    mounted = f" ({', '.join(pic.host_folders)})" if pic.host_folders else ""
    say(f"  Host folders mounted into it{mounted} are not touched.")


def _try(what: str, fn, failures: list[str]) -> None:
    try:
        fn()
    except EngineUnavailable:
        raise
    except VmtempError as e:
        tail = e.stderr_tail(1) if isinstance(e, EngineError) else ""
        failures.append(f"{what}: {tail or e.message}")


def leftovers(name: str, *, keep_volumes: bool, snapshots: bool) -> list[str]:
    """What of vmtemp's is still there for this temp VM (folder aside)."""
    left = []
    for kind in ("container", "network") + (() if keep_volumes else ("volume",)):
        found = _by_labels(kind, name)
        if found:
            left.append(f"{kind}s still present: " + ", ".join(found))
    own, snaps, _ = _images(name)
    if own or (snapshots and snaps):
        left.append("images still present: " + ", ".join(own + (snaps if snapshots else [])))
    return left


def remove(name: str, *, keep_volumes: bool, snapshots: bool = False, quick: bool = False) -> list[str]:
    """Remove everything of vmtemp's for this temp VM; return what remains (empty: all gone).

    Each step goes on when an earlier one failed; what failed is named in the result."""
    failures: list[str] = []
    compose = paths.compose_file(name)
    if compose.exists():
        try:
            engine.compose_down(compose, names.project(name), volumes=not keep_volumes)
        except EngineUnavailable as e:
            if "compose" not in e.message:
                raise
            note("the compose plugin is missing; removing by label instead")
        except VmtempError as e:
            tail = e.stderr_tail(1) if isinstance(e, EngineError) else ""
            note(f"docker compose down failed ({tail or e.message}); removing by label instead")
    kinds = ("container", "network") + (() if keep_volumes else ("volume",))
    for kind in kinds:
        found = _by_labels(kind, name)
        _try(f"removing {kind}s", lambda kind=kind, found=found: engine.remove(kind, found), failures)
    own, snaps, _ = _images(name)
    # by tag (untags an image another tag still holds, e.g. a kept snapshot), dangling ones by ID
    refs = own + (snaps if snapshots else [])
    _try("removing images", lambda: engine.remove("image", refs, force=False), failures)
    remains = leftovers(name, keep_volumes=keep_volumes, snapshots=snapshots)
    if remains:
        remains += failures
    folder = paths.vm_dir(name)
    if folder.exists() and not remains:
        shutil.rmtree(folder)
    elif folder.exists():
        remains.append(f"folder {folder} kept so that the rest can still be removed (vmtemp destroy {name})")
    return sorted(set(remains))


def _targets(names_: list[str], all_: bool) -> list[str]:
    if all_ and names_:
        raise UsageError("give names or --all, not both", hint="vmtemp destroy --all")
    if all_:
        return paths.vm_names()
    if names_:
        targets = [names.validate(n) for n in names_]
        for n in targets:
            if (not paths.vm_dir(n).exists() and not engine.list_containers(n)
                    and not any(engine.labelled(k, f"{engine.LABEL_NAME}={n}") for k in ("volume", "network", "image"))):
                raise UsageError(f"no temp VM named {n!r}", hint="vmtemp list")
        return targets
    return [names.resolve(None)]


def run(*, names_: list[str], all_: bool, yes: bool, force: bool, quick: bool, keep_volumes: bool,
        dry_run: bool, snapshots: bool = False) -> int:
    targets = _targets(names_, all_)
    if not targets:
        say("no temp VMs to destroy")
        return 0
    from vmtemp import ownership

    targets = ownership.mine(targets, force=force, all_=all_)
    if not targets:
        say("no temp VMs of yours to destroy")
        return 0

    pictures = [gather(n) for n in targets]
    if not quick or dry_run:
        for pic in pictures:
            show(pic, keep_volumes=keep_volumes, snapshots=snapshots)
    if dry_run:
        say("dry run: nothing was removed")
        return 0
    asked = not (yes or force or quick)
    busy = [p for p in pictures if p.processes]
    if busy and not asked and not force:
        raise NotConfirmed(
            "processes are running inside " + ", ".join(repr(p.name) for p in busy)
            + " (listed above); nothing was removed",
            hint="stop them, or pass --force to destroy anyway",
        )
    if asked:
        what = ", ".join(repr(p.name) for p in pictures)
        prompts.confirm(f"Destroy temp VM {what}? This cannot be undone", flag="--yes")
    interrupts.install()
    failed = []
    for name in targets:
        with store.locked(name, "destroy"):
            remains = remove(name, keep_volumes=keep_volumes, snapshots=snapshots, quick=quick)
        audit.append(name, "destroy", result="ok" if not remains else "incomplete: " + "; ".join(remains))
        if remains:
            failed.append(name)
            warn(f"{name}: could not remove everything: " + "; ".join(remains))
        else:
            success(f"temp VM {name!r} destroyed")
    if failed:
        raise OperationFailed(
            "some of vmtemp's resources remain for: " + ", ".join(failed),
            hint="see the lines above; free what holds them, then: vmtemp destroy " + " ".join(failed),
        )
    return 0
