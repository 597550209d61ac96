"""vmtemp enter / exec: into a temp VM, with one direct `docker exec`."""

from __future__ import annotations

import os
import subprocess
import sys

from vmtemp import engine, names
from vmtemp import vm as vmmod
from vmtemp.errors import OperationFailed
from vmtemp.mounts import source_for_cwd
from vmtemp.output import note

LOGIN_SHELL = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi"


def _not_running_hint(d: vmmod.VmDef) -> None:
    """After a failed docker exec: say why, if the container is the reason (one inspect)."""
    info = engine.inspect_container(d.container)
    if info is None:
        raise OperationFailed(f"temp VM {d.name!r} has no container (status: missing)",
                              hint=f"recreate it: vmtemp start -n {d.name}")
    state = (info.get("State") or {}).get("Status")
    if state != "running":
        raise OperationFailed(f"temp VM {d.name!r} is not running (container {state})",
                              hint=f"vmtemp start -n {d.name}")


def _owner_check(d: vmmod.VmDef, force: bool) -> None:
    from vmtemp import ownership

    ownership.check(d, force=force)


def enter(*, name: str | None, workdir: str | None, user: str | None, replace_process: bool = True,
          force: bool = False) -> int:
    name = names.resolve(name)
    d = vmmod.load(name)
    _owner_check(d, force)
    if workdir is None:
        workdir = source_for_cwd(d.mounts, os.path.realpath(os.getcwd()))
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    state = engine.run_docker(["container", "inspect", "-f", "{{.State.Status}}", d.container],
                              "inspecting the container", check=False)
    if state.returncode != 0 or state.stdout.strip() != "running":
        _not_running_hint(d)
    argv = engine.exec_argv(d.container, ["sh", "-c", LOGIN_SHELL], workdir=workdir, user=user, tty=tty)
    if replace_process:
        sys.stdout.flush()
        os.execv(argv[0], argv)
    return subprocess.call(argv)


def exec_(*, name: str | None, workdir: str | None, command: list[str], user: str | None = None,
          force: bool = False) -> int:
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        from vmtemp.errors import UsageError

        raise UsageError("no command given", hint="vmtemp exec -- ls -la")
    name = names.resolve(name)
    d = vmmod.load(name)
    _owner_check(d, force)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    argv = engine.exec_argv(d.container, command, workdir=workdir, user=user, tty=tty)
    try:
        code = subprocess.call(argv)
    except KeyboardInterrupt:
        return 130
    if code in (1, 125, 126, 127):
        try:
            _not_running_hint(d)
        except OperationFailed as e:
            note(f"vmtemp: {e.message}\nhint: {e.hint}")
    return code
