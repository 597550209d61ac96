"""The mount path policy: which host folders a temp VM may see.

Applied to resolved paths (symlinks and '..' already gone), so a link into a
refused place is refused too. A refused path passes only with ``--allow-sensitive``
or through the config's allow list; the caller records either in the audit log.

Rules, in the order they are checked (the first that matches is named):

  root            the root folder /
  home            the whole home folder, and folders holding it (/home ...)
  credentials     ~/.ssh ~/.gnupg ~/.aws ~/.config/gcloud ~/.kube ~/.docker, and folders holding one
  state-folder    vmtemp's own state folder ($VMTEMP_HOME), and folders holding it
  config-folder   vmtemp's own config folder (it holds this policy), and folders holding it
  docker-socket   the Docker socket, and folders holding it (/run, /var/run ...)
  system-folder   /etc /usr /var /boot /proc /sys /dev /root /bin /sbin /lib*
  config-deny     a path in the config's ``policy: {deny: [...]}``

Config ($XDG_CONFIG_HOME/vmtemp/config.yaml)::

  policy:
    allow: [/etc/ssl/certs]     # these pass (audited as allowed by config)
    deny: [~/secrets]           # these are refused too
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from vmtemp import paths
from vmtemp.errors import UsageError
from vmtemp.mounts import has_control_chars

SYSTEM_DIRS = ("/etc", "/usr", "/var", "/boot", "/proc", "/sys", "/dev", "/root", "/bin", "/sbin", "/lib",
               "/lib32", "/lib64", "/libx32")
CREDENTIAL_DIRS = (".ssh", ".gnupg", ".aws", ".config/gcloud", ".kube", ".docker")
SOCKET_NAMES = ("docker.sock", "podman.sock", "containerd.sock")
KNOWN_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock",
                 "/run/containerd/containerd.sock")


@dataclass(frozen=True)
class Violation:
    rule: str  # the rule's id (see the module doc), shown and audited
    what: str  # what the path is, in words: "a system folder (/etc)"
    path: str  # the resolved path
    allowed_by: str | None = None  # "--allow-sensitive" or "config allow list (ENTRY)" when let through

    def describe(self) -> str:
        return f"{self.what} [policy rule: {self.rule}]"


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def _home() -> str | None:
    home = _real("~")
    return None if home == "/" else home


def _sockets() -> list[str]:
    """Paths of engine sockets vmtemp knows about (resolved)."""
    found = list(KNOWN_SOCKETS)
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        found.append(host[len("unix://"):])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        found.append(os.path.join(runtime, "docker.sock"))
    home = _home()
    if home:
        found.append(os.path.join(home, ".docker", "run", "docker.sock"))
    return [_real(s) for s in found if s]


def _is_socket_file(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def builtin_violation(path: str) -> Violation | None:
    """The first built-in rule that refuses path (already resolved), or None."""
    if path == "/":
        return Violation("root", "the root folder /", path)
    home = _home()
    if home:
        if path == home:
            return Violation("home", f"your whole home folder ({home})", path)
        if _under(home, path):
            return Violation("home", f"a folder that holds your home folder ({home})", path)
        for d in CREDENTIAL_DIRS:
            for cred in {os.path.join(home, d), _real(os.path.join(home, d))}:
                if _under(path, cred):
                    return Violation("credentials", f"the credential folder ~/{d}", path)
                if _under(cred, path) and os.path.lexists(cred):
                    return Violation("credentials", f"a folder that holds the credential folder ~/{d}", path)
    state = _real(str(paths.home()))
    if _under(path, state):
        return Violation("state-folder", f"vmtemp's own state folder ({state})", path)
    if _under(state, path):
        return Violation("state-folder", f"a folder that holds vmtemp's state folder ({state})", path)
    conf = _real(str(paths.config_dir()))
    if _under(path, conf):
        return Violation("config-folder", f"vmtemp's own config folder ({conf})", path)
    if _under(conf, path) and os.path.lexists(conf):
        return Violation("config-folder", f"a folder that holds vmtemp's config folder ({conf})", path)
    sockets = _sockets()
    if path in sockets or (os.path.basename(path) in SOCKET_NAMES and (_is_socket_file(path) or
                                                                      not os.path.isdir(path))):
        return Violation("docker-socket", "the Docker socket (root-equivalent access to the host)", path)
    for s in sockets:
        if _under(s, path) and path != s and os.path.lexists(s):
            return Violation("docker-socket", f"a folder that holds the Docker socket ({s})", path)
    if not (home and _under(path, home)):  # a home folder such as /root may hold projects
        for d in SYSTEM_DIRS:
            if _under(path, d) or _under(path, _real(d)):
                return Violation("system-folder", f"a system folder ({d})", path)
    return None


def rules(config: dict | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The config's (deny, allow) lists, checked: absolute or ~ paths, no control characters."""
    policy = (config or {}).get("policy")
    if policy is None:
        return (), ()
    where = str(paths.config_file())
    if not isinstance(policy, dict) or set(policy) - {"allow", "deny"}:
        raise UsageError(f"config {where}: 'policy' must be a mapping with 'allow' and/or 'deny' lists",
                         hint="policy: {allow: [/etc/ssl/certs], deny: [~/secrets]}")
    out = []
    for key in ("deny", "allow"):
        entries = policy.get(key) or []
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise UsageError(f"config {where}: policy.{key} must be a list of paths",
                             hint=f"policy: {{{key}: [/some/path]}}")
        for e in entries:
            shown = e.encode("unicode_escape").decode()
            if has_control_chars(e):
                raise UsageError(f"config {where}: policy.{key} entry {shown!r} contains a control character",
                                 hint=f"fix or remove that entry in {where}")
            if not (e.startswith("/") or e.startswith("~")):
                raise UsageError(f"config {where}: policy.{key} entry {shown!r} is not an absolute path",
                                 hint=f"write it as /full/path or ~/path in {where}")
        out.append(tuple(entries))
    return out[0], out[1]


def check(path: str, extra_deny: tuple[str, ...] = (), allow: tuple[str, ...] = ()) -> Violation | None:
    """The rule that refuses path (already resolved), or None. A violation the config's
    allow list lets through is returned with ``allowed_by`` set, so that it is audited."""
    v = builtin_violation(path)
    if v is None:
        for d in extra_deny:
            if _under(path, _real(d)):
                v = Violation("config-deny", f"denied by the config's policy.deny entry {d}", path)
                break
    if v is None:
        return None
    for a in allow:
        if _under(path, _real(a)):
            return Violation(v.rule, v.what, v.path, allowed_by=f"config allow list ({a})")
    return v


def enforce(path: str, spec: str, allowed: bool, config: dict | None = None) -> Violation | None:
    """Raise UsageError for a refused path unless allowed; return the violation that was
    let through (by --allow-sensitive or the config's allow list), or None."""
    deny, allow = rules(config)
    v = check(path, deny, allow)
    if v is None or v.allowed_by:
        return v
    if allowed:
        return Violation(v.rule, v.what, v.path, allowed_by="--allow-sensitive")
    shown = spec if len(spec) <= 200 else spec[:200] + "..."
    resolved = "" if os.path.normpath(os.path.expanduser(spec.split(":")[0])) == path else f" (resolves to {path})"
    raise UsageError(
        f"refusing to mount {shown!r}{resolved}: it is {v.describe()}",
        hint=f"mount a project folder instead; or, if you mean it, add --allow-sensitive (recorded in the "
             f"audit log) or list the path under policy.allow in {paths.config_file()}",
    )
