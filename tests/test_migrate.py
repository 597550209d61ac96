"""migrate: the older tool's three state shapes become vmtemp temp VMs; backup kept; --dry-run changes nothing."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import IMAGE, run


def write_state(path, shape: str, container: str, project) -> None:
    """The older tool's ~/.vm/temp-vm.state in one of its three shapes."""
    mounts = [(str(project / "a"), "/workspace/a", "rw"), ("./b", "/srv/b", "ro"),
              (str(project / "gone"), "/workspace/gone", "ro")]
    if shape == "yaml-objects":
        lines = [f"container_name: {container}", 'created_at: "2024-03-01T10:20:30Z"', f"project_dir: {project}",
                 "mounts:"]
        for s, t, p in mounts:
            lines += [f"  - source: {s}", f"    target: {t}", f"    permissions: {p}"]
        path.write_text("\n".join(lines) + "\n")
    elif shape == "yaml-legacy":
        lines = [f"container_name: {container}", "created_at: 2024-03-01T10:20:30Z", f"project_dir: {project}",
                 "mounts:"] + [f'  - "{s}:{t}:{p}"' for s, t, p in mounts]
        path.write_text("\n".join(lines) + "\n")
    else:  # the JSON the older mount command rewrote
        path.write_text(json.dumps({"container_name": container, "created_at": "2024-03-01T10:20:30Z",
                                    "project_dir": str(project),
                                    "mounts": [{"source": s, "target": t, "permissions": p} for s, t, p in mounts]},
                                   indent=2))


@pytest.fixture
def old_containers():
    made = []

    def make(name: str, *, running: bool = False) -> str:
        cmd = ["sleep", "1000"] if running else ["sh", "-c", "echo installed-by-the-old-tool > /marker"]
        subprocess.run(["docker", "run", *(["-d"] if running else []), "--name", name, IMAGE, *cmd], check=True,
                       capture_output=True)
        made.append(name)
        return name

    yield make
    for c in made:
        subprocess.run(["docker", "rm", "-f", c], capture_output=True)


def snapshot_of(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("shape", ["yaml-objects", "yaml-legacy", "json"])
def test_migrate_each_shape(engine, home, name, project, tmp_path, shape):
    state = tmp_path / "old" / "temp-vm.state"
    state.parent.mkdir()
    write_state(state, shape, name, project)
    original = state.read_bytes()

    before = snapshot_of(tmp_path / "old")
    r = run("migrate", "--from", str(state), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"{project / 'a'} -> /workspace/a (rw)" in r.stdout and "phantom" in r.stdout
    assert not (home / name).exists() and snapshot_of(tmp_path / "old") == before
    assert not subprocess.run(["docker", "image", "ls", "-q", f"vmtemp-live/{name}"], capture_output=True,
                              text=True).stdout.strip()

    r = run("migrate", "--from", str(state))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"vmtemp start -n {name}" in r.stdout  # the old container is gone: how to recreate it
    mounts = json.loads(run("mounts", "-n", name, "--json", check=True).stdout)
    got = {(m["source"], m["target"], m["mode"], m["state"]) for m in mounts}
    assert got == {(str(project / "a"), "/workspace/a", "rw", "ok"), (str(project / "b"), "/srv/b", "ro", "ok"),
                   (str(project / "gone"), "/workspace/gone", "ro", "phantom")}
    st = json.loads(run("status", "-n", name, "--json", check=True).stdout)
    assert st["created_at"] == "2024-03-01T10:20:30Z" and st["project_dir"] == str(project)
    backups = [p for p in state.parent.iterdir() if p.name.startswith("temp-vm.state.bak-")]
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert state.read_bytes() == original
    audit = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    assert any(e["action"] == "migrate" and e["vm"] == name and e["result"] == "ok" for e in audit)
    # again: nothing to do
    r = run("migrate", "--from", str(state))
    assert r.returncode == 0 and "already migrated" in r.stdout


def test_migrate_adopts_a_stopped_old_container(engine, home, name, project, tmp_path, old_containers):
    old_containers(name)
    state = tmp_path / "temp-vm.state"
    state.write_text(f"container_name: {name}\nproject_dir: {project}\nmounts:\n  - {project / 'a'}:/workspace/a:ro\n")
    r = run("migrate", "--from", str(state))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "adopted" in r.stdout
    r = run("start", "-n", name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert run("exec", "-n", name, "--", "cat", "/marker").stdout == "installed-by-the-old-tool\n"
    w = run("exec", "-n", name, "--", "touch", "/workspace/a/x")
    assert w.returncode != 0  # ro
    assert subprocess.run(["docker", "inspect", name], capture_output=True).returncode == 0  # the old one is left
    assert run("destroy", name, "--yes").returncode == 0
    assert not subprocess.run(["docker", "image", "ls", "-q", f"vmtemp-live/{name}"], capture_output=True,
                              text=True).stdout.strip()


def test_migrate_refuses_while_the_old_container_runs(engine, home, name, project, tmp_path, old_containers):
    old_containers(name, running=True)
    state = tmp_path / "temp-vm.state"
    write_state(state, "yaml-objects", name, project)
    r = run("migrate", "--from", str(state))
    assert r.returncode == 1 and f"docker stop {name}" in r.stderr
    assert not (home / name).exists() and not list(tmp_path.glob("temp-vm.state.bak-*"))


def test_migrate_default_path_and_then_start(engine, home, name, project, tmp_path):
    fake_home = tmp_path / "user"
    (fake_home / ".vm").mkdir(parents=True)
    (fake_home / ".vm" / "temp-vm.state").write_text(
        json.dumps({"container_name": name, "created_at": "2024-03-01 10:20:30",
                    "mounts": [{"source": str(project / "c"), "target": "/workspace/c", "permissions": "rw"}]}))
    r = run("migrate", env={"HOME": str(fake_home)})
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("start", "-n", name)
    assert r.returncode == 0, r.stdout + r.stderr
    assert run("exec", "-n", name, "--", "cat", "/workspace/c/hello.txt").stdout == "hello from c\n"


@pytest.mark.parametrize("content,why", [
    ("container_name: x\nmounts:\n  - source: /etc\n    target: /workspace/etc\n", "refusing to mount"),
    ("container_name: x\nmounts:\n  - /a:/workspace/a:rx:more:parts\n", "is not 'src:target:perm'"),
    ("container_name: x\nmounts:\n  - /a:/workspace/a:rx\n", "neither ro nor rw"),
    ("container_name: x\nmounts:\n  - /a:relative:rw\n", "relative"),
    ("just text", "not a state file"),
    ("container_name: x\nmounts:\n  - source: /tmp\n    permissions: sometimes\n", "neither ro nor rw"),
])
def test_migrate_bad_input_exit_2_nothing_changed(home, tmp_path, content, why):
    state = tmp_path / "temp-vm.state"
    state.write_text(content)
    r = run("migrate", "--from", str(state))
    assert r.returncode == 2, r.stdout + r.stderr
    assert why in r.stderr and "hint:" in r.stderr
    assert not (home / "x").exists() and not list(tmp_path.glob("temp-vm.state.bak-*"))


def test_migrate_missing_file_exit_2(home, tmp_path):
    r = run("migrate", "--from", str(tmp_path / "nope"))
    assert r.returncode == 2 and "no state file" in r.stderr and "--from" in r.stderr
