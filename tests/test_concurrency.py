"""Real concurrent vmtemp processes on the real engine."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import VMTEMP, labelled, run


def _spawn(args, cwd):
    return subprocess.Popen([*VMTEMP, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=dict(os.environ))


def test_eight_names_and_four_same_name(engine, home, names, project):
    distinct = [names("c") for _ in range(8)]
    same = names("s")
    procs = [_spawn(["create", "./a", "-n", n], project) for n in distinct]
    procs += [_spawn(["create", "./b", "-n", same], project) for _ in range(4)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, _out, err in results[:8]:
        assert code == 0, err
    same_results = results[8:]
    codes = sorted(code for code, _, _ in same_results)
    assert all(c in (0, 4) for c in codes), same_results
    created = [out for code, out, _ in same_results if code == 0 and "is running" in out]
    assert len(created) == 1, same_results
    for code, out, err in same_results:
        assert "docker compose" not in err and "Traceback" not in err
        if code == 0 and "is running" not in out:
            assert "already exists" in out
    listed = {v["name"]: v for v in json.loads(run("list", "--json", check=True).stdout)}
    for n in [*distinct, same]:
        assert listed[n]["status"] == "running"
        assert len(labelled(n, ("container",))["container"]) == 1
        json.loads((home / n / "state.json").read_text())  # never a corrupt file


def test_lock_wait_past_limit_exits_4_naming_holder(engine, home, name, project, tmp_path):
    from conftest import fake_docker_env

    slow = _spawn(["create", "./a", "-n", name], project)
    slow.env = None
    # a second create of the same name with a tiny wait while the first holds the lock
    env = fake_docker_env(tmp_path)
    import time

    deadline = time.time() + 10
    while not (home / ".locks" / f"{name}.holder").exists() and time.time() < deadline:
        time.sleep(0.01)
    r = run("create", "./a", "-n", name, cwd=project, env={**env, "VMTEMP_LOCK_TIMEOUT": "0.05"})
    slow.wait(timeout=120)
    if r.returncode == 0:  # the first one had already finished: then it is "already exists"
        assert "already exists" in r.stdout
    else:
        assert r.returncode == 4, r.stderr
        assert f"pid {slow.pid}" in r.stderr and "create" in r.stderr
