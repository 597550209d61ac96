"""destroy on the real engine: the full picture first, default No, nothing of vmtemp's left after Yes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid

import pexpect
import pytest
from conftest import IMAGE, VMTEMP, nothing_labelled, run


def by_project(name: str) -> dict[str, list[str]]:
    """Containers, volumes, networks of the compose project (what a hand edit adds carries only this label)."""
    out = {}
    for kind, args in (("container", ["ps", "-a"]), ("volume", ["volume", "ls"]), ("network", ["network", "ls"])):
        fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
        r = subprocess.run(["docker", *args, "--filter", f"label=com.docker.compose.project=vmtemp-{name}",
                            "--format", fmt], capture_output=True, text=True, check=True)
        out[kind] = r.stdout.split()
    return out


def live_tags(name: str) -> list[str]:
    r = subprocess.run(["docker", "image", "ls", f"vmtemp-live/{name}", "--format", "{{.Tag}}"],
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


def all_gone(name: str, home) -> bool:
    return (nothing_labelled(name) and not any(by_project(name).values()) and not live_tags(name)
            and not (home / name).exists())


def add_data_volume(name: str, home) -> str:
    """Add a named volume at /data to the compose file by hand, bring it up, write 300 kB into it."""
    path = home / name / "compose.yaml"
    text = path.read_text()
    text = text.replace("    volumes:\n", "    volumes:\n      - data:/data\n", 1) + "volumes:\n  data: {}\n"
    path.write_text(text)
    subprocess.run(["docker", "compose", "-f", str(path), "up", "-d"], check=True, capture_output=True)
    container = f"vmtemp-{name}"
    r = subprocess.run(["docker", "exec", container, "sh", "-c",
                        "dd if=/dev/urandom of=/data/blob bs=1024 count=300 2>/dev/null && ls -l /data/blob"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return f"vmtemp-{name}_data"


def spawn(*args: str) -> pexpect.spawn:
    return pexpect.spawn(VMTEMP[0], VMTEMP[1:] + list(args), env=dict(os.environ, TERM="xterm"),
                         encoding="utf-8", timeout=60, dimensions=(50, 200))


def test_destroy_on_a_pty_shows_everything_no_keeps_yes_removes(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    volume = add_data_volume(name, home)
    subprocess.run(["docker", "exec", "-d", f"vmtemp-{name}", "sleep", "1000"], check=True)

    child = spawn("destroy", name)
    child.expect(r"Destroy temp VM")
    shown = child.before
    assert "sleep 1000" in shown  # the user's process, with pid, user and elapsed time
    assert re.search(r"\d+\s+\S+\s+[\d:-]+\s+sleep 1000", shown), shown
    assert "vmtemp-keepalive" not in shown and "ps -o" not in shown
    size = re.search(rf"volume {re.escape(volume)}: ([\d.]+)(kB|MB)", shown)
    assert size and float(size.group(1)) > 0, shown  # the volume with a non-zero size
    assert f"network vmtemp-{name}_default" in shown
    assert str(home / name) in shown
    assert "are not touched" in shown and str(project / "a") in shown
    child.send("n")
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5
    # No: nothing removed
    assert volume in by_project(name)["volume"]
    assert (home / name).exists()
    assert subprocess.run(["docker", "exec", f"vmtemp-{name}", "test", "-s", "/data/blob"]).returncode == 0

    child = spawn("destroy", name)
    child.expect(r"Destroy temp VM")
    child.send("y")
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert all_gone(name, home)
    assert (project / "a" / "hello.txt").read_text() == "hello from a\n"


def test_no_terminal_no_flag_exit_5_and_dry_run_removes_nothing(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    r = run("destroy", name)
    assert r.returncode == 5 and "--yes" in r.stderr
    assert f"network vmtemp-{name}_default" in r.stdout  # shown before refusing
    r = run("destroy", name, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"vmtemp-{name}" in r.stdout and "dry run: nothing was removed" in r.stdout
    assert "are not touched" in r.stdout
    assert not nothing_labelled(name) and (home / name).exists()
    assert run("status", "-n", name, "--json", check=True).stdout.count('"running"') == 1


def test_yes_refuses_while_processes_run_unless_force(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    subprocess.run(["docker", "exec", "-d", f"vmtemp-{name}", "sleep", "1000"], check=True)
    r = run("destroy", name, "--yes")
    assert r.returncode == 5 and "--force" in r.stderr and "sleep 1000" in r.stdout
    assert (home / name).exists() and not nothing_labelled(name)
    r = run("destroy", name, "--force")
    assert r.returncode == 0, r.stderr
    assert all_gone(name, home)


def test_force_removes_vm_whose_container_and_mount_source_are_gone(engine, home, name, project):
    assert run("create", "./a", "./b", "-n", name, cwd=project).returncode == 0
    subprocess.run(["docker", "rm", "-f", f"vmtemp-{name}"], check=True, capture_output=True)
    shutil.rmtree(project / "b")
    r = run("destroy", name, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "missing" in r.stdout and "phantom" in r.stderr
    assert all_gone(name, home)
    assert (project / "a" / "hello.txt").exists()


@pytest.mark.parametrize("corrupt,why", [
    (lambda text: "services: [this is: {not valid\n", "not valid YAML"),
    (lambda text: re.sub(r"    volumes:\n(      .*\n)+", "    volumes: 5\n", text), "is not a list"),
])
def test_corrupt_compose_file_does_not_stop_destroy(engine, home, name, project, corrupt, why):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    path = home / name / "compose.yaml"
    path.write_text(corrupt(path.read_text()))
    r = run("destroy", name, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert why in r.stderr and f"vmtemp-{name}" in r.stdout
    r = run("destroy", name, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all_gone(name, home)


@pytest.fixture
def foreign_container():
    """A container of another tool; removed afterwards."""
    made = []

    def make(*args: str) -> str:
        cname = f"foreign-{uuid.uuid4().hex[:8]}"
        subprocess.run(["docker", "run", "-d", "--name", cname, *args, IMAGE, "sleep", "1000"], check=True,
                       capture_output=True)
        made.append(cname)
        return cname

    yield make
    for c in made:
        subprocess.run(["docker", "rm", "-f", c], capture_output=True)


def test_unremovable_part_exit_1_names_it_then_retry_finishes(engine, home, name, project, foreign_container):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    network = f"vmtemp-{name}_default"
    other = foreign_container("--network", network)  # another tool holds the network
    r = run("destroy", name, "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert network in r.stderr and "remain" in r.stderr
    assert not by_project(name)["container"] and not subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=dev.vmtemp.name={name}"], capture_output=True, text=True
    ).stdout.strip()  # what could go, went
    assert (home / name).exists()  # kept, so the rest can still be removed
    assert subprocess.run(["docker", "inspect", other], capture_output=True).returncode == 0  # not vmtemp's: untouched
    subprocess.run(["docker", "rm", "-f", other], check=True, capture_output=True)
    r = run("destroy", name, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all_gone(name, home)


def test_snapshots_kept_unless_asked(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    r = run("snapshot", "save", "-n", name, "keep1")
    assert r.returncode == 0, r.stderr
    r = run("destroy", name, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"snapshot vmtemp-snap/{name}:keep1: kept" in r.stdout
    snap = subprocess.run(["docker", "image", "inspect", f"vmtemp-snap/{name}:keep1"], capture_output=True)
    assert snap.returncode == 0
    assert not (home / name).exists() and not live_tags(name)
    r = run("destroy", name, "--snapshots", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert nothing_labelled(name)


def test_all_with_yes_still_lists(engine, home, names, project):
    first, second = names(), names()
    for n, folder in ((first, "./a"), (second, "./b")):
        assert run("create", folder, "-n", n, cwd=project).returncode == 0
    r = run("destroy", "--all", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    for n in (first, second):
        assert f"temp VM {n!r}: running" in r.stdout and f"network vmtemp-{n}_default" in r.stdout
        assert all_gone(n, home)
