"""An undo stack: what an operation made is unmade, in reverse, when it fails."""

from __future__ import annotations

from collections.abc import Callable

from vmtemp import interrupts
from vmtemp.errors import VmtempError


class Undo:
    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def push(self, description: str, fn: Callable[[], object]) -> None:
        self._steps.append((description, fn))

    def clear(self) -> None:
        """The operation succeeded: nothing to undo."""
        self._steps.clear()

    def run(self) -> list[str]:
        """Unmake everything, newest first; return the steps that failed (with why)."""
        failures = []
        with interrupts.shielded():
            while self._steps:
                description, fn = self._steps.pop()
                try:
                    fn()
                except VmtempError as e:
                    failures.append(f"{description}: {e.message}")
                except OSError as e:
                    failures.append(f"{description}: {e}")
        return failures
