"""Past mount sets per project folder ($VMTEMP_HOME/history.jsonl), for `vmtemp history`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from vmtemp import paths

MAX_BYTES = 1 << 20


def log_path() -> Path:
    return paths.home() / "history.jsonl"


def record(name: str, project_dir: str | None, mounts: list[dict[str, Any]], action: str) -> None:
    """Append one line (O_APPEND: whole lines, never interleaved); never fails the command."""
    try:
        path = log_path()
        if path.exists() and path.stat().st_size > MAX_BYTES:
            os.replace(path, path.with_suffix(".jsonl.1"))
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "name": name,
                           "project_dir": project_dir, "action": action, "mounts": mounts})
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:
        pass


def entries() -> list[dict[str, Any]]:
    out = []
    for p in (log_path().with_suffix(".jsonl.1"), log_path()):
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
