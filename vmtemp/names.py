"""Temp VM names: the rules, and which temp VM a command acts on."""

from __future__ import annotations

import os
import re
import sys

from vmtemp import paths
from vmtemp.errors import UsageError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PROJECT_PREFIX = "vmtemp-"


def validate(name: str) -> str:
    if not NAME_RE.match(name or ""):
        shown = name.encode("unicode_escape").decode() if name else ""
        raise UsageError(
            f"invalid temp VM name {shown!r}",
            hint="use 1-40 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    return name


def project(name: str) -> str:
    """The compose project name of a temp VM."""
    return PROJECT_PREFIX + name


def container(name: str) -> str:
    """The main container's name."""
    return PROJECT_PREFIX + name


def suggest_from(text: str) -> str:
    """A valid name derived from a folder name (for create without -n)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:40]
    return slug if slug and NAME_RE.match(slug) else "dev"


def resolve(name: str | None, *, must_exist: bool = True) -> str:
    """-n NAME, else $VMTEMP_NAME, else the only temp VM; else exit 2 (or a prompt on a terminal)."""
    if name is not None:
        validate(name)
    elif os.environ.get("VMTEMP_NAME"):
        name = validate(os.environ["VMTEMP_NAME"])
    else:
        existing = paths.vm_names()
        if len(existing) == 1:
            return existing[0]
        if not existing:
            raise UsageError("there is no temp VM yet", hint="vmtemp create ./src")
        if sys.stdin.isatty() and sys.stdout.isatty():
            from vmtemp import prompts

            return prompts.select("Which temp VM?", existing)
        raise UsageError(
            "several temp VMs exist: " + ", ".join(existing),
            hint=f"name one with -n NAME (e.g. vmtemp status -n {existing[0]}) or run 'vmtemp use NAME'",
        )
    if must_exist and not paths.vm_dir(name).is_dir():
        existing = paths.vm_names()
        known = f" (known: {', '.join(existing)})" if existing else ""
        raise UsageError(f"no temp VM named {name!r}{known}", hint="vmtemp list")
    return name
