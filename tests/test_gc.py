"""gc on the real engine: orphans in both directions, by label only; and create's once-a-day hint."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
from conftest import IMAGE, ROOT, nothing_labelled, run


@pytest.fixture
def volumes():
    """Volumes and networks made by hand in a test; removed afterwards (labelled or not)."""
    made: list[tuple[str, str]] = []

    def make(kind: str, name: str, labels: dict[str, str]) -> str:
        args = [x for k, v in labels.items() for x in ("--label", f"{k}={v}")]
        subprocess.run(["docker", kind, "create", *args, name], check=True, capture_output=True)
        made.append((kind, name))
        return name

    yield make
    for kind, name in made:
        subprocess.run(["docker", kind, "rm", name], capture_output=True)


def vmtemp_labels(vm: str, home, owner: str | None = None) -> dict[str, str]:
    return {"dev.vmtemp.managed": "true", "dev.vmtemp.name": vm, "dev.vmtemp.owner": owner or getpass.getuser(),
            "dev.vmtemp.home": str(home)}


def exists(kind: str, name: str) -> bool:
    return subprocess.run(["docker", kind, "inspect", name], capture_output=True).returncode == 0


def listed(stdout: str) -> set[tuple[str, str]]:
    """(kind, name) of the rows of gc's table."""
    rows = set()
    for line in stdout.splitlines():
        m = re.match(r"^\s+(container|volume|network|image|folder)\s+(\S+)\s", line)
        if m:
            rows.add((m.group(1), m.group(2)))
    return rows


def fill(volume: str) -> None:
    subprocess.run(["docker", "run", "--rm", "-v", f"{volume}:/d", IMAGE, "sh", "-c",
                    "dd if=/dev/urandom of=/d/blob bs=1024 count=200 2>/dev/null"], check=True, capture_output=True)


def test_gc_lists_and_removes_exactly_the_orphans(engine, home, names, project, volumes):
    keep, broken, ghost = names(), names(), names()
    assert run("create", "./a", "-n", keep, cwd=project).returncode == 0
    assert run("create", "./b", "-n", broken, cwd=project).returncode == 0
    # a temp VM folder whose container was removed by hand
    subprocess.run(["docker", "rm", "-f", f"vmtemp-{broken}"], check=True, capture_output=True)
    # labelled engine resources with no temp VM folder
    gvol = volumes("volume", f"{ghost}-data", vmtemp_labels(ghost, home))
    fill(gvol)
    gnet = volumes("network", f"{ghost}-net", vmtemp_labels(ghost, home))
    # not orphans of ours: another tool's volume, another user's, another state folder's
    plain = volumes("volume", f"plain-{uuid.uuid4().hex[:8]}", {})
    other_user = volumes("volume", f"{ghost}-theirs", vmtemp_labels(ghost, home, owner="someone-else"))
    other_home = volumes("volume", f"{ghost}-elsewhere", vmtemp_labels(ghost, home.parent / "other-state"))

    expected = {("volume", gvol), ("network", gnet), ("folder", str(home / broken)),
                ("network", f"vmtemp-{broken}_default"), ("image", f"vmtemp-live/{broken}:current")}
    r = run("gc", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert listed(r.stdout) == expected, r.stdout
    size = re.search(rf"volume\s+{re.escape(gvol)}\s+\S+\s+([\d.]+)kB", r.stdout)
    assert size and float(size.group(1)) > 0, r.stdout  # listed with its size
    assert all(exists("volume", v) for v in (gvol, plain)) and (home / broken).exists()

    r = run("gc")  # no terminal, no --yes
    assert r.returncode == 5 and "--yes" in r.stderr
    assert exists("volume", gvol) and (home / broken).exists()

    r = run("gc", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert listed(r.stdout) == expected
    assert not exists("volume", gvol) and not exists("network", gnet)
    assert not (home / broken).exists() and nothing_labelled(broken)
    assert not subprocess.run(["docker", "image", "ls", "-q", f"vmtemp-live/{broken}"], capture_output=True,
                              text=True).stdout.strip()
    # untouched
    assert exists("volume", plain) and exists("volume", other_user) and exists("volume", other_home)
    st = json.loads(run("status", "-n", keep, "--json", check=True).stdout)
    assert st["status"] == "running" and (home / keep).exists()
    assert exists("container", f"vmtemp-{keep}") and exists("network", f"vmtemp-{keep}_default")

    r = run("gc", "--dry-run")
    assert r.returncode == 0 and listed(r.stdout) == set() and "no orphans" in r.stdout


def test_gc_skips_a_folder_a_live_vmtemp_is_working_on(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    subprocess.run(["docker", "rm", "-f", f"vmtemp-{name}"], check=True, capture_output=True)
    holder = home / ".locks" / f"{name}.holder"
    holder.write_text(json.dumps({"pid": os.getpid(), "command": "create", "since": time.time()}))
    r = run("gc", "--dry-run")
    assert r.returncode == 0 and ("folder", str(home / name)) not in listed(r.stdout), r.stdout
    dead = subprocess.Popen(["true"])
    dead.wait()
    holder.write_text(json.dumps({"pid": dead.pid, "command": "create", "since": time.time()}))
    r = run("gc", "--dry-run")
    assert ("folder", str(home / name)) in listed(r.stdout), r.stdout


def test_create_suggests_gc_once_a_day(engine, home, names, project, volumes):
    first, second, third, ghost = names(), names(), names(), names()
    r = run("create", "./a", "-n", first, cwd=project)
    assert r.returncode == 0 and "vmtemp gc" not in r.stdout + r.stderr  # no orphans: no line
    (home / ".gc-check").unlink()
    volumes("volume", f"{ghost}-data", vmtemp_labels(ghost, home))
    r = run("create", "./b", "-n", second, cwd=project)
    assert r.returncode == 0, r.stderr
    hints = [line for line in (r.stdout + r.stderr).splitlines() if "vmtemp gc" in line]
    assert len(hints) == 1 and ghost in hints[0], r.stderr
    r = run("create", "./c", "-n", third, cwd=project)
    assert r.returncode == 0 and "vmtemp gc" not in r.stdout + r.stderr  # not again the same day
    stamp = home / ".gc-check"
    old = time.time() - 25 * 3600
    os.utime(stamp, (old, old))
    r = run("create", "./d", "-n", names(), cwd=project)
    assert r.returncode == 0 and "vmtemp gc" in r.stderr  # a day later: checked again


def test_orphan_check_is_cheap(engine, home):
    code = ("import time; from vmtemp.commands import gc; t = time.perf_counter(); "
            "gc.find(kinds=('container', 'volume', 'network'), measure=False); print(time.perf_counter() - t)")
    times = []
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
        times.append(float(r.stdout))
    print(f"orphan check: median {sorted(times)[1] * 1000:.0f} ms")
    assert sorted(times)[1] < 1.0
