"""The start-up path stays light: parsing and help never import python-on-whales or pydantic."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("python_on_whales", "pydantic")

COMMAND_LINES = [
    ["--help"],
    ["--version"],
    ["create", "--help"],
    ["create", "./a", "./b:ro", "-n", "x", "--image", "i", "--ro-default", "--dry-run"],
    ["enter", "-n", "x", "--workdir", "/w"],
    ["exec", "-n", "x", "--", "ls", "-la"],
    ["list", "--json"],
    ["status", "-n", "x", "--json"],
    ["mounts", "-n", "x"],
    ["start", "-n", "x"], ["stop", "-n", "x"], ["restart", "-n", "x"],
    ["logs", "-n", "x", "-f"],
    ["destroy", "x", "--yes", "--force", "--quick", "--keep-volumes", "--dry-run"],
    ["compose-file", "-n", "x"],
    ["templates", "list"],
    ["audit", "-n", "x", "--since", "2h", "--json", "--verify"],
]


@pytest.mark.parametrize("argv", COMMAND_LINES, ids=lambda a: " ".join(a)[:40])
def test_parsing_imports_nothing_heavy(argv):
    code = (
        "import sys\n"
        "from vmtemp import cli\n"
        "p = cli.build_parser()\n"
        f"argv = {argv!r}\n"
        "try:\n"
        "    p.parse_args(argv)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "sys.stderr.write('HEAVY:' + ','.join(bad) + '\\n')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "HEAVY:\n" in r.stderr, f"{argv} imported heavy modules: {r.stderr}"


def test_read_only_commands_import_nothing_heavy(home):
    # the whole of `list --json` and `--help`, end to end, in a fresh interpreter
    for argv in (["--help"], ["list", "--json"], ["templates"]):
        code = (
            "import sys\nfrom vmtemp import cli\n"
            f"try:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
            "sys.stderr.write('HEAVY:' + ','.join(bad) + '\\n')\n"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert "HEAVY:\n" in r.stderr, (argv, r.stderr)
