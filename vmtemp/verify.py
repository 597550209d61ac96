"""Check that a temp VM's container really has the mounts its compose file says.

Two views: the engine's (``docker inspect``: source, target, read-only flag) and
the container's own (``/proc/self/mountinfo`` and an access test, in one exec).
"""

from __future__ import annotations

import os

from vmtemp import engine
from vmtemp.mounts import Mount

_PROBE = (
    'for t; do if [ -e "$t" ]; then if [ -r "$t" ] && [ -x "$t" ]; then echo "ok $t"; '
    'else echo "noaccess $t"; fi; else echo "missing $t"; fi; done; echo "--mountinfo--"; cat /proc/self/mountinfo'
)


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def engine_mounts(info: dict) -> dict[str, tuple[str, bool]]:
    """target -> (source, rw) of the bind mounts the engine reports."""
    return {
        m["Destination"]: (m.get("Source", ""), bool(m.get("RW")))
        for m in info.get("Mounts") or []
        if m.get("Type") == "bind"
    }


def check(container: str, mounts: list[Mount], *, probe: bool = True, info: dict | None = None) -> list[str]:
    """Problems found, one line each; empty when all is well.

    The engine's view and the look inside are fetched at once (one inspect, one exec)."""
    targets = [m.target for m in mounts if m.type == "bind"]
    inside = None
    if info is None and probe and targets:
        info, inside = engine.in_parallel(
            lambda: engine.inspect_container(container),
            lambda: engine.exec_capture(container, ["sh", "-c", _PROBE, "vmtemp-probe", *targets],
                                        "checking mounts inside"),
        )
    elif info is None:
        info = engine.inspect_container(container)
    if info is None:
        return [f"container {container} does not exist"]
    state = (info.get("State") or {}).get("Status")
    if state != "running":
        return [f"container {container} is {state}, not running"]
    problems = []
    seen = engine_mounts(info)
    for m in mounts:
        if m.type != "bind":
            continue
        got = seen.get(m.target)
        if got is None:
            problems.append(f"{m.target}: not mounted in the container")
            continue
        source, rw = got
        if os.path.realpath(source) != m.source and source != m.source:
            problems.append(f"{m.target}: mounted from {source}, expected {m.source}")
        if rw != (m.mode == "rw"):
            problems.append(f"{m.target}: engine reports {'rw' if rw else 'ro'}, expected {m.mode}")
    if problems or not probe:
        return problems
    if not targets:
        return []
    proc = inside or engine.exec_capture(container, ["sh", "-c", _PROBE, "vmtemp-probe", *targets],
                                         "checking mounts inside")
    if proc.returncode != 0:
        return [f"could not look inside the container (exit {proc.returncode}): {proc.stderr.strip()[-200:]}"]
    access_part, _, mountinfo = proc.stdout.partition("--mountinfo--")
    for line in access_part.splitlines():
        word, _, target = line.partition(" ")
        if word != "ok":
            problems.append(f"{target}: {'not accessible' if word == 'noaccess' else 'missing'} inside the container")
    options = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 5:
            options[_unescape(fields[4])] = fields[5].split(",")
    for m in mounts:
        if m.type != "bind":
            continue
        opts = options.get(m.target)
        if opts is None:
            problems.append(f"{m.target}: not in the container's mount table")
        elif ("ro" in opts) != m.readonly:
            problems.append(f"{m.target}: the kernel has it {'ro' if 'ro' in opts else 'rw'}, expected {m.mode}")
    return problems
