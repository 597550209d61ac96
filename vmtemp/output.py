"""What the user sees: messages, aligned tables, JSON, colour (NO_COLOR honoured)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any


def _color_ok(stream) -> bool:
    return "NO_COLOR" not in os.environ and stream.isatty() and os.environ.get("TERM") != "dumb"


def style(text: str, code: str, stream=None) -> str:
    stream = stream or sys.stdout
    return f"\033[{code}m{text}\033[0m" if _color_ok(stream) else text


def bold(text: str) -> str:
    return style(text, "1")


def say(text: str = "") -> None:
    print(text, flush=True)


def note(text: str) -> None:
    """Progress and side remarks: stderr, so stdout stays clean for scripts."""
    print(text, file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(style("warning:", "33", sys.stderr) + " " + text, file=sys.stderr, flush=True)


def success(text: str) -> None:
    print(style("✓", "32") + " " + text if _color_ok(sys.stdout) else text, flush=True)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        line = "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()
        lines.append(bold(line) if n == 0 else line)
    return "\n".join(lines)


def human_age(seconds: float) -> str:
    s = int(max(seconds, 0))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1000
    return f"{n}B"
