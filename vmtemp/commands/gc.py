"""vmtemp gc: orphans in both directions, found by label only, removed after confirmation.

- Engine resources (containers, volumes, networks, images) labelled
  ``dev.vmtemp.managed=true``, owned by the current user (``dev.vmtemp.owner``) and
  made from this state folder (``dev.vmtemp.home``; resources made before that label
  existed count as the default state folder's), whose temp VM folder is gone.
- Temp VM folders whose container is gone, unless a live vmtemp holds their lock
  (being created or changed) or a half-done change waits for ``vmtemp doctor``.

Resources of other tools (unlabelled), of other users and of other state folders are
never touched. Snapshot images are kept, as destroy keeps them.
"""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass

from vmtemp import audit, engine, interrupts, paths, prompts, store
from vmtemp.errors import Busy, Interrupted, OperationFailed, VmtempError
from vmtemp.output import human_size, note, say, success, table, warn

DAY = 24 * 3600
ENGINE_KINDS = ("container", "volume", "network", "image")
REMOVAL_ORDER = ("container", "network", "volume", "image")


@dataclass(frozen=True)
class Orphan:
    vm: str  # the temp VM it belonged to
    kind: str  # container | volume | network | image | folder
    name: str  # what the user sees
    ref: str  # what it is removed by
    size: int | None
    why: str


def busy(name: str) -> bool:
    """A live vmtemp holds this temp VM's lock (creating it, changing it)."""
    holder = store.read_holder(name)
    try:
        return bool(holder) and holder.get("pid") != os.getpid() and store.pid_alive(int(holder.get("pid", 0)))
    except (TypeError, ValueError):
        return False


