"""Snapshots on the real engine: save, list, restore (mounts kept), rm, destroy keeps them."""

from __future__ import annotations

import json

from conftest import run, vm_exec


def test_snapshot_save_restore_rm(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    c = f"vmtemp-{name}"
    assert vm_exec(c, "sh", "-c", "echo one > /opt/state").returncode == 0
    r = run("snapshot", "save", "-n", name, "first")
    assert r.returncode == 0, r.stderr
    assert vm_exec(c, "sh", "-c", "echo two > /opt/state").returncode == 0
    listed = json.loads(run("snapshot", "list", "-n", name, "--json", check=True).stdout)
    assert [s["tag"] for s in listed] == ["first"]
    assert run("snapshot", "save", "-n", name, "first").returncode == 2  # exists already
    assert run("snapshot", "save", "-n", name, "Bad/Tag").returncode == 2
    r = run("snapshot", "restore", "-n", name, "first")
    assert r.returncode == 5 and "--yes" in r.stderr  # no terminal, no flag
    assert vm_exec(c, "cat", "/opt/state").stdout == "two\n"
    r = run("snapshot", "restore", "-n", name, "first", "--yes")
    assert r.returncode == 0, r.stderr
    assert vm_exec(c, "cat", "/opt/state").stdout == "one\n"
    assert vm_exec(c, "cat", "/workspace/a/hello.txt").stdout == "hello from a\n"  # mounts kept
    assert run("snapshot", "rm", "-n", name, "nope").returncode == 2
    assert run("snapshot", "rm", "-n", name, "first").returncode == 0
    assert json.loads(run("snapshot", "list", "-n", name, "--json", check=True).stdout) == []
