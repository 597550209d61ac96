"""Mount specs: parsing (short and long form), resolution of host paths, targets.

Pure functions and two small named tuples; no engine, no YAML.
"""

from __future__ import annotations

import os
import posixpath
from typing import NamedTuple

from vmtemp.errors import UsageError

WORKSPACE = "/workspace"
MODES = ("ro", "rw")
TYPES = ("bind", "nfs", "sync")
# Targets a mount may never cover (the container would not work, or would lie).
FORBIDDEN_TARGETS = ("/", "/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/boot")
FORBIDDEN_TARGET_PREFIXES = ("/lib",)


class Mount(NamedTuple):
    source: str  # absolute host path with symlinks resolved (nfs: "server:/export")
    target: str  # absolute path in the container
    mode: str = "rw"  # "ro" | "rw"
    type: str = "bind"  # "bind" | "nfs" | "sync"

    @property
    def readonly(self) -> bool:
        return self.mode == "ro"

    def with_mode(self, mode: str) -> Mount:
        return self._replace(mode=mode)

    def to_json(self) -> dict[str, str]:
        return dict(self._asdict())

    def spec(self) -> str:
        return f"{self.source}:{self.target}:{self.mode}"


class MountRequest(NamedTuple):
    """A mount as the user wrote it, before its source is resolved."""

    raw: str
    source: str
    target: str | None
    mode: str | None  # None: the default applies
    type: str = "bind"
    allow_sensitive: bool = False


