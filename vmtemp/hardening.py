"""What a temp VM's compose file asks of the host beyond the hardened default.

The built-in templates drop every capability but the few a dev shell needs
(``DOCUMENTED_CAPS``, see docs/security.md), set ``no-new-privileges`` and use no
host namespaces, devices or engine socket. A template (or a hand edit) may ask for
more, but only explicitly: ``extra_privileges`` lists every such ask, and
``vmtemp status`` and ``vmtemp create`` show them as warnings.

Bind mounts a template brings for its other services pass the same path policy as
the user's own mounts, and in read-only-by-default mode they are made read-only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vmtemp import policy
from vmtemp.errors import UsageError

MAIN_SERVICE = "vm"
# What a dev shell running as the user needs: chown/chmod files it owns in volumes,
# write where file modes say otherwise (DAC_OVERRIDE, FOWNER, FSETID), signal its own
# processes, switch user (su/sudo/gosu inside), and bind ports below 1024.
DOCUMENTED_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE")
HOST_NAMESPACES = (("network_mode", "the host's network"), ("pid", "the host's process namespace"),
                   ("ipc", "the host's IPC namespace"), ("uts", "the host's UTS namespace"),
                   ("userns_mode", "the host's user namespace"), ("cgroup", "the host's cgroup namespace"))


def _caps(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(c).upper().removeprefix("CAP_") for c in value]


def _bind(entry: Any, base: Path) -> tuple[str, str, str | None] | None:
    """(source as written, target, explicit mode or None) of a bind mount entry, else None."""
    if isinstance(entry, str):
        parts = entry.split(":")
        if len(parts) < 2 or not parts[0].startswith((".", "/", "~")):
            return None  # an anonymous or named volume
        opts = parts[2].split(",") if len(parts) > 2 else []
        mode = "ro" if "ro" in opts else "rw" if "rw" in opts else None
        return parts[0], parts[1], mode
    if isinstance(entry, dict) and entry.get("type", "volume") == "bind":
        ro = entry.get("read_only")
        return str(entry.get("source", "")), str(entry.get("target", "")), None if ro is None else (
            "ro" if ro else "rw")
    return None


def _resolve(source: str, base: Path) -> str:
    return os.path.realpath(os.path.join(base, os.path.expanduser(source)))


def _services(doc: Any) -> list[tuple[str, dict]]:
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict):
        return []
    return [(str(n), s) for n, s in services.items() if isinstance(s, dict)]


def extra_privileges(doc: Any, base: Path, *, main_binds: bool = True) -> list[str]:
    """One line per privilege a compose file grants beyond the hardened default
    (main_binds=False: leave out the main service's bind mounts, the user's own)."""
    found = []
    for name, svc in _services(doc):
        who = f"service {name!r}"
        if svc.get("privileged") in (True, "true", "True"):
            found.append(f"{who} runs privileged (every capability, every host device)")
        extra = [c for c in _caps(svc.get("cap_add")) if c not in DOCUMENTED_CAPS]
        if extra:
            found.append(f"{who} adds capabilities beyond the documented set: {', '.join(extra)}")
        if "ALL" not in _caps(svc.get("cap_drop")):
            found.append(f"{who} keeps Docker's default capabilities (no cap_drop: [ALL])")
        opts = [str(o).replace("=", ":") for o in svc.get("security_opt") or [] if o is not None]
        if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in opts):
            found.append(f"{who} allows privilege escalation (no security_opt no-new-privileges:true)")
        for o in opts:
            if "unconfined" in o or o == "label:disable":
                found.append(f"{who} turns off a confinement: security_opt {o}")
        for key, what in HOST_NAMESPACES:
            if str(svc.get(key, "")) == "host":
                found.append(f"{who} shares {what} ({key}: host)")
        if svc.get("devices"):
            found.append(f"{who} has host devices: {', '.join(str(d) for d in svc['devices'])}")
        for entry in svc.get("volumes") or []:
            if name == MAIN_SERVICE and not main_binds:
                break
            b = _bind(entry, base)
            if b is None:
                continue
            real = _resolve(b[0], base)
            v = policy.builtin_violation(real)
            if v is not None and v.rule == "docker-socket":
                found.append(f"{who} mounts the Docker socket {real} (root-equivalent access to the host)")
            elif v is not None:
                found.append(f"{who} mounts {real}: {v.describe()}")
    return found


def template_binds(doc: Any, base: Path) -> list[tuple[str, int, str, str, str | None]]:
    """(service, index, resolved source, target, explicit mode) of the bind mounts of every
    service but the main one (whose mounts are vmtemp's own)."""
    out = []
    for name, svc in _services(doc):
        if name == MAIN_SERVICE:
            continue
        for i, entry in enumerate(svc.get("volumes") or []):
            b = _bind(entry, base)
            if b is not None:
                out.append((name, i, _resolve(b[0], base), b[1], b[2]))
    return out


def force_read_only(doc: Any, base: Path) -> list[str]:
    """Read-only-by-default mode: make every template bind mount read-only. Returns
    'service: target' for each one changed."""
    changed = []
    for name, i, _source, target, mode in template_binds(doc, base):
        if mode == "ro":
            continue
        volumes = doc["services"][name]["volumes"]
        entry = volumes[i]
        if isinstance(entry, str):
            parts = entry.split(":")
            opts = [o for o in (parts[2].split(",") if len(parts) > 2 else []) if o and o != "rw"]
            volumes[i] = ":".join(parts[:2] + [",".join(["ro", *opts])])
        else:
            entry["read_only"] = True
        changed.append(f"{name}: {target}")
    return changed


def police_binds(doc: Any, base: Path, *, template: str, allow_sensitive: bool,
                 config: dict) -> list[tuple[str, str, str, str, str]]:
    """Apply the path policy to a template's bind mounts: raise UsageError for a refused one,
    return (service, source, target, mode, rule) for each let through (to be audited)."""
    deny, allow = policy.rules(config)
    allowed = []
    for name, _i, source, target, mode in template_binds(doc, base):
        v = policy.check(source, deny, allow)
        if v is None:
            continue
        if not v.allowed_by and not allow_sensitive:
            raise UsageError(
                f"template {template!r} mounts {source} into service {name!r}: it is {v.describe()}",
                hint="use another template, or pass --allow-sensitive (recorded in the audit log)",
            )
        by = v.allowed_by or "--allow-sensitive"
        allowed.append((name, source, target, mode or "rw", f"{v.rule}: {v.what}; allowed by {by}; template {template}"))
    return allowed
