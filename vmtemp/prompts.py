"""Every interactive question vmtemp asks, through questionary.

A prompt is shown only when stdin and stdout are terminals; otherwise the
documented flag is required (exit 5 naming it). EOF is never read as an answer,
and Ctrl-C at a prompt cancels (exit 130, nothing changed).
"""

from __future__ import annotations

import sys

from vmtemp.errors import Interrupted, NotConfirmed


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm(question: str, *, flag: str = "--yes", default: bool = False) -> None:
    """Ask yes/no; return on yes, raise NotConfirmed (exit 5) on no or without a terminal."""
    if not interactive():
        raise NotConfirmed(f"confirmation needed and no terminal to ask on: {question}", hint=f"pass {flag} to proceed")
    import questionary

    try:
        answer = questionary.confirm(question, default=default, auto_enter=False).unsafe_ask()
    except KeyboardInterrupt:
        raise Interrupted("cancelled at the prompt; nothing was changed") from None
    except EOFError:
        raise NotConfirmed("no answer given (end of input); nothing was changed", hint=f"pass {flag}") from None
    if not answer:
        raise NotConfirmed("declined; nothing was changed", hint=f"pass {flag} to proceed without asking")


def select(question: str, choices: list[str]) -> str:
    if not interactive():
        raise NotConfirmed(f"a choice is needed and there is no terminal to ask on: {question}",
                           hint="name it with -n NAME")
    import questionary

    try:
        answer = questionary.select(question, choices=choices).unsafe_ask()
    except KeyboardInterrupt:
        raise Interrupted("cancelled at the prompt; nothing was changed") from None
    except EOFError:
        raise NotConfirmed("no answer given (end of input)", hint="name it with -n NAME") from None
    if answer is None:
        raise NotConfirmed("nothing chosen", hint="name it with -n NAME")
    return answer
