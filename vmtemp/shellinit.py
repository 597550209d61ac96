"""``vmtemp init bash|zsh`` and ``vmtemp completion bash|zsh``: print the shell scripts.

The scripts are templates shipped with vmtemp (``shell/``, ``completions/``); two
placeholders are filled in here: the absolute path of the vmtemp executable (the
shell function falls back to ``vmtemp`` on PATH when that path is gone) and the
folder of the built-in compose templates (for completing ``--template``).
Standard library only: this runs at every shell start-up.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

from vmtemp import resources

SHELLS = ("bash", "zsh")
BIN_PLACEHOLDER = "'@VMTEMP_BIN@'"
TEMPLATES_PLACEHOLDER = "'@VMTEMP_TEMPLATES@'"
INIT_FILES = {"bash": "vmtemp.bash", "zsh": "vmtemp.zsh"}
COMPLETION_FILES = {"bash": "vmtemp.bash", "zsh": "_vmtemp"}


def executable() -> str:
    """The absolute path of the vmtemp executable running now, or '' if there is none.

    A console script runs with argv[0] = its own path; ``python -m vmtemp`` does
    not, so the script installed beside the interpreter, then the one on PATH, is
    used instead.
    """
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "vmtemp":
        found = argv0 if os.sep in argv0 else shutil.which(argv0)
        if found and os.access(found, os.X_OK):
            return os.path.abspath(found)
    beside = os.path.join(os.path.dirname(sys.executable), "vmtemp")
    if os.access(beside, os.X_OK):
        return os.path.abspath(beside)
    on_path = shutil.which("vmtemp")
    return os.path.abspath(on_path) if on_path else ""


def _fill(text: str, *, bin_path: str | None = None) -> str:
    exe = executable() if bin_path is None else bin_path
    templates = str(resources.data_dir("compose-templates"))
    return text.replace(BIN_PLACEHOLDER, shlex.quote(exe)).replace(TEMPLATES_PLACEHOLDER, shlex.quote(templates))


def completion_script(shell: str, *, bin_path: str | None = None) -> str:
    return _fill(resources.read_text("completions", COMPLETION_FILES[shell]), bin_path=bin_path)


def init_script(shell: str, *, bin_path: str | None = None) -> str:
    """The shell integration, with the completion script appended."""
    text = _fill(resources.read_text("shell", INIT_FILES[shell]), bin_path=bin_path)
    return text.rstrip("\n") + "\n\n" + completion_script(shell, bin_path=bin_path)


def print_init(*, shell: str) -> int:
    sys.stdout.write(init_script(shell))
    return 0


def print_completion(*, shell: str) -> int:
    sys.stdout.write(completion_script(shell))
    return 0


def use_without_integration(*, name: str | None) -> int:
    """``vmtemp use`` reached the program: the shell function is not loaded."""
    from vmtemp.errors import UsageError

    example = f"export VMTEMP_NAME={name}" if name else "unset VMTEMP_NAME"
    raise UsageError(
        "'vmtemp use' changes your shell's VMTEMP_NAME, so it needs the shell integration "
        f"(until then: {example})",
        hint='eval "$(vmtemp init bash)"   (zsh: eval "$(vmtemp init zsh)"), then vmtemp use NAME',
    )
