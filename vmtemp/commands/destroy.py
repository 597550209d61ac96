"""vmtemp destroy: show everything that goes, ask, then remove all of it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from vmtemp import audit, engine, interrupts, names, paths, prompts, store
from vmtemp import vm as vmmod
from vmtemp.errors import EngineError, OperationFailed, UsageError, VmtempError
from vmtemp.output import human_size, note, say, success, warn

SNAPSHOT_REPO = "vmtemp-snap"


@dataclass
class Picture:
    name: str
    status: str
    container: str | None
    uptime: str | None
    processes: list[engine.Process] = field(default_factory=list)
    volumes: dict[str, int | None] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    folder: str | None = None
    warnings: list[str] = field(default_factory=list)


def gather(name: str) -> Picture:
    label = f"{engine.LABEL_NAME}={name}"
    containers = engine.list_containers(name)
    main = next((c for c in containers if c.is_main), None)
    folder = paths.vm_dir(name)
    pic = Picture(name=name, status=vmmod.status_of(main.state if main else None, name),
                  container=main.name if main else None, uptime=main.status if main else None,
                  folder=str(folder) if folder.exists() else None)
    if main is not None and main.state == "running":
        try:
            pic.processes = engine.user_processes(main.name)
        except EngineError as e:
            pic.warnings.append(f"could not list processes: {e.stderr_tail(1)}")
    vols = [v["name"] for v in engine.labelled("volume", label)]
    sizes = engine.volume_sizes(vols)
    pic.volumes = {v: sizes.get(v) for v in vols}
    pic.networks = [n["name"] for n in engine.labelled("network", label)]
    for img in engine.labelled("image", label):
        (pic.snapshots if img["name"].startswith(SNAPSHOT_REPO + "/") else pic.images).append(img["name"])
    if folder.exists():
        try:
            d = vmmod.load(name)
            for m in d.mounts:
                if vmmod.mount_state(m) == "phantom":
                    pic.warnings.append(f"mount source {m.source} is gone (phantom); it does not block destroy")
        except VmtempError as e:
            pic.warnings.append(e.message)
    return pic


def show(pic: Picture, keep_volumes: bool) -> None:
    say(f"temp VM {pic.name!r}: {pic.status}" + (f" ({pic.uptime})" if pic.uptime else ""))
    say(f"  container: {pic.container or '(none)'}")
    if pic.processes:
        say("  processes running inside (they will be killed):")
        for p in pic.processes:
            say(f"    pid {p.pid:<7} {p.user:<8} {p.elapsed:>10}  {p.command[:80]}")
    else:
        say("  processes running inside: none")
    for v, size in pic.volumes.items():
        action = "kept (--keep-volumes)" if keep_volumes else "deleted"
        say(f"  volume {v}: {human_size(size) if size is not None else 'size unknown'}, {action}")
    for n in pic.networks:
        say(f"  network {n}: deleted")
    for i in pic.images:
        say(f"  image {i}: deleted (vmtemp's own working image)")
    for s in pic.snapshots:
        say(f"  snapshot {s}: kept (remove with: vmtemp snapshot rm)")
    say(f"  compose folder {pic.folder}: deleted" if pic.folder else "  compose folder: (none)")
    for w in pic.warnings:
        warn(w)
    say("  host folders mounted into it are not touched.")


def remove(name: str, *, keep_volumes: bool, quick: bool) -> list[str]:
    """Remove everything of vmtemp's for this temp VM; return what remains (empty: all gone)."""
    remains: list[str] = []
    compose = paths.compose_file(name)
    if compose.exists():
        try:
            engine.compose_down(compose, names.project(name), volumes=not keep_volumes)
        except EngineError as e:
            note(f"docker compose down failed ({e.stderr_tail(1) or e.message}); removing by label instead")
    remains += engine.remove_labelled(name, volumes=not keep_volumes, images=False)
    own_images = [i["id"] for i in engine.labelled("image", f"{engine.LABEL_NAME}={name}")
                  if not i["name"].startswith(SNAPSHOT_REPO + "/")]
    try:
        engine.remove("image", own_images)
    except EngineError as e:
        remains.append(f"images: {e.stderr_tail(1)}")
    label = f"{engine.LABEL_NAME}={name}"
    for kind in ("container", "network") + (() if keep_volumes else ("volume",)):
        left = engine.labelled(kind, label)
        if left:
            remains.append(f"{kind}s still present: " + ", ".join(r["name"] for r in left))
    folder = paths.vm_dir(name)
    if folder.exists() and not remains:
        shutil.rmtree(folder)
    elif folder.exists():
        remains.append(f"folder {folder} kept so that the rest can still be removed")
    return sorted(set(remains))


def run(*, names_: list[str], all_: bool, yes: bool, force: bool, quick: bool, keep_volumes: bool,
        dry_run: bool) -> int:
    if all_ and names_:
        raise UsageError("give names or --all, not both", hint="vmtemp destroy --all")
    if all_:
        targets = paths.vm_names()
        if not targets:
            say("no temp VMs to destroy")
            return 0
    elif names_:
        targets = [names.validate(n) for n in names_]
        for n in targets:
            if not paths.vm_dir(n).exists() and not engine.list_containers(n):
                raise UsageError(f"no temp VM named {n!r}", hint="vmtemp list")
    else:
        targets = [names.resolve(None)]

    pictures = [gather(n) for n in targets]
    if not quick or dry_run:
        for pic in pictures:
            show(pic, keep_volumes)
    if dry_run:
        say("dry run: nothing was removed")
        return 0
    if not (yes or force or quick):
        what = ", ".join(repr(p.name) for p in pictures)
        prompts.confirm(f"Destroy temp VM {what}? This cannot be undone", flag="--yes")
    interrupts.install()
    failed = []
    for name in targets:
        with store.locked(name, "destroy"):
            remains = remove(name, keep_volumes=keep_volumes, quick=quick)
        store_result = "ok" if not remains else "incomplete: " + "; ".join(remains)
        audit.append(name, "destroy", result=store_result)
        if remains:
            failed.append(name)
            warn(f"{name}: could not remove everything: " + "; ".join(remains))
        else:
            success(f"temp VM {name!r} destroyed")
    if failed:
        raise OperationFailed(
            "some of vmtemp's resources remain for: " + ", ".join(failed),
            hint="see the lines above; then vmtemp gc, or vmtemp destroy --force " + " ".join(failed),
        )
    return 0
