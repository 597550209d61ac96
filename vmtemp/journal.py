"""The journal of a mount change in progress: what to undo after a crash.

Before a mount change touches anything it writes ``pending.json`` with the old and
the new compose file; it removes the journal when the change is done or rolled
back. A journal whose writer is dead means a half-done change: every command on
that temp VM reports it, and ``recover`` (run by ``vmtemp doctor --fix``) brings the
compose file and the container back into agreement.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from vmtemp import names, paths, store


def write(name: str, *, op: str, old: str, new: str, step: str, was_running: bool) -> None:
    data = {"op": op, "pid": os.getpid(), "started": time.time(), "step": step, "old": old, "new": new,
            "was_running": was_running}
    store.atomic_write(paths.pending_file(name), json.dumps(data))


def step(name: str, value: str) -> None:
    data = read(name)
    if data is not None:
        data["step"] = value
        store.atomic_write(paths.pending_file(name), json.dumps(data))


def read(name: str) -> dict[str, Any] | None:
    try:
        data = store.read_json(paths.pending_file(name))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.pending_file(name))
        store.fsync_dir(paths.vm_dir(name))


def stale(name: str) -> dict[str, Any] | None:
    """The journal of a change whose process is gone (a half-done change), or None."""
    data = read(name)
    if data is None:
        return None
    if store.pid_alive(int(data.get("pid", 0))) and data.get("pid") != os.getpid():
        return None
    return data


def describe(data: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(data.get("started", 0))))
    return f"a {data.get('op', 'mount')} change started {when} by pid {data.get('pid')} stopped at step '{data.get('step')}'"


def recover(name: str) -> str:
    """Bring the compose file and the container into agreement after a crash (lock held).

    The container decides: if it already runs the new definition, the new compose
    file is kept; otherwise the old file is restored and the container brought back
    from it (its files come from the live image, which holds the latest commit)."""
    from vmtemp import engine, verify
    from vmtemp import vm as vmmod

    data = read(name)
    if data is None:
        return "nothing to recover"
    compose = paths.compose_file(name)
    project = names.project(name)
    container = names.container(name)
    info = engine.inspect_container(container)
    chosen = "old"
    if info is not None:
        label = (info.get("Config") or {}).get("Labels", {}).get("com.docker.compose.config-hash", "")
        probe = compose.with_name(".compose.recover.yaml")
        try:
            store.atomic_write(probe, data["new"])
            if label and engine.config_hash(probe, project) == label:
                chosen = "new"
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(probe)
    store.atomic_write(compose, data[chosen])
    if data.get("was_running", True):
        engine.compose_up(compose, project, hint=f"vmtemp doctor -n {name}")
    else:
        engine.compose_create(compose, project, hint=f"vmtemp doctor -n {name}")
    d = vmmod.from_compose(name)
    if data.get("was_running", True):
        problems = verify.check(d.container, d.mounts)
        if problems:
            from vmtemp.errors import OperationFailed

            raise OperationFailed("after recovery the mounts still disagree: " + "; ".join(problems),
                                  hint=f"vmtemp doctor -n {name}")
    vmmod.save_cache(d)
    clear(name)
    kept = "the new mounts (the change had reached the container)" if chosen == "new" else "the mounts from before the change"
    return f"recovered {name}: kept {kept}"
