"""Prompts through a real pty: a destructive question answered No, Ctrl-C at it, EOF
at it, and the same command without a terminal. Each time: nothing changed."""

from __future__ import annotations

import json
import os
import subprocess

import pexpect
import pytest
from conftest import VMTEMP, inspect, labelled, run

QUESTION = "Destroy temp VM"


def picture(home, name) -> dict:
    """What a destroy would change: the engine's resources, the container, the files."""
    folder = home / name
    info = inspect(f"vmtemp-{name}")
    return {
        "labelled": labelled(name),
        "container": (info["Id"], info["State"]["Running"], info["State"]["StartedAt"]) if info else None,
        "files": {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()},
    }


@pytest.fixture
def vm(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    return name


def spawn(*args: str) -> pexpect.spawn:
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    return pexpect.spawn(VMTEMP[0], [*VMTEMP[1:], *args], env=env, encoding="utf-8", timeout=60,
                         dimensions=(40, 160))


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


@pytest.mark.parametrize("answer", ["n\r", "\r"], ids=["no", "enter-default-no"])
def test_destroy_answered_no_changes_nothing(vm, home, answer):
    before = picture(home, vm)
    child = spawn("destroy", vm)
    child.expect(QUESTION)
    child.send(answer)
    code = finish(child)
    assert code == 5, child.before
    assert "declined; nothing was changed" in child.before
    assert picture(home, vm) == before


def test_ctrl_c_at_the_prompt_exits_130_and_changes_nothing(vm, home):
    before = picture(home, vm)
    child = spawn("destroy", vm)
    child.expect(QUESTION)
    child.sendintr()
    code = finish(child)
    assert code == 130, child.before
    assert "cancelled at the prompt; nothing was changed" in child.before
    assert picture(home, vm) == before


def test_eof_at_the_prompt_is_no_answer(vm, home):
    """Ctrl-D is neither yes nor the default: confirmation not given, exit 5."""
    before = picture(home, vm)
    child = spawn("destroy", vm)
    child.expect(QUESTION)
    child.sendeof()
    code = finish(child)
    assert code == 5, child.before
    assert "no answer given" in child.before
    assert picture(home, vm) == before


def test_without_a_terminal_exit_5_and_name_the_flag(vm, home):
    before = picture(home, vm)
    with open(os.devnull) as devnull:
        r = subprocess.run([*VMTEMP, "destroy", vm], stdin=devnull, capture_output=True, text=True, timeout=120)
    assert r.returncode == 5
    assert "--yes" in r.stderr
    assert picture(home, vm) == before
    status = json.loads(run("status", "-n", vm, "--json", check=True).stdout)
    assert status["status"] == "running"


def test_yes_on_the_pty_proceeds(vm, home):
    """The control: the same prompt answered y does destroy."""
    child = spawn("destroy", vm)
    child.expect(QUESTION)
    child.send("y\r")
    assert finish(child) == 0, child.before
    assert not any(labelled(vm).values()) and not (home / vm).exists()


def spawn_in(cwd, *args: str) -> pexpect.spawn:
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    return pexpect.spawn(VMTEMP[0], [*VMTEMP[1:], *args], env=env, encoding="utf-8", timeout=120,
                         dimensions=(40, 160), cwd=str(cwd))


def test_create_with_other_mounts_asks_then_replaces(vm, home, project):
    """Same name, other mounts, on a terminal: the choice is asked; No changes nothing, Yes gives
    the temp VM the asked mounts through a mount change (files made inside are kept)."""
    import json

    from conftest import vm_exec

    assert vm_exec(f"vmtemp-{vm}", "sh", "-c", "echo kept > /opt/keep").returncode == 0
    before = picture(home, vm)
    child = spawn_in(project, "create", "./a", "./c:ro", "-n", vm)
    child.expect("Give it the asked mounts")
    child.send("n\r")
    assert finish(child) == 5 and picture(home, vm) == before
    child = spawn_in(project, "create", "./a", "./c:ro", "-n", vm)
    child.expect("Give it the asked mounts")
    child.send("y\r")
    assert finish(child) == 0, child.before
    mounts = {m["target"]: m["mode"] for m in json.loads(run("mounts", "-n", vm, "--json", check=True).stdout)}
    assert mounts == {"/workspace/a": "rw", "/workspace/c": "ro"}
    assert vm_exec(f"vmtemp-{vm}", "cat", "/opt/keep").stdout == "kept\n"
    r = run("create", "./a", "./c:ro", "-n", vm, cwd=project)  # and now it is the same: exit 0
    assert r.returncode == 0 and "already exists" in r.stdout
