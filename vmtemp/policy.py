"""The mount path policy: which host folders a temp VM may see.

Applied to resolved paths (symlinks and '..' already gone), so a link into a
refused place is refused too. ``--allow-sensitive`` (or the config's allow list)
lets a refused path through; the caller records that in the audit log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vmtemp import paths
from vmtemp.errors import UsageError

SYSTEM_DIRS = ("/etc", "/usr", "/var", "/boot", "/proc", "/sys", "/dev", "/root", "/bin", "/sbin", "/lib",
               "/lib32", "/lib64", "/libx32")
CREDENTIAL_DIRS = (".ssh", ".gnupg", ".aws", ".config/gcloud", ".kube", ".docker")


@dataclass(frozen=True)
class Violation:
    rule: str  # short rule name, shown and audited
    path: str


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def check(path: str, extra_deny: tuple[str, ...] = (), allow: tuple[str, ...] = ()) -> Violation | None:
    """The first rule that refuses path (already resolved), or None."""
    if any(_under(path, _real(a)) for a in allow):
        return None
    home = _real("~")
    if path == "/":
        return Violation("the root folder", path)
    for d in CREDENTIAL_DIRS:
        if _under(path, os.path.join(home, d)):
            return Violation(f"credential folder ~/{d}", path)
    if _under(path, _real(str(paths.home()))):
        return Violation("vmtemp's own state folder", path)
    if os.path.basename(path) == "docker.sock" or path == _real("/var/run/docker.sock"):
        return Violation("the Docker socket", path)
    if path == home:
        return Violation("your whole home folder", path)
    if _under(home, path):
        return Violation("a folder that holds your home folder", path)
    if not _under(path, home):  # a home folder such as /root may hold projects
        for d in SYSTEM_DIRS:
            if _under(path, d) or _under(path, _real(d)):
                return Violation(f"system folder {d}", path)
    for d in extra_deny:
        if _under(path, _real(d)):
            return Violation(f"config deny rule {d}", path)
    return None


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def enforce(path: str, spec: str, allowed: bool, config: dict | None = None) -> Violation | None:
    """Raise UsageError for a refused path unless allowed; return the violation that was allowed."""
    config = config or {}
    policy = config.get("policy") or {}
    v = check(path, tuple(policy.get("deny") or ()), tuple(policy.get("allow") or ()))
    if v is None:
        return None
    if allowed:
        return v
    raise UsageError(
        f"refusing to mount {spec!r}: {v.path} is {v.rule}",
        hint="mount a project folder instead, or pass --allow-sensitive (recorded in the audit log)",
    )
