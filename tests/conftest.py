"""Test fixtures: a private VMTEMP_HOME per test, unique temp VM names cleaned up by
label, helpers to run the real vmtemp executable against the real engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
IMAGE = os.environ.get("VMTEMP_TEST_IMAGE", "vmtemp-test:busybox")
FAKE_DOCKER = TESTS / "fake-docker"
VMTEMP = [str(Path(sys.executable).with_name("vmtemp"))]
if not Path(VMTEMP[0]).exists():
    VMTEMP = [sys.executable, "-m", "vmtemp"]


def _engine_problem() -> str | None:
    if not shutil.which("docker"):
        return "docker is not installed"
    r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if r.returncode != 0:
        return "the Docker engine is not reachable: " + r.stderr.strip()[:200]
    r = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if r.returncode != 0:
        return "the docker compose plugin is missing"
    r = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, text=True)
    if r.returncode != 0:
        return f"the test image {IMAGE} is missing (run tests/build-test-image.sh)"
    return None


_PROBLEM: list[str | None] = []


def engine_problem() -> str | None:
    if not _PROBLEM:
        _PROBLEM.append(_engine_problem())
    return _PROBLEM[0]


@pytest.fixture
def engine():
    """Use in every test that needs the real engine: fails in CI, skips elsewhere."""
    problem = engine_problem()
    if problem:
        if os.environ.get("VMTEMP_REQUIRE_ENGINE") == "1":
            pytest.fail(f"engine required (VMTEMP_REQUIRE_ENGINE=1) but {problem}")
        pytest.skip(problem)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private state and config folder; the environment every vmtemp call gets."""
    h = tmp_path / "state"
    monkeypatch.setenv("VMTEMP_HOME", str(h))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("VMTEMP_IMAGE", IMAGE)
    monkeypatch.setenv("VMTEMP_LOCK_TIMEOUT", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("VMTEMP_NAME", raising=False)
    monkeypatch.delenv("VMTEMP_DOCKER", raising=False)
    monkeypatch.delenv("VMTEMP_DEBUG", raising=False)
    return h


def labelled(name: str, kinds=("container", "volume", "network", "image")) -> dict[str, list[str]]:
    out = {}
    for kind in kinds:
        args = {"container": ["ps", "-a"], "volume": ["volume", "ls"], "network": ["network", "ls"],
                "image": ["image", "ls"]}[kind]
        fmt = "{{.Name}}" if kind == "volume" else ("{{.ID}}" if kind == "image" else "{{.Names}}" if kind == "container" else "{{.Name}}")
        r = subprocess.run(["docker", *args, "--filter", f"label=dev.vmtemp.name={name}", "--format", fmt],
                           capture_output=True, text=True, check=True)
        out[kind] = r.stdout.split()
    return out


def nothing_labelled(name: str) -> bool:
    return not any(labelled(name).values())


def purge(name: str) -> None:
    project = f"vmtemp-{name}"
    subprocess.run(["docker", "rm", "-f", "-v", *labelled(name, ("container",))["container"]], capture_output=True)
    r = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                       capture_output=True, text=True)
    if r.stdout.split():
        subprocess.run(["docker", "rm", "-f", "-v", *r.stdout.split()], capture_output=True)
    found = labelled(name, ("volume", "network", "image"))
    if found["network"]:
        subprocess.run(["docker", "network", "rm", *found["network"]], capture_output=True)
    if found["volume"]:
        subprocess.run(["docker", "volume", "rm", "-f", *found["volume"]], capture_output=True)
    if found["image"]:
        subprocess.run(["docker", "image", "rm", "-f", *found["image"]], capture_output=True)
    # what carries only the compose project's label (hand-added volumes) and the working-image tag
    for kind in ("network", "volume"):
        r = subprocess.run(["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                           capture_output=True, text=True)
        if r.stdout.split():
            subprocess.run(["docker", kind, "rm", *r.stdout.split()], capture_output=True)
    r = subprocess.run(["docker", "image", "ls", f"vmtemp-live/{name}", "--format", "{{.Repository}}:{{.Tag}}"],
                       capture_output=True, text=True)
    if r.stdout.split():
        subprocess.run(["docker", "image", "rm", *r.stdout.split()], capture_output=True)


@pytest.fixture
def names():
    """Unique temp VM names; everything labelled with them is removed afterwards."""
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        n = f"{prefix}-{uuid.uuid4().hex[:8]}"
        made.append(n)
        return n

    yield make
    for n in made:
        purge(n)


@pytest.fixture
def name(names):
    return names()


def run(*args: str, cwd=None, input: str | None = None, env: dict | None = None, timeout: float = 120,
        check: bool = False) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    r = subprocess.run([*VMTEMP, *args], cwd=cwd, input=input, capture_output=True, text=True, env=full_env,
                       timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"vmtemp {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def vm_exec(container: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", container, *cmd], capture_output=True, text=True)


def inspect(container: str) -> dict | None:
    r = subprocess.run(["docker", "inspect", container], capture_output=True, text=True)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def fake_docker_env(tmp_path: Path, **settings: str) -> dict:
    env = {"VMTEMP_DOCKER": str(FAKE_DOCKER), "FAKE_DOCKER_REAL": shutil.which("docker"),
           "FAKE_DOCKER_COUNT_FILE": str(tmp_path / f"fake-count-{uuid.uuid4().hex[:6]}")}
    env.update({f"FAKE_DOCKER_{k.upper()}": v for k, v in settings.items()})
    return env


@pytest.fixture
def project(tmp_path):
    """Host folders to mount: a, b, c, d (each with a file)."""
    p = tmp_path / "proj"
    for sub in ("a", "b", "c", "d"):
        (p / sub).mkdir(parents=True)
        (p / sub / "hello.txt").write_text(f"hello from {sub}\n")
    return p
