"""Whose temp VM is it? Guards against acting on another user's temp VM by mistake.

Docker access is root-equivalent: this guards against mistakes, not attackers.
"""

from __future__ import annotations

import getpass

from vmtemp.errors import UsageError


def current_user() -> str:
    return getpass.getuser()


def check(d, *, force: bool) -> None:
    owner = getattr(d, "owner", None)
    if owner and owner != current_user() and not force:
        raise UsageError(
            f"temp VM {d.name!r} belongs to {owner}, not to you ({current_user()})",
            hint="ask its owner, or pass --force if you really mean to act on it",
        )
