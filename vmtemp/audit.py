"""The audit log of everything that changes what a temp VM can see.

One JSON line per operation in $VMTEMP_HOME/audit.jsonl (0600), appended under a
lock: ``time user vm action source target mode result`` (null where they do not
apply) plus any extra fields, and three for the chain:

  seq    the entry's number, 1, 2, 3 ...
  prev   the previous entry's ``hash`` (64 zeros for the first)
  hash   SHA-256 of the entry itself without ``hash`` (sorted keys, compact JSON)

``audit.head`` holds the newest entry's number and hash, so removing entries at the
end is noticed too. ``verify`` names the first bad entry: edited (its hash does not
match), removed or reordered (numbers out of sequence), or edited with a recomputed
hash (the next entry's ``prev`` no longer matches).

The chain carries no secret: it shows mistakes and careless edits, not a determined
user who can run vmtemp's own code (see docs/security.md).
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
FIELDS = ("time", "user", "vm", "action", "source", "target", "mode", "result")


def log_path() -> Path:
    return paths.home() / "audit.jsonl"


def head_path() -> Path:
    """``SEQ HASH`` of the newest entry: removing the last lines breaks the match."""
    return paths.home() / "audit.head"


def lock_path() -> Path:
    return paths.home() / ".audit.lock"


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)


def _last_entry(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            chunk = 1 << 16
            while True:
                f.seek(max(0, size - chunk))
                lines = f.read().splitlines()
                if len(lines) > 1 or chunk >= size:
                    break
                chunk *= 4
    except FileNotFoundError:
        return None
    for raw in reversed(lines):
        if raw.strip():
            try:
                entry = json.loads(raw)
            except ValueError:
                return {"seq": None, "hash": None}
            return entry if isinstance(entry, dict) else {"seq": None, "hash": None}
    return None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def append(vm: str, action: str, *, result: str, source: str | None = None, target: str | None = None,
           mode: str | None = None, **extra: Any) -> dict[str, Any]:
    """Append one entry (under the audit lock, fsynced) and return it."""
    from filelock import FileLock

    paths.ensure_dir(paths.home())
    path = log_path()
    with FileLock(str(lock_path()), mode=0o600):
        last = _last_entry(path)
        if last is None:
            seq, prev = 1, GENESIS
        else:
            seq = last["seq"] + 1 if isinstance(last.get("seq"), int) else _count_lines(path) + 1
            prev = last.get("hash") if isinstance(last.get("hash"), str) else GENESIS
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "user": getpass.getuser(),
            "vm": vm,
            "action": action,
            "source": source,
            "target": target,
            "mode": mode,
            "result": result,
        }
        entry.update({k: v for k, v in extra.items() if k not in ("seq", "prev", "hash")})
        entry["seq"] = seq
        entry["prev"] = prev
        entry = json.loads(_line(entry))  # what will be read back, so the hash matches it
        entry["hash"] = _digest(entry)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(_line(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        store.atomic_write(head_path(), f"{seq} {entry['hash']}\n")
    return entry


def entries() -> list[dict[str, Any]]:
    """Every entry, oldest first; a line that is not JSON comes back as {"corrupt": line}."""
    try:
        text = log_path().read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        out.append(entry if isinstance(entry, dict) else {"corrupt": line})
    return out


def _head() -> tuple[int, str] | None:
    try:
        seq, _, digest = head_path().read_text(encoding="utf-8").strip().partition(" ")
        return int(seq), digest
    except (FileNotFoundError, ValueError):
        return None


def verify() -> tuple[int, int | None, str]:
    """(entries checked, 1-based number of the first bad entry or None, why)."""
    if not log_path().exists() and not head_path().exists():
        return 0, None, ""
    from filelock import FileLock

    with FileLock(str(lock_path()), mode=0o600):  # not between an append and its head
        return _verify()


def _verify() -> tuple[int, int | None, str]:
    try:
        raw = log_path().read_bytes()
    except FileNotFoundError:
        raw = b""
    lines = [line for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]
    prev = GENESIS
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            return n, n, "it is not valid JSON (the line was edited or cut)"
        if not isinstance(entry, dict):
            return n, n, "it is not a JSON object (the line was edited)"
        seq = entry.get("seq")
        if entry.get("hash") != _digest(entry):
            return n, n, "its content does not match its hash (the entry was edited)"
        if seq != n:
            if isinstance(seq, int) and seq > n:
                return n, n, f"it is entry {seq}: entry {n} was removed (or entries were moved)"
            return n, n, f"it is entry {seq}: entries were reordered or duplicated"
        if entry.get("prev") != prev:
            if n > 1:
                return n, n - 1, (f"entry {n} recorded another hash for it: entry {n - 1} was changed after "
                                  "it was written")
            return n, n, "the first entry does not start the chain (earlier entries were removed)"
        prev = entry["hash"]
    head = _head()
    if head is None:
        if lines or head_path().exists():
            return len(lines), max(len(lines), 1), f"{head_path()} is missing or unreadable"
        return 0, None, ""
    seq, digest = head
    if seq > len(lines):
        return len(lines), len(lines) + 1, (f"the log ends at entry {len(lines)} but entry {seq} was written "
                                            "(entries were removed at the end)")
    if seq < len(lines):
        return len(lines), seq + 1, (f"the newest entry vmtemp wrote is entry {seq} ({head_path()}); "
                                     "the entries after it were added by hand")
    if digest != prev:
        return len(lines), len(lines), f"it is not the newest entry recorded in {head_path()}"
    return len(lines), None, ""