def _folder_size(folder: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _folder_owner(name: str) -> str | None:
    try:
        from vmtemp import composefile

        return composefile.meta(composefile.load(paths.compose_file(name))).get("owner")
    except Exception:  # noqa: BLE001 - a broken file has no owner to read; the folder is in our state folder
        return None


def find(*, kinds: tuple[str, ...] = ENGINE_KINDS, measure: bool = True,
         only: set[str] | None = None) -> tuple[list[Orphan], list[engine.Resource]]:
    """(orphans, snapshot images of temp VMs that are gone - kept). ``only``: these temp VMs."""
    from vmtemp.commands.destroy import LIVE_REPO, classify_image

    me = getpass.getuser()
    home = str(paths.home())
    default = str(paths.default_home())
    resources = engine.inventory(kinds)
    folders = set(paths.vm_names())
    with_container = {r.vm for r in resources if r.kind == "container"}  # of any owner: the name is taken

    def mine(r: engine.Resource) -> bool:
        return r.owner == me and (r.home or default) == home and bool(r.vm) and (only is None or r.vm in only)

    orphans: list[Orphan] = []
    snapshots: list[engine.Resource] = []
    is_busy: dict[str, bool] = {}

    def busy_(name: str) -> bool:
        if name not in is_busy:
            is_busy[name] = busy(name)
        return is_busy[name]

    for r in resources:
        if not mine(r) or r.vm in folders or busy_(r.vm):
            continue
        if r.kind == "image":
            kind = classify_image(r.vm, r.name)
            if kind == "snapshot":
                snapshots.append(r)
            if kind != "own":
                continue
        orphans.append(Orphan(r.vm, r.kind, r.name, r.ref, r.size,
                              "no temp VM folder" + (f" ({r.state})" if r.kind == "container" else "")))
    if "container" in kinds:
        for name in sorted(folders - with_container):
            if (only is not None and name not in only) or busy_(name):
                continue
            if paths.pending_file(name).exists():
                continue  # a half-done change: vmtemp doctor recovers it
            owner = _folder_owner(name)
            if owner and owner != me:
                continue
            folder = str(paths.vm_dir(name))
            orphans.append(Orphan(name, "folder", folder, name, _folder_size(folder) if measure else None,
                                  "its container is gone"))
            left = [r for r in resources if r.vm == name and r.owner == me and r.kind != "container"]
            if "image" in kinds:  # its working-image tag, which may carry no labels (a tag of the base image)
                left += [r for r in engine.images_of_repo(f"{LIVE_REPO}/{name}") if r.name not in {x.name for x in left}]
            for r in left:
                if r.kind == "image" and classify_image(name, r.name) != "own":
                    continue
                orphans.append(Orphan(name, r.kind, r.name, r.ref, r.size, f"left by {name} (container gone)"))
    if measure:
        vols = [o.ref for o in orphans if o.kind == "volume"]
        if vols:
            sizes = engine.volume_sizes(vols)
            orphans = [Orphan(o.vm, o.kind, o.name, o.ref, sizes.get(o.ref), o.why) if o.kind == "volume" else o
                       for o in orphans]
    order = {k: i for i, k in enumerate(("folder", *REMOVAL_ORDER))}
    orphans.sort(key=lambda o: (o.vm, order.get(o.kind, 9), o.name))
    return orphans, snapshots


def show(orphans: list[Orphan]) -> None:
    rows = [[o.kind, o.name, o.vm, human_size(o.size) if o.size is not None else "-", o.why] for o in orphans]
    say("\n".join("  " + line for line in table(["KIND", "NAME", "TEMP VM", "SIZE", "WHY"], rows).splitlines()))


def _remove_engine_orphans(vm: str, items: list[Orphan]) -> list[str]:
    failures = []
    for kind in REMOVAL_ORDER:
        refs = [o.ref for o in items if o.kind == kind]
        if not refs:
            continue
        try:
            engine.remove(kind, refs, force=kind != "image")
        except VmtempError as e:
            failures.append(f"{kind}s of {vm}: {e.message}")
    return failures


def remove(orphans: list[Orphan]) -> list[str]:
    """Remove the orphans, each temp VM under its lock and checked again there; return what failed."""
    from vmtemp.commands import destroy

    failures: list[str] = []
    by_vm: dict[str, list[Orphan]] = {}
    for o in orphans:
        by_vm.setdefault(o.vm, []).append(o)
    for vm, items in by_vm.items():
        failed: list[str] = []
        try:
            with store.locked(vm, "gc", timeout=10):
                has_folder = paths.vm_dir(vm).exists()
                if any(o.kind == "folder" for o in items):
                    if engine.list_containers(vm):
                        note(f"skipping {vm}: it has a container again")
                        continue
                    failed = destroy.remove(vm, keep_volumes=False)
                elif has_folder:
                    note(f"skipping {vm}: its temp VM folder is back")
                    continue
                else:
                    failed = _remove_engine_orphans(vm, items)
        except Busy as e:
            failed = [f"{vm}: {e.message}"]
        audit.append(vm, "gc", result="ok" if not failed else "incomplete: " + "; ".join(failed),
                     removed=[f"{o.kind} {o.name}" for o in items])
        failures += failed
    return failures


def run(*, yes: bool, dry_run: bool) -> int:
    orphans, snapshots = find()
    if snapshots:
        note("kept: snapshot images of temp VMs that are gone: " + ", ".join(s.name for s in snapshots)
             + " (remove one with: docker image rm NAME)")
    if not orphans:
        say("no orphans: every resource vmtemp made belongs to a temp VM, and every temp VM has its container")
        return 0
    say(f"{len(orphans)} orphan(s): resources vmtemp made whose temp VM is gone, and temp VMs whose container is gone")
    show(orphans)
    say("  Host folders are not touched; resources without vmtemp's labels, or of other users, are not listed.")
    if dry_run:
        say("dry run: nothing was removed")
        return 0
    if not yes:
        prompts.confirm(f"Remove these {len(orphans)} orphan(s)? This cannot be undone", flag="--yes")
    interrupts.install()
    failures = remove(orphans)
    left, _ = find(measure=False, only={o.vm for o in orphans})
    wanted = {(o.kind, o.ref) for o in orphans}
    left = [o for o in left if (o.kind, o.ref) in wanted]
    if left or failures:
        for f in failures:
            warn(f)
        raise OperationFailed(
            f"{len(left)} orphan(s) could not be removed: " + ", ".join(o.name for o in left),
            hint="see the lines above; free what holds them (e.g. a container of another tool using a volume), "
                 "then run vmtemp gc again",
        )
    success(f"removed {len(orphans)} orphan(s)")
    return 0


def maybe_suggest() -> None:
    """After create: at most once a day, one quick look for orphans; one line if there are any."""
    stamp = paths.gc_stamp()
    try:
        if time.time() - stamp.stat().st_mtime < DAY:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        store.atomic_write(stamp, time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        orphans, _ = find(kinds=("container", "volume", "network"), measure=False)
    except Interrupted:
        raise
    except (VmtempError, OSError):
        return
    if orphans:
        vms = sorted({o.vm for o in orphans})
        shown = ", ".join(vms[:5]) + (", ..." if len(vms) > 5 else "")
        note(f"note: {len(orphans)} orphaned resource(s) of temp VMs that are gone or broken ({shown}); "
             "see and remove them: vmtemp gc")
