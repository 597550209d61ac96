"""The shell functions' fast path for `vmtemp exec` and `vmtemp enter`: straight to
`docker exec`, no Python, same results as the program; anything unusual goes to it."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from conftest import VMTEMP, run

SHELLS = ("bash", "zsh")


@pytest.fixture
def fast(tmp_path, home):
    """init scripts whose baked-in vmtemp is a recorder: a call to the program shows in the log."""
    log = tmp_path / "program-calls.log"
    recorder = tmp_path / "vmtemp-recorder"
    recorder.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {" ".join(VMTEMP)} "$@"\n')
    recorder.chmod(0o755)
    scripts = {}
    for shell in SHELLS:
        text = run("init", shell, check=True).stdout.replace(VMTEMP[0], str(recorder))
        assert str(recorder) in text
        path = tmp_path / f"init.{shell}"
        path.write_text(text)
        scripts[shell] = path
    return scripts, log


def in_shell(shell: str, script, code: str, *, cwd=None, env=None, stdin=None):
    argv = ["bash", "--norc", "--noprofile", "-c", f"set -euo pipefail; source {script}; {code}"] if shell == "bash" \
        else ["zsh", "-f", "-c", f"source {script}; {code}"]
    return subprocess.run(argv, cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          input=stdin, timeout=60)


@pytest.mark.parametrize("shell", SHELLS)
def test_fast_exec_and_enter_start_no_python(engine, home, name, project, fast, shell):
    scripts, log = fast
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    r = in_shell(shell, scripts[shell], f"rc=0; vmtemp exec -n {name} -- sh -c 'exit 7' || rc=$?; echo rc=$rc")
    assert r.stdout.strip() == "rc=7", r.stderr
    r = in_shell(shell, scripts[shell], "vmtemp exec -- cat /workspace/a/hello.txt")  # the only temp VM
    assert r.stdout == "hello from a\n", r.stderr
    r = in_shell(shell, scripts[shell], "vmtemp exec -w /workspace/a -- pwd", env={"VMTEMP_NAME": name})
    assert r.stdout == "/workspace/a\n"
    sub = project / "a" / "x" / "y"
    sub.mkdir(parents=True)
    r = in_shell(shell, scripts[shell], f"vmtemp enter -n {name}", cwd=sub, stdin="pwd\n")
    assert r.stdout.strip() == "/workspace/a/x/y", r.stderr
    assert not log.exists() or log.read_text() == "", log.read_text()


@pytest.mark.parametrize("shell", SHELLS)
def test_fast_path_hands_unusual_calls_to_the_program(engine, home, name, project, fast, shell):
    scripts, log = fast
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    compose = home / name / "compose.yaml"
    # a stopped container: the same exit code as the program, and the hint
    subprocess.run(["docker", "stop", "-t", "0", f"vmtemp-{name}"], check=True, capture_output=True)
    r = in_shell(shell, scripts[shell], f"rc=0; vmtemp exec -n {name} -- true || rc=$?; echo rc=$rc")
    assert r.stdout.strip() == "rc=1" and f"vmtemp start -n {name}" in r.stderr
    assert not log.exists()
    assert run("start", "-n", name).returncode == 0
    # VMTEMP_FAST=0, other options, and a compose file edited by hand go to the program
    for code in (f"VMTEMP_FAST=0 vmtemp exec -n {name} -- true", f"vmtemp exec -n {name} --user 0 -- true"):
        log.write_text("")
        r = in_shell(shell, scripts[shell], code)
        assert r.returncode == 0, r.stderr
        assert log.read_text().startswith("exec"), code
    time.sleep(0.01)
    os.utime(compose)  # newer than the cache: the program re-reads the file
    log.write_text("")
    assert in_shell(shell, scripts[shell], f"vmtemp exec -n {name} -- true").returncode == 0
    assert log.read_text().startswith("exec")
