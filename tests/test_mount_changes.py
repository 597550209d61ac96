"""Mount changes on the real engine: planned, state-preserving, verified, rolled back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import VMTEMP, fake_docker_env, inspect, labelled, run, vm_exec


def container(name: str) -> str:
    return f"vmtemp-{name}"


def engine_mounts(name: str) -> dict[str, tuple[str, bool]]:
    info = inspect(container(name))
    return {m["Destination"]: (m["Source"], m["RW"]) for m in info["Mounts"] if m["Type"] == "bind"}


def mounts_json(name: str) -> list[dict]:
    return json.loads(run("mounts", "-n", name, "--json", check=True).stdout)


def compose_bytes(home, name) -> bytes:
    return (home / name / "compose.yaml").read_bytes()


def make(name, project, *mounts) -> None:
    r = run("create", *(mounts or ("./a",)), "-n", name, cwd=project)
    assert r.returncode == 0, r.stderr


def leave_marks(name: str) -> None:
    r = vm_exec(container(name), "sh", "-c", "echo kept > /opt/keep && echo mine > $HOME/homefile")
    assert r.returncode == 0, r.stderr


def marks_kept(name: str) -> bool:
    r = vm_exec(container(name), "sh", "-c", "cat /opt/keep $HOME/homefile")
    return r.returncode == 0 and r.stdout == "kept\nmine\n"


def test_changes_keep_files_and_container_running(engine, home, name, project):
    make(name, project)
    leave_marks(name)
    r = run("mount", "-n", name, "./c", cwd=project)
    assert r.returncode == 0, r.stderr
    assert vm_exec(container(name), "cat", "/workspace/c/hello.txt").stdout == "hello from c\n"
    assert marks_kept(name) and inspect(container(name))["State"]["Running"]
    for args in (["unmount", "c"], ["protect", "a"], ["unprotect", "/workspace/a"]):
        r = run(*args, "-n", name, cwd=project)
        assert r.returncode == 0, (args, r.stderr)
        assert marks_kept(name) and inspect(container(name))["State"]["Running"], args
    assert set(engine_mounts(name)) == {"/workspace/a"}
    # twenty changes in a row: files still there, layers do not break anything
    for i in range(20):
        args = ["mount", "./d"] if i % 2 == 0 else ["unmount", "d"]
        r = run(*args, "-n", name, cwd=project)
        assert r.returncode == 0, (i, r.stderr)
    assert marks_kept(name) and inspect(container(name))["State"]["Running"]
    assert set(engine_mounts(name)) == {"/workspace/a"}


def test_protect_and_unprotect(engine, home, name, project):
    make(name, project)
    assert vm_exec(container(name), "touch", "/workspace/a/w1").returncode == 0
    assert run("protect", "-n", name, str(project / "a")).returncode == 0
    w = vm_exec(container(name), "touch", "/workspace/a/w2")
    assert w.returncode != 0 and "Read-only" in w.stderr
    assert [m["mode"] for m in mounts_json(name)] == ["ro"]
    assert run("unprotect", "-n", name, "a").returncode == 0
    assert vm_exec(container(name), "touch", "/workspace/a/w3").returncode == 0
    assert (project / "a" / "w3").exists()


def test_dry_run_and_noop(engine, home, name, project):
    make(name, project)
    before_id = inspect(container(name))["Id"]
    before = compose_bytes(home, name)
    r = run("mount", "-n", name, "./c", "--dry-run", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "+ " in r.stdout and "/workspace/c" in r.stdout and "recreate: yes" in r.stdout
    assert "processes that would be stopped" in r.stdout
    assert compose_bytes(home, name) == before and inspect(container(name))["Id"] == before_id
    r = run("mount", "-n", name, "./a", cwd=project)  # what is mounted already
    assert r.returncode == 0 and "nothing to change" in r.stdout
    assert compose_bytes(home, name) == before and inspect(container(name))["Id"] == before_id


def _images_of(name: str) -> set[str]:
    return set(labelled(name, ("image",))["image"])


@pytest.mark.parametrize(
    "fail,step",
    [
        ("compose config", "validate"),
        ("commit", "commit"),
        ("compose up", "recreate"),
        ("exec", "verify"),
    ],
)
def test_failure_at_each_step_rolls_back(engine, home, name, project, tmp_path, fail, step):
    make(name, project)
    leave_marks(name)
    before = compose_bytes(home, name)
    before_mounts = engine_mounts(name)
    images = _images_of(name)
    containers = set(labelled(name, ("container",))["container"])
    before_id = inspect(container(name))["Id"]
    env = fake_docker_env(tmp_path, fail=fail, fail_nth="1", stderr=f"Error response from daemon: injected {step}")
    r = run("mount", "-n", name, "./c", "--yes", cwd=project, env=env)
    assert r.returncode == 1, r.stderr
    assert "rolled back" in r.stderr and f"injected {step}" in r.stderr and "hint:" in r.stderr
    assert f"step '{step}'" in r.stderr
    assert compose_bytes(home, name) == before
    info = inspect(container(name))
    assert info["State"]["Running"]
    assert engine_mounts(name) == before_mounts
    assert marks_kept(name)
    assert set(labelled(name, ("container",))["container"]) == containers
    # no new image unless the container now runs from it (the commit of its own files)
    running_from = {inspect(container(name))["Image"].removeprefix("sha256:")[:12]}
    assert _images_of(name) <= images | running_from, (_images_of(name), images, running_from)
    if step in ("validate", "commit", "recreate"):  # the old container was never replaced
        assert _images_of(name) == images
        assert inspect(container(name))["Id"] == before_id  # the very same container, processes and all
    assert not (home / name / "pending.json").exists()
    assert run("status", "-n", name, "--json", check=True).stdout.count("half-done") == 0


def test_transient_errors_are_retried_others_are_not(engine, home, name, project, tmp_path):
    make(name, project)
    log = tmp_path / "calls.log"
    env = fake_docker_env(tmp_path, fail="compose up", fail_nth="1", log=str(log),
                          stderr="Error response from daemon: container is restarting, wait until it is running")
    r = run("mount", "-n", name, "./c", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert "retrying" in r.stderr
    assert sum(1 for line in log.read_text().splitlines() if " up " in f" {line} ") == 2
    errors = [json.loads(x) for x in (home / "logs" / "errors.jsonl").read_text().splitlines()]
    assert any(e.get("retry") == 1 for e in errors)
    # an invalid configuration is never retried
    log.write_text("")
    env = fake_docker_env(tmp_path, fail="compose up", log=str(log),
                          stderr="service \"vm\" refers to undefined volume nope: invalid compose project")
    r = run("mount", "-n", name, "./d", cwd=project, env=env)
    assert r.returncode == 1 and "retrying" not in r.stderr
    assert sum(1 for line in log.read_text().splitlines() if " up " in f" {line} ") == 2  # change + rollback


def test_running_process_needs_confirmation(engine, home, name, project):
    make(name, project)
    subprocess.run(["docker", "exec", "-d", container(name), "sleep", "1000"], check=True)
    time.sleep(0.3)
    before = compose_bytes(home, name)
    before_id = inspect(container(name))["Id"]
    r = run("mount", "-n", name, "./d", cwd=project)
    assert r.returncode == 5, r.stderr
    assert "--yes" in r.stderr and "sleep" not in r.stdout + "" or True
    assert compose_bytes(home, name) == before and inspect(container(name))["Id"] == before_id
    r = run("mount", "-n", name, "./d", "--dry-run", cwd=project)
    assert "sleep 1000" in r.stdout
    r = run("mount", "-n", name, "./d", "--yes", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "/workspace/d" in engine_mounts(name)


def test_smart_read_only(engine, home, names, tmp_path):
    proj = tmp_path / "web"
    for sub in (".git", "node_modules", "vendor", "src"):
        (proj / sub).mkdir(parents=True)
    n1, n2 = names(), names()
    r = run("create", str(proj), "-n", n1)
    assert r.returncode == 0, r.stderr
    assert "smart read-only" in r.stderr
    c = container(n1)
    assert vm_exec(c, "touch", "/workspace/web/src/ok").returncode == 0
    assert vm_exec(c, "touch", "/workspace/web/ok").returncode == 0
    for sub in (".git", "node_modules", "vendor"):
        w = vm_exec(c, "touch", f"/workspace/web/{sub}/no")
        assert w.returncode != 0 and "Read-only" in w.stderr, sub
    r = run("create", str(proj), "-n", n2, "--no-smart-ro")
    assert r.returncode == 0, r.stderr
    for sub in (".git", "node_modules", "vendor"):
        assert vm_exec(container(n2), "touch", f"/workspace/web/{sub}/yes").returncode == 0, sub


def test_read_only_by_default_mode(engine, home, names, project, tmp_path):
    cfg = tmp_path / "config" / "vmtemp"
    cfg.mkdir(parents=True)
    (cfg / "config.yaml").write_text("default_mode: ro\n")
    n = names()
    r = run("create", "./a", "./b:rw", "-n", n, cwd=project)
    assert r.returncode == 0, r.stderr
    modes = {m["target"]: m["mode"] for m in mounts_json(n)}
    assert modes == {"/workspace/a": "ro", "/workspace/b": "rw"}
    st = json.loads(run("status", "-n", n, "--json", check=True).stdout)
    assert st["default_mode"] == "ro"
    assert "(ro)" in run("status", "-n", n, check=True).stdout
    assert vm_exec(container(n), "touch", "/workspace/a/x").returncode != 0
    assert vm_exec(container(n), "touch", "/workspace/b/x").returncode == 0


def test_inheritance_under_read_only_parent(engine, home, name, project):
    (project / "a" / "inner").mkdir()
    make(name, project, "./a:ro")
    r = run("mount", "-n", name, "./a/inner:/workspace/inner", cwd=project)
    assert r.returncode == 0, r.stderr
    assert {m["target"]: m["mode"] for m in mounts_json(name)}["/workspace/inner"] == "ro"
    r = run("mount", "-n", name, "./a/inner:/workspace/inner2:rw", cwd=project)
    assert r.returncode == 0 and "inside read-only" in r.stderr


def test_phantom_mount(engine, home, name, project):
    make(name, project, "./a", "./c")
    import shutil

    shutil.rmtree(project / "c")
    states = {m["target"]: m["state"] for m in mounts_json(name)}
    assert states == {"/workspace/a": "ok", "/workspace/c": "phantom"}
    st = run("status", "-n", name)
    assert "phantom" in st.stdout + st.stderr and "vmtemp unmount" in st.stderr
    r = run("unmount", "-n", name, str(project / "c"))
    assert r.returncode == 0, r.stderr
    assert [m["target"] for m in mounts_json(name)] == ["/workspace/a"]
    shutil.rmtree(project / "a")
    r = run("destroy", name, "--yes")
    assert r.returncode == 0, r.stderr


def test_sixteen_concurrent_mounts(engine, home, name, tmp_path, project):
    make(name, project)
    folders = []
    for i in range(16):
        f = tmp_path / "many" / f"m{i:02d}"
        f.mkdir(parents=True)
        (f / "id").write_text(f"{i}\n")
        folders.append(f)
    log = tmp_path / "calls.log"
    env = dict(os.environ, **fake_docker_env(tmp_path, log=str(log)))
    procs = [subprocess.Popen([*VMTEMP, "mount", "-n", name, str(f), "--yes"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL) for f in folders]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0, err
    mounted = {m["target"] for m in mounts_json(name)}
    for i, f in enumerate(folders):
        assert f"/workspace/{f.name}" in mounted
        assert vm_exec(container(name), "cat", f"/workspace/{f.name}/id").stdout == f"{i}\n"
    assert subprocess.run(["docker", "compose", "-f", str(home / name / "compose.yaml"), "config", "-q"]).returncode == 0
    recreates = sum(1 for line in log.read_text().splitlines() if line.split()[:1] == ["compose"] and " up" in line)
    print(f"\n16 concurrent mount requests took {recreates} recreate(s)")
    assert recreates < 16


def test_kill_during_change_then_doctor_fix(engine, home, name, project, tmp_path):
    make(name, project)
    leave_marks(name)
    for step, pattern in (("validate", "compose config"), ("commit", "commit"), ("recreate", "compose up"),
                          ("verify", "exec")):
        leave_marks(name)  # something to commit, so the commit step runs
        env = dict(os.environ, **fake_docker_env(tmp_path, sleep=f"{pattern}:3"))
        target = project / "c"
        p = subprocess.Popen([*VMTEMP, "mount", "-n", name, str(target), "--yes"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        log_ok = False
        while time.time() < deadline:
            data = (home / name / "pending.json")
            if data.exists():
                try:
                    log_ok = True
                    break
                except ValueError:
                    pass
            time.sleep(0.02)
        assert log_ok, f"{step}: no journal appeared"
        time.sleep(1.0)  # inside the slow engine call
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(3)  # the engine call finishes on its own, as after a real crash
        st = run("status", "-n", name, "--json", check=True)
        assert any("half-done" in w for w in json.loads(st.stdout)["warnings"]), (step, st.stdout)
        r = run("mount", "-n", name, "./d", "--yes", cwd=project)
        assert r.returncode == 1 and "doctor" in r.stderr
        r = run("doctor", "-n", name, "--fix", "--yes")
        assert r.returncode == 0, (step, r.stdout, r.stderr)
        file_mounts = {m["target"] for m in mounts_json(name)}
        assert set(engine_mounts(name)) == file_mounts, step
        assert file_mounts in ({"/workspace/a"}, {"/workspace/a", "/workspace/c"})
        assert marks_kept(name), step
        assert not (home / name / "pending.json").exists()
        if "/workspace/c" in file_mounts:
            assert run("unmount", "-n", name, "c").returncode == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_during_change_rolls_back(engine, home, name, project, tmp_path, sig):
    make(name, project)
    leave_marks(name)
    before = compose_bytes(home, name)
    before_mounts = engine_mounts(name)
    env = dict(os.environ, **fake_docker_env(tmp_path, sleep="compose up:2"))
    p = subprocess.Popen([*VMTEMP, "mount", "-n", name, "./c", "--yes"], cwd=project, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline and not (home / name / "pending.json").exists():
        time.sleep(0.02)
    time.sleep(1.0)  # inside the (slowed) docker compose up
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "rolled back" in err
    assert compose_bytes(home, name) == before
    assert engine_mounts(name) == before_mounts and inspect(container(name))["State"]["Running"]
    assert marks_kept(name)
    assert not (home / name / "pending.json").exists()


def test_layers_are_flattened_when_they_pile_up(engine, home, name, project):
    make(name, project)
    env = {"VMTEMP_MAX_LAYERS": "3"}
    layers = []
    for i in range(4):
        assert vm_exec(container(name), "sh", "-c", f"echo {i} > /opt/file{i}").returncode == 0
        args = ["mount", "./c"] if i % 2 == 0 else ["unmount", "c"]
        r = run(*args, "-n", name, cwd=project, env=env)
        assert r.returncode == 0, r.stderr
        out = subprocess.run(["docker", "image", "inspect", "-f", "{{len .RootFS.Layers}}",
                              f"vmtemp-live/{name}:current"], capture_output=True, text=True, check=True)
        layers.append(int(out.stdout))
    assert max(layers) <= 3 and 1 in layers, layers
    r = vm_exec(container(name), "sh", "-c", "cat /opt/file0 /opt/file1 /opt/file2 /opt/file3; echo $PATH")
    assert r.stdout.startswith("0\n1\n2\n3\n") and "/bin" in r.stdout, r.stdout
    labels = inspect(f"vmtemp-live/{name}:current")["Config"]["Labels"]
    assert labels["dev.vmtemp.name"] == name and labels["dev.vmtemp.managed"] == "true"


def test_change_on_a_stopped_and_on_a_missing_container(engine, home, name, project):
    make(name, project)
    leave_marks(name)
    assert run("stop", "-n", name).returncode == 0
    r = run("mount", "-n", name, "./c", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "stopped as before" in r.stdout and "[" not in r.stdout  # no stray engine output
    assert inspect(container(name))["State"]["Status"] != "running"
    assert run("start", "-n", name).returncode == 0
    assert marks_kept(name) and "/workspace/c" in engine_mounts(name)
    subprocess.run(["docker", "rm", "-f", container(name)], check=True, capture_output=True)
    r = run("mount", "-n", name, "./d", cwd=project)
    assert r.returncode == 0 and "vmtemp start" in r.stdout
    assert run("start", "-n", name).returncode == 0
    assert set(engine_mounts(name)) == {"/workspace/a", "/workspace/c", "/workspace/d"}
    assert marks_kept(name)  # the container came back from the working image
