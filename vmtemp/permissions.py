"""Mode rules: smart read-only defaults, inheritance, read-only-by-default mode."""

from __future__ import annotations

import os
import posixpath

from vmtemp.mounts import Mount, MountRequest

SMART_RO = (".git", "node_modules", "vendor")


def _inside(child: str, parent: str) -> bool:
    return child != parent and child.startswith(parent.rstrip("/") + "/")


def default_mode(*, ro_default: bool, config: dict) -> str:
    return "ro" if ro_default or config.get("default_mode") == "ro" else "rw"


def apply_inheritance(pairs: list[tuple[MountRequest, Mount]], existing: list[Mount]) -> tuple[list[Mount], list[str]]:
    """A mount nested under a read-only mount defaults to ro; an explicit rw child of
    a read-only parent is kept rw but warned about. Returns (mounts, warnings)."""
    out, warnings = [], []
    everything = existing + [m for _, m in pairs]
    for req, m in pairs:
        parents = [p for p in everything if p is not m and p.type == "bind" and _inside(m.source, p.source)]
        ro_parent = next((p for p in parents if p.readonly), None)
        if ro_parent is not None:
            if req.mode is None:
                m = m.with_mode("ro")
            elif req.mode == "rw":
                warnings.append(
                    f"{m.source} is mounted rw inside read-only {ro_parent.source}: it is writable at {m.target}"
                )
        out.append(m)
    return out, warnings


def smart_ro(mounts: list[Mount], *, enabled: bool) -> tuple[list[Mount], list[str]]:
    """Nested read-only binds for .git, node_modules and vendor of rw project folders.
    Returns (the extra mounts, their targets)."""
    if not enabled:
        return [], []
    targets = {m.target for m in mounts}
    extra = []
    for m in mounts:
        if m.type != "bind" or m.readonly or not os.path.isdir(m.source):
            continue
        for sub in SMART_RO:
            src = os.path.join(m.source, sub)
            target = posixpath.join(m.target, sub)
            if os.path.exists(src) and target not in targets:
                extra.append(Mount(os.path.realpath(src), target, "ro"))
                targets.add(target)
    return extra, [e.target for e in extra]


def resolve_requests(
    short: list[str],
    long: list[str],
    *,
    default: str,
    allow_sensitive: bool,
    config: dict,
    existing: list[Mount] | None = None,
) -> tuple[list[Mount], list[str], list[tuple[Mount, str]]]:
    """Parse, resolve and police mount specs.

    Returns (mounts, warnings, allowed) where allowed lists the mounts that passed
    the sensitive-path policy only thanks to --allow-sensitive or the config's allow
    list, each with a line naming the rule and what let it through (for the audit log)."""
    from vmtemp import mounts as mountspec
    from vmtemp import policy

    requests = [mountspec.parse_short(s) for s in short] + [mountspec.parse_long(s) for s in long]
    pairs = []
    allowed = []
    for req in requests:
        v = None
        if req.type == "bind":  # the policy first, so that its message names the rule
            v = policy.enforce(mountspec.resolve_source(req.source), req.raw,
                               allow_sensitive or req.allow_sensitive, config)
        m = mountspec.resolve(req, default)
        pairs.append((req, m))
        if v is not None:
            allowed.append((m, f"{v.rule}: {v.what}; allowed by {v.allowed_by}"))
    resolved, warnings = apply_inheritance(pairs, list(existing or []))
    return resolved, warnings, allowed
