"""Ctrl-C, SIGTERM and SIGHUP delivered to `vmtemp create` at several points: exit 130 (or 1),
and nothing of that temp VM remains on the engine or on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pexpect
import pytest
from conftest import VMTEMP, fake_docker_env, nothing_labelled
from filelock import FileLock

# test-controlled points: fake docker logs each call, then sleeps before passing it through
POINTS = {
    "tag": "image tag",  # before compose up: the working-image tag is being made
    "compose-up": "compose up",  # the containers are being made
    "inspect": "container inspect",  # after compose up: verifying the mounts from outside
    "probe": "exec",  # after compose up: verifying the mounts inside the container
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


def live_tags(name: str) -> list[str]:
    r = subprocess.run(["docker", "image", "ls", f"vmtemp-live/{name}", "--format", "{{.Tag}}"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def logged(log, words: str) -> bool:
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return False
    return any(all(w in line.split() for w in words.split()) for line in lines)


def assert_nothing_left(name: str, home) -> None:
    assert nothing_labelled(name)
    assert not live_tags(name)
    assert not (home / name).exists()
    r = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project=vmtemp-{name}"],
                       capture_output=True, text=True, check=True)
    assert not r.stdout.strip()


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("signame", list(SIGNALS))
def test_signal_during_create_leaves_nothing(engine, home, name, project, tmp_path, point, signame):
    log = tmp_path / "docker.log"
    words = POINTS[point]
    env = dict(os.environ, **fake_docker_env(tmp_path, sleep=f"{words}:3", log=str(log)))
    proc = subprocess.Popen([*VMTEMP, "create", "./a", "-n", name], cwd=project, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: logged(log, words) or proc.poll() is not None)
        assert proc.poll() is None, "create ended before the point was reached"
        proc.send_signal(SIGNALS[signame])
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (130, 1), (proc.returncode, out, err)
    assert "rolled back, nothing of it remains" in err, err
    assert_nothing_left(name, home)


@pytest.mark.parametrize("signame", list(SIGNALS))
def test_signal_while_waiting_for_the_lock(engine, home, name, project, signame):
    locks = home / ".locks"
    locks.mkdir(parents=True)
    lock = FileLock(str(locks / f"{name}.lock"))
    with lock:
        proc = subprocess.Popen([*VMTEMP, "create", "./a", "-n", name], cwd=project, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # it is waiting for the lock the test holds
        assert proc.poll() is None
        proc.send_signal(SIGNALS[signame])
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert_nothing_left(name, home)


def test_ctrl_c_on_a_terminal_during_compose_up(engine, home, name, project, tmp_path):
    """Ctrl-C on a terminal reaches the whole process group, docker included."""
    log = tmp_path / "docker.log"
    env = dict(os.environ, TERM="xterm", **fake_docker_env(tmp_path, sleep="compose up:3", log=str(log)))
    child = pexpect.spawn(VMTEMP[0], VMTEMP[1:] + ["create", "./a", "-n", name], cwd=str(project), env=env,
                          encoding="utf-8", timeout=120)
    wait_for(lambda: logged(log, "compose up"))
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus in (130, 1), child.before
    assert "rolled back" in child.before
    assert_nothing_left(name, home)
