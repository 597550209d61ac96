"""vmtemp start / stop / restart / logs."""

from __future__ import annotations

import os

from vmtemp import engine, interrupts, names, paths, store, verify
from vmtemp import vm as vmmod
from vmtemp.errors import OperationFailed
from vmtemp.output import note, success, warn


def _verify_or_fail(d: vmmod.VmDef, action: str) -> None:
    problems = verify.check(d.container, d.mounts)
    if problems:
        raise OperationFailed(
            f"{action} of {d.name!r} done, but the mounts do not match the compose file: " + "; ".join(problems),
            hint=f"vmtemp doctor -n {d.name}",
        )


def start(*, name: str | None) -> int:
    name = names.resolve(name)
    interrupts.install()
    with store.locked(name, "start"):
        d = vmmod.load(name)
        compose = paths.compose_file(name)
        info = engine.inspect_container(d.container)
        for m in d.mounts:
            if vmmod.mount_state(m) == "phantom":
                raise OperationFailed(
                    f"mount source {m.source} is gone, so the container cannot start with it",
                    hint=f"remove it: vmtemp unmount -n {name} {m.source}   (or recreate the folder)",
                )
        if info is None:
            note(f"the container of {name!r} is gone; recreating it from {compose}")
            engine.compose_up(compose, names.project(name), hint=f"vmtemp doctor -n {name}")
        elif (info.get("State") or {}).get("Status") == "running":
            success(f"temp VM {name!r} is already running")
            _verify_or_fail(d, "start")
            return 0
        else:
            engine.compose_lifecycle("start", compose, names.project(name), hint=f"vmtemp doctor -n {name}")
        _verify_or_fail(d, "start")
        vmmod.save_cache(d)
    success(f"temp VM {name!r} is running; mounts verified")
    return 0


def stop(*, name: str | None) -> int:
    name = names.resolve(name)
    interrupts.install()
    with store.locked(name, "stop"):
        d = vmmod.load(name)
        if engine.inspect_container(d.container) is None:
            warn(f"temp VM {name!r} has no container; nothing to stop")
            return 0
        engine.compose_lifecycle("stop", paths.compose_file(name), names.project(name),
                                 hint=f"vmtemp status -n {name}")
    success(f"temp VM {name!r} is stopped")
    return 0


def restart(*, name: str | None) -> int:
    name = names.resolve(name)
    interrupts.install()
    with store.locked(name, "restart"):
        d = vmmod.load(name)
        if engine.inspect_container(d.container) is None:
            raise OperationFailed(f"temp VM {name!r} has no container", hint=f"vmtemp start -n {name}")
        engine.compose_lifecycle("restart", paths.compose_file(name), names.project(name),
                                 hint=f"vmtemp status -n {name}")
        _verify_or_fail(d, "restart")
    success(f"temp VM {name!r} restarted; mounts verified")
    return 0


def logs(*, name: str | None, follow: bool) -> int:
    name = names.resolve(name)
    d = vmmod.load(name)
    argv = [engine.docker_exe(), "logs", *(["-f"] if follow else []), d.container]
    os.execv(argv[0], argv)
    return 0  # not reached
