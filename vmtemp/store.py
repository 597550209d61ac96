"""Files on disk: atomic writes, the per-temp-VM lock, the state cache, the error log.

Every write goes to a temporary file in the same folder, is fsynced, renamed over
the target with ``os.replace`` and the folder is fsynced: a reader sees the old
file or the new one, never half of one. Every read-modify-write of a temp VM runs
inside ``locked(name)``, engine calls included.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vmtemp import paths
from vmtemp.errors import Busy

DEFAULT_LOCK_TIMEOUT = 60.0
ERROR_LOG_MAX = 1 << 20  # bytes before the error log rotates


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    raw = data.encode() if isinstance(data, str) else data
    folder = path.parent
    tmp = folder / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- locking -------------------------------------------------------------------


def lock_timeout() -> float:
    try:
        return float(os.environ.get("VMTEMP_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def read_holder(name: str) -> dict[str, Any] | None:
    try:
        data = read_json(paths.holder_file(name))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another vmtemp process"
    age = int(time.time() - float(holder.get("since", time.time())))
    return f"pid {holder.get('pid')} ({holder.get('command', 'vmtemp')}, for {age}s)"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(name: str, command: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the temp VM's lock for the whole block; exit 4 (Busy) past the wait."""
    from filelock import FileLock, Timeout  # only commands that change something pay for it

    paths.ensure_dir(paths.locks_dir())
    lock = FileLock(str(paths.lock_file(name)), mode=0o600)
    wait = lock_timeout() if timeout is None else timeout
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise Busy(
            f"temp VM {name!r} is busy: held by {describe_holder(read_holder(name))}",
            hint=f"wait for it to finish, or raise VMTEMP_LOCK_TIMEOUT (waited {wait:g}s)",
        ) from None
    try:
        atomic_write(
            paths.holder_file(name),
            json.dumps({"pid": os.getpid(), "command": command, "since": time.time()}),
        )
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(paths.holder_file(name))
        lock.release()


# --- the error log --------------------------------------------------------------


def log_error(record: dict[str, Any]) -> Path | None:
    """Append one JSON line to the error log (rotated past ERROR_LOG_MAX). Never raises."""
    try:
        paths.ensure_dir(paths.logs_dir())
        log = paths.error_log()
        with contextlib.suppress(FileNotFoundError):
            if log.stat().st_size > ERROR_LOG_MAX:
                os.replace(log, log.with_suffix(".jsonl.1"))
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pid": os.getpid(),
                  "argv": sys.argv[1:], **record}
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
        return log
    except OSError:
        return None
