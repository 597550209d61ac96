"""The one place that knows where vmtemp keeps things.

State:   $VMTEMP_HOME, else $XDG_STATE_HOME/vmtemp, else ~/.local/state/vmtemp
           <name>/compose.yaml   the temp VM's compose file (the truth)
           <name>/state.json     a cache of what list, status and completion need
           <name>/mounts.list    target<TAB>source<TAB>mode lines, for tab completion
           .locks/<name>.lock    the temp VM's lock (+ .holder: who holds it)
           logs/errors.jsonl     one JSON line per failure
Config:  $XDG_CONFIG_HOME/vmtemp/config.yaml, templates in .../templates/
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vmtemp.errors import UsageError

COMPOSE_FILE = "compose.yaml"
STATE_FILE = "state.json"
MOUNTS_INDEX = "mounts.list"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def home() -> Path:
    """The state folder (not created here)."""
    value = os.environ.get("VMTEMP_HOME")
    if value:
        return Path(os.path.abspath(os.path.expanduser(value)))
    return default_home()


def default_home() -> Path:
    """The state folder when VMTEMP_HOME is not set (engine resources without a
    dev.vmtemp.home label are counted as this folder's)."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "vmtemp"


def gc_stamp() -> Path:
    """Touched when create last looked for orphans (at most once a day)."""
    return home() / ".gc-check"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "vmtemp"


def config_file() -> Path:
    return config_dir() / "config.yaml"


def user_templates_dir() -> Path:
    return config_dir() / "templates"


def vm_dir(name: str) -> Path:
    return home() / name


def compose_file(name: str) -> Path:
    return vm_dir(name) / COMPOSE_FILE


def state_file(name: str) -> Path:
    return vm_dir(name) / STATE_FILE


def mounts_index(name: str) -> Path:
    return vm_dir(name) / MOUNTS_INDEX


def pending_file(name: str) -> Path:
    """The journal of a mount change in progress (present only while one runs, or after a crash)."""
    return vm_dir(name) / "pending.json"


def queue_dir(name: str) -> Path:
    """Mount change requests waiting to be applied together."""
    return vm_dir(name) / "queue"


def live_image(name: str) -> str:
    """The image reference a temp VM's container runs from: its writable layer is
    committed here before every recreate, so nothing written inside is lost."""
    return f"vmtemp-live/{name}:current"


def locks_dir() -> Path:
    return home() / ".locks"


def lock_file(name: str) -> Path:
    return locks_dir() / f"{name}.lock"


def holder_file(name: str) -> Path:
    return locks_dir() / f"{name}.holder"


def logs_dir() -> Path:
    return home() / "logs"


def error_log() -> Path:
    return logs_dir() / "errors.jsonl"


def vm_names() -> list[str]:
    """Names of the temp VMs that have a folder, sorted. Cheap: one listdir."""
    try:
        entries = os.scandir(home())
    except FileNotFoundError:
        return []
    with entries:
        return sorted(
            e.name
            for e in entries
            if not e.name.startswith(".") and e.name != "logs" and e.is_dir(follow_symlinks=False)
        )


def check_home_safe() -> None:
    """Refuse a state folder that other users could write to (or that is not ours):
    whoever can write there can change what a temp VM mounts and which commands run."""
    h = home()
    try:
        st = h.stat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise UsageError(f"cannot use state folder {h}: {e.strerror}", hint=f"check it: ls -ld {h}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"state folder {h} is not a folder", hint=f"move it away ({h}), or set VMTEMP_HOME elsewhere")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "everyone" if st.st_mode & stat.S_IWOTH else "its group"
        raise UsageError(
            f"state folder {h} is writable by {who} (mode {stat.S_IMODE(st.st_mode):o}); refusing to use it",
            hint=f"make it private: chmod 700 {h}",
        )
    if st.st_uid != os.getuid():
        raise UsageError(
            f"state folder {h} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}); refusing to use it",
            hint=f"use your own: unset VMTEMP_HOME, or take it over: chown -R {os.getuid()} {h} && chmod 700 {h}",
        )


def ensure_dir(path: Path) -> Path:
    """Create a private folder (0700) and its private parents inside the state folder."""
    old = os.umask(0o077)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    finally:
        os.umask(old)
    return path
