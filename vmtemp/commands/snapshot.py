"""vmtemp snapshot save / list / restore / rm: snapshots of a temp VM's container.

A snapshot is an image ``vmtemp-snap/<name>:<tag>`` committed from the container (it
carries the container's labels, so it is found by label). Restore makes the
snapshot the temp VM's working image (``vmtemp-live/<name>:current``) and recreates
the container from it; the mounts stay as they are.
"""

from __future__ import annotations

import re
import time

from vmtemp import audit, engine, interrupts, names, paths, prompts, store, verify
from vmtemp import vm as vmmod
from vmtemp.errors import OperationFailed, UsageError, VmtempError
from vmtemp.output import print_json, say, success, table

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
REPO = "vmtemp-snap"


def _ref(name: str, tag: str) -> str:
    if not TAG_RE.match(tag):
        raise UsageError(f"invalid snapshot tag {tag!r}",
                         hint="use lowercase letters, digits, '.', '_' and '-' (e.g. before-upgrade)")
    return f"{REPO}/{name}:{tag}"


def snapshots(name: str) -> list[dict[str, str]]:
    proc = engine.run_docker(
        ["image", "ls", "--filter", f"label={engine.LABEL_NAME}={name}", "--filter", f"reference={REPO}/{name}:*",
         "--format", "{{.Tag}}\t{{.ID}}\t{{.CreatedAt}}\t{{.Size}}"], "listing snapshots")
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            out.append({"tag": parts[0], "id": parts[1], "created_at": parts[2], "size": parts[3]})
    return out


def save(*, name: str | None, tag: str | None) -> int:
    name = names.resolve(name)
    tag = tag or time.strftime("%Y%m%d-%H%M%S")
    ref = _ref(name, tag)
    interrupts.install()
    with store.locked(name, "snapshot save"):
        d = vmmod.load(name)
        if engine.inspect_container(d.container) is None:
            raise OperationFailed(f"temp VM {name!r} has no container to snapshot", hint=f"vmtemp start -n {name}")
        if any(s["tag"] == tag for s in snapshots(name)):
            raise UsageError(f"snapshot {tag!r} of {name!r} exists already", hint=f"vmtemp snapshot rm -n {name} {tag}")
        engine.commit(d.container, ref)
        audit.append(name, "snapshot save", result="ok", snapshot=tag)
    success(f"saved snapshot {tag!r} of {name!r} ({ref})")
    say(f"restore it with: vmtemp snapshot restore -n {name} {tag}")
    return 0


def list_(*, name: str | None, as_json: bool) -> int:
    name = names.resolve(name)
    found = snapshots(name)
    if as_json:
        print_json(found)
    elif not found:
        say(f"no snapshots of {name!r}; make one: vmtemp snapshot save -n {name} [TAG]")
    else:
        say(table(["TAG", "CREATED", "SIZE"], [[s["tag"], s["created_at"], s["size"]] for s in found]))
    return 0


def restore(*, name: str | None, tag: str, yes: bool) -> int:
    name = names.resolve(name)
    ref = _ref(name, tag)
    if not any(s["tag"] == tag for s in snapshots(name)):
        raise UsageError(f"no snapshot {tag!r} of {name!r}", hint=f"vmtemp snapshot list -n {name}")
    if not yes:
        prompts.confirm(f"Restore {name!r} to snapshot {tag!r}? What changed inside since then is lost", flag="--yes")
    interrupts.install()
    with store.locked(name, "snapshot restore"):
        d = vmmod.load(name)
        live = paths.live_image(name)
        previous = engine.image_id(live)
        compose = paths.compose_file(name)
        engine.tag(ref, live)
        try:
            engine.compose_up(compose, names.project(name), force_recreate=True, hint=f"vmtemp doctor -n {name}")
            problems = verify.check(d.container, d.mounts)
            if problems:
                raise OperationFailed("verification failed: " + "; ".join(problems), hint=f"vmtemp doctor -n {name}")
        except VmtempError as e:
            if previous:
                with interrupts.shielded():
                    engine.tag(previous, live)
                    engine.compose_up(compose, names.project(name), force_recreate=True)
            e.message = f"restoring {tag!r} failed: {e.message}; rolled back to the container's previous files"
            audit.append(name, "snapshot restore", result="rolled back", snapshot=tag)
            raise
        audit.append(name, "snapshot restore", result="ok", snapshot=tag)
    success(f"temp VM {name!r} restored to snapshot {tag!r}; mounts verified")
    return 0


def rm(*, name: str | None, tags: list[str]) -> int:
    name = names.resolve(name)
    known = {s["tag"] for s in snapshots(name)}
    refs = []
    for tag in tags:
        ref = _ref(name, tag)
        if tag not in known:
            raise UsageError(f"no snapshot {tag!r} of {name!r}", hint=f"vmtemp snapshot list -n {name}")
        refs.append(ref)
    engine.remove("image", refs, force=False)
    for tag in tags:
        audit.append(name, "snapshot rm", result="ok", snapshot=tag)
    success(f"removed snapshot(s) {', '.join(tags)} of {name!r}")
    return 0



