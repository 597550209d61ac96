"""The small error hierarchy; each error knows its exit code and its hint.

Errors are raised anywhere and rendered once, in ``cli.main``:
``vmtemp: <message>`` then ``hint: <what to run next>``.
"""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
ENGINE = 3
BUSY = 4
NOT_CONFIRMED = 5
INTERRUPTED = 130


class VmtempError(Exception):
    exit_code = FAILED

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # extra lines (e.g. a stderr tail) shown under the message


class OperationFailed(VmtempError):
    exit_code = FAILED


class UsageError(VmtempError):
    """Bad usage or bad input: nothing was changed."""

    exit_code = USAGE


class EngineUnavailable(VmtempError):
    exit_code = ENGINE


class Busy(VmtempError):
    exit_code = BUSY


class NotConfirmed(VmtempError):
    exit_code = NOT_CONFIRMED


class Interrupted(VmtempError):
    exit_code = INTERRUPTED


class EngineError(OperationFailed):
    """A docker or docker compose command failed.

    ``command`` is the argv that ran, ``returncode`` its exit code and ``stderr``
    what it printed; ``transient`` says whether trying again may help.
    """

    def __init__(
        self,
        message: str,
        *,
        command: list[str],
        returncode: int | None,
        stderr: str,
        hint: str | None = None,
        transient: bool = False,
    ):
        super().__init__(message, hint)
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        self.transient = transient

    def stderr_tail(self, lines: int = 6) -> str:
        text = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return "\n".join(text[-lines:])
