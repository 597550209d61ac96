"""The audit log of everything that changes what a temp VM can see.

One JSON line per operation in $VMTEMP_HOME/audit.jsonl (0600), appended under a
lock. Each entry holds the SHA-256 of the previous line (``prev``), so an edited,
removed or reordered entry breaks the chain and ``vmtemp audit --verify`` finds it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from vmtemp import paths, store

GENESIS = "0" * 64


def log_path() -> Path:
    return paths.home() / "audit.jsonl"


def head_path() -> Path:
    """The hash of the newest entry: removing the last lines breaks the match."""
    return paths.home() / "audit.head"


def _hash(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()


def _last_line(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    return lines[-1].decode() if lines else None


def append(vm: str, action: str, *, result: str, source: str | None = None, target: str | None = None,
           mode: str | None = None, **extra: Any) -> None:
    from filelock import FileLock

    paths.ensure_dir(paths.home())
    path = log_path()
    with FileLock(str(paths.home() / ".audit.lock"), mode=0o600):
        last = _last_line(path)
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": getpass.getuser(),
            "vm": vm,
            "action": action,
            "source": source,
            "target": target,
            "mode": mode,
            "result": result,
            **extra,
            "prev": _hash(last) if last else GENESIS,
        }
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        store.atomic_write(head_path(), _hash(json.dumps(entry, sort_keys=True)) + "\n")


def entries() -> list[dict[str, Any]]:
    try:
        text = log_path().read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"corrupt": line})
    return out


def verify() -> tuple[int, int | None, str]:
    """(entries checked, 1-based number of the first bad entry or None, why)."""
    try:
        lines = log_path().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0, None, ""
    prev = GENESIS
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            return n, n, "not valid JSON"
        if entry.get("prev") != prev:
            return n, n, "its link to the previous entry is broken (an entry was edited, removed or moved)"
        prev = _hash(line)
    try:
        head = head_path().read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        head = None
    if lines and head != prev:
        return len(lines), len(lines), "the newest entry is not the one last written (entries were removed at the end)"
    return len(lines), None, ""
