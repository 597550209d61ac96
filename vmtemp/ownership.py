"""Whose temp VM is it? Guards against acting on another user's temp VM by mistake.

A temp VM's owner is in its compose file (``x-vmtemp.owner``) and on its containers
(label ``dev.vmtemp.owner``). exec, enter, mount, unmount, protect and destroy refuse
another user's temp VM (exit 2) unless ``--force``; ``list`` hides them unless
``--all-users``. Docker access is root-equivalent: this guards against mistakes on a
shared engine, not against someone with Docker access who means harm.
"""

from __future__ import annotations

import getpass

from vmtemp.errors import UsageError, VmtempError


def current_user() -> str:
    return getpass.getuser()


def check(d, *, force: bool) -> None:
    owner = getattr(d, "owner", None)
    if owner and owner != current_user() and not force:
        raise UsageError(
            f"temp VM {d.name!r} belongs to {owner}, not to you ({current_user()})",
            hint="ask its owner, or pass --force if you really mean to act on it",
        )


def owner_of(name: str) -> str | None:
    """The owner from the compose file, else from the main container's label, else None."""
    from vmtemp import paths
    from vmtemp import vm as vmmod

    if paths.vm_dir(name).exists():
        try:
            return vmmod.load(name).owner
        except VmtempError:
            pass
    from vmtemp import engine

    for c in engine.list_containers(name):
        if c.is_main and c.owner:
            return c.owner
    return None


def mine(targets: list[str], *, force: bool, all_: bool) -> list[str]:
    """The targets the current user may act on. With --all, another user's temp VMs are
    skipped (and said so); named ones are refused (exit 2). --force takes them all."""
    if force:
        return targets
    me = current_user()
    keep = []
    for name in targets:
        owner = owner_of(name)
        if owner and owner != me:
            if not all_:
                raise UsageError(
                    f"temp VM {name!r} belongs to {owner}, not to you ({me})",
                    hint="ask its owner, or pass --force if you really mean to act on it",
                )
            from vmtemp.output import note

            note(f"skipping temp VM {name!r}: it belongs to {owner} (--force to include it)")
            continue
        keep.append(name)
    return keep
