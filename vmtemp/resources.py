"""Files shipped with vmtemp: shell scripts, completions, compose templates.

In a wheel they live in ``vmtemp/_data/``; in a source checkout they are the
folders at the repository root (``shell/``, ``completions/``, ``compose-templates/``).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """kind: 'shell', 'completions' or 'compose-templates'."""
    shipped = _PACKAGE / "_data" / kind
    if shipped.is_dir():
        return shipped
    return _PACKAGE.parent / kind


def read_text(kind: str, name: str) -> str:
    return (data_dir(kind) / name).read_text(encoding="utf-8")