def has_control_chars(text: str) -> bool:
    """Newline, tab, NUL, escape... anything below space, and DEL."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def reject_control_chars(text: str, what: str) -> None:
    if has_control_chars(text):
        raise UsageError(
            f"{what} contains a control character (newline, tab, NUL...): {text.encode('unicode_escape').decode()!r}",
            hint="rename the folder, or mount a parent folder without such characters",
        )


def parse_short(spec: str) -> MountRequest:
    """SOURCE[:TARGET][:ro|rw]"""
    reject_control_chars(spec, "mount spec")
    parts = spec.split(":")
    source, target, mode = parts[0], None, None
    rest = parts[1:]
    if rest and rest[-1] in MODES:
        mode = rest.pop()
    if len(rest) == 1:
        target = rest[0]
    elif len(rest) > 1:
        raise UsageError(
            f"cannot read mount spec {spec!r}: expected SOURCE[:TARGET][:ro|rw]",
            hint="for a path that contains ':' use --mount type=bind,source=PATH,target=/workspace/NAME",
        )
    if target is not None and not target.startswith("/"):
        if len(parts) == 2 and target and not target.startswith("/"):
            raise UsageError(
                f"bad mount spec {spec!r}: {target!r} is neither ro/rw nor an absolute container path",
                hint=f"write {source}:ro, {source}:rw or {source}:/workspace/NAME",
            )
        raise UsageError(
            f"bad mount spec {spec!r}: the target must be an absolute path in the container",
            hint=f"e.g. {source or 'SOURCE'}:/workspace/{posixpath.basename(source.rstrip('/')) or 'NAME'}",
        )
    if not source:
        raise UsageError(f"bad mount spec {spec!r}: the source is empty", hint="e.g. vmtemp create ./src ./docs:ro")
    return MountRequest(raw=spec, source=source, target=target, mode=mode)


def parse_long(spec: str) -> MountRequest:
    """type=bind|nfs|sync,source=…,target=…[,readonly]"""
    reject_control_chars(spec, "mount spec")
    fields: dict[str, str] = {}
    readonly: bool | None = None
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro"):
            if eq and value.lower() not in ("true", "1", "false", "0"):
                raise UsageError(f"bad --mount value {item!r}", hint="write readonly or readonly=true|false")
            readonly = not eq or value.lower() in ("true", "1")
        elif key in ("type", "source", "src", "target", "dst", "destination") and eq:
            key = {"src": "source", "dst": "target", "destination": "target"}.get(key, key)
            if key in fields:
                raise UsageError(f"--mount {spec!r} gives {key} twice", hint="give each field once")
            fields[key] = value
        else:
            raise UsageError(
                f"unknown --mount field {item!r}",
                hint="--mount type=bind,source=PATH,target=/workspace/NAME[,readonly]",
            )
    mtype = fields.get("type", "bind")
    if mtype not in TYPES:
        raise UsageError(f"unknown mount type {mtype!r}", hint="type is one of: bind, nfs, sync")
    if not fields.get("source"):
        raise UsageError(f"--mount {spec!r} has no source", hint="add source=PATH")
    target = fields.get("target")
    if target is not None and not target.startswith("/"):
        raise UsageError(f"--mount target {target!r} is not an absolute path", hint="e.g. target=/workspace/NAME")
    mode = None if readonly is None else ("ro" if readonly else "rw")
    return MountRequest(raw=spec, source=fields["source"], target=target, mode=mode, type=mtype)


def check_target(target: str, spec: str) -> str:
    reject_control_chars(target, "mount target")
    parts = target.split("/")
    if ".." in parts or "." in parts[1:]:
        raise UsageError(
            f"mount target {target!r} contains '.' or '..'", hint="give a plain absolute path such as /workspace/NAME"
        )
    if len(target.encode()) > 1024 or any(len(p.encode()) > 255 for p in parts):
        raise UsageError(f"mount target {target[:60]!r}... is too long (at most 1024 bytes, 255 per name)",
                         hint="give a short container path such as /workspace/NAME")
    norm = "/" + posixpath.normpath(target).lstrip("/")  # '//etc' is /etc
    if norm in FORBIDDEN_TARGETS or any(
        norm == p or norm.startswith(p) and "/" not in norm[len(p):] for p in FORBIDDEN_TARGET_PREFIXES
    ) or any(norm.startswith(t + "/") for t in ("/proc", "/sys", "/dev")):
        raise UsageError(
            f"mount {spec!r} would cover the container's system folder {norm}",
            hint="mount under /workspace instead (the default)",
        )
    return norm


def resolve_source(path: str, cwd: str | None = None) -> str:
    """Expand ~, make absolute against cwd, resolve symlinks; must exist."""
    expanded = os.path.expanduser(path)
    if len(expanded.encode()) > 4000:
        raise UsageError("mount source path is too long", hint="mount a shorter path (or a parent folder)")
    absolute = os.path.join(cwd or os.getcwd(), expanded)
    real = os.path.realpath(absolute)
    if not os.path.exists(real):
        shown = path if real == os.path.normpath(absolute) else f"{path} (-> {real})"
        raise UsageError(f"mount source {shown} does not exist", hint=f"create it first: mkdir -p {path}")
    reject_control_chars(real, "mount source")
    return real


def default_target(source: str) -> str:
    base = posixpath.basename(source.rstrip("/"))
    if not base or base in (".", ".."):
        raise UsageError(f"cannot derive a container path for {source!r}", hint="give one: SOURCE:/workspace/NAME")
    return f"{WORKSPACE}/{base}"


def resolve(request: MountRequest, default_mode: str = "rw", cwd: str | None = None) -> Mount:
    if request.type == "sync":
        raise UsageError(
            "sync mounts are not supported yet",
            hint=f"use a bind mount: --mount type=bind,source={request.source},target=...",
        )
    if request.type == "nfs":
        if ":" not in request.source:
            raise UsageError(f"nfs source {request.source!r} must be SERVER:/EXPORT", hint="source=nas.local:/export/src")
        source = request.source
        target = request.target or default_target(source.split(":", 1)[1])
    else:
        source = resolve_source(request.source, cwd)
        target = request.target or default_target(source)
    target = check_target(target, request.raw)
    return Mount(source=source, target=target, mode=request.mode or default_mode, type=request.type)


def check_unique_targets(mounts: list[Mount]) -> None:
    seen: dict[str, Mount] = {}
    for m in mounts:
        if m.target in seen:
            other = seen[m.target]
            raise UsageError(
                f"two mounts share the target {m.target}: {other.source} and {m.source}",
                hint=f"give one a target of its own, e.g. {m.source}:{m.target}-2",
            )
        seen[m.target] = m


def source_for_cwd(mounts: list[Mount], cwd: str) -> str | None:
    """The container path that shows the host folder cwd, if a bind mount covers it."""
    best: tuple[int, str] | None = None
    for m in mounts:
        if m.type != "bind":
            continue
        if cwd == m.source or cwd.startswith(m.source.rstrip("/") + "/"):
            rel = os.path.relpath(cwd, m.source)
            path = m.target if rel == "." else posixpath.join(m.target, rel)
            if best is None or len(m.source) > best[0]:
                best = (len(m.source), path)
    return best[1] if best else None
