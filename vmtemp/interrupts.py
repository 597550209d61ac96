"""Ctrl-C, SIGTERM and SIGHUP during commands that change things.

A signal becomes ``Interrupted`` (exit 130) so the undo stack runs. While an
engine call is in flight the signal is held until the call returns, so cleanup
never races a half-started ``docker compose``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from vmtemp.errors import Interrupted

_state = {"critical": 0, "pending": None, "installed": False}


def _raise(signum: int) -> None:
    name = signal.Signals(signum).name
    raise Interrupted(f"interrupted by {name}")


def _handler(signum: int, _frame: object) -> None:
    if _state["critical"]:
        _state["pending"] = signum
        return
    _raise(signum)


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP through Interrupted (idempotent)."""
    if _state["installed"]:
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _handler)
    _state["installed"] = True


def check() -> None:
    """Raise now for a signal that arrived during a critical section."""
    signum = _state["pending"]
    if signum is not None and not _state["critical"]:
        _state["pending"] = None
        _raise(signum)


@contextlib.contextmanager
def critical() -> Iterator[None]:
    _state["critical"] += 1
    try:
        yield
    finally:
        _state["critical"] -= 1
    check()


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """For cleanup: hold every signal until the block ends, then drop it
    (the cleanup is what the user's interrupt asked for)."""
    _state["critical"] += 1
    try:
        yield
    finally:
        _state["critical"] -= 1
        _state["pending"] = None
