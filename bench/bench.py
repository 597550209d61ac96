#!/usr/bin/env python3
"""vmtemp against the raw engine, in one run: medians and ratios.

    python3 bench/bench.py [--rounds N] [--only create,exec,list,mount,concurrent]

Needs the engine, the compose plugin and the test image (tests/build-test-image.sh).
Uses a private VMTEMP_HOME and removes everything it makes (by label).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

IMAGE = os.environ.get("VMTEMP_TEST_IMAGE", "vmtemp-test:busybox")
VMTEMP = str(Path(sys.executable).with_name("vmtemp"))
DOCKER = shutil.which("docker") or "docker"


def timed(argv: list[str], **kw) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{r.stderr}")
    return elapsed


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def purge(prefix: str) -> None:
    r = subprocess.run([DOCKER, "ps", "-aq", "--filter", "label=dev.vmtemp.managed=true",
                        "--filter", f"label=vmtemp.bench={prefix}"], capture_output=True, text=True)
    for kind, ls in (("container", ["ps", "-a", "--format", "{{.Names}}"]), ("network", ["network", "ls", "--format", "{{.Name}}"]),
                     ("volume", ["volume", "ls", "--format", "{{.Name}}"]), ("image", ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])):
        r = subprocess.run([DOCKER, *ls, "--filter", "label=dev.vmtemp.managed=true"], capture_output=True, text=True)
        items = [x for x in r.stdout.split() if prefix in x]
        if items:
            rm = {"container": ["rm", "-f", "-v"], "network": ["network", "rm"], "volume": ["volume", "rm", "-f"],
                  "image": ["image", "rm", "-f"]}[kind]
            subprocess.run([DOCKER, *rm, *items], capture_output=True)


class Bench:
    def __init__(self, rounds: int):
        self.rounds = rounds
        # as after `pip install` (which byte-compiles): a checkout under PYTHONDONTWRITEBYTECODE
        # would otherwise compile every module on every call
        import vmtemp

        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(vmtemp.__file__).parent)], check=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="vmtemp-bench-"))
        self.prefix = "b" + uuid.uuid4().hex[:6]
        self.env = dict(os.environ, VMTEMP_HOME=str(self.tmp / "state"), VMTEMP_IMAGE=IMAGE,
                        XDG_CONFIG_HOME=str(self.tmp / "config"), NO_COLOR="1")
        self.env.pop("VMTEMP_NAME", None)
        self.proj = self.tmp / "proj"
        for sub in "abcdefghijklmnopqrst":
            (self.proj / sub).mkdir(parents=True)
        self.results: list[tuple[str, float, float, str]] = []

    def vmtemp(self, *args: str) -> list[str]:
        return [VMTEMP, *args]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.vmtemp(*args), cwd=self.proj, env=self.env, capture_output=True, text=True)

    def report(self, what: str, ours: float, raw: float, raw_what: str) -> None:
        self.results.append((what, ours, raw, raw_what))
        print(f"{what:<34} {ours:8.1f} ms   {raw_what:<36} {raw:8.1f} ms   ratio {ours / raw:5.2f}", flush=True)

    def bench_create(self) -> None:
        ours, raw = [], []
        for i in range(self.rounds):
            n = f"{self.prefix}-c{i}"
            ours.append(timed(self.vmtemp("create", "./a", "./b:ro", "-n", n), cwd=self.proj, env=self.env))
            compose = self.tmp / "state" / n / "compose.yaml"
            copy = self.tmp / f"raw-{i}.yaml"
            text = compose.read_text().replace(f"vmtemp-{n}", f"vmtemp-{n}-raw")
            copy.write_text(text)
            raw.append(timed([DOCKER, "compose", "-f", str(copy), "up", "-d"], env=self.env))
            subprocess.run([DOCKER, "compose", "-f", str(copy), "down", "-v", "-t", "0"], capture_output=True)
            self.run("destroy", n, "--quick")
        self.report("vmtemp create", median_ms(ours), median_ms(raw), "docker compose up -d (same file)")

    def ensure(self, n: str, *mounts: str) -> None:
        if not (self.tmp / "state" / n).exists():
            r = self.run("create", *(mounts or ("./a",)), "-n", n)
            if r.returncode != 0:
                raise SystemExit(r.stderr)

    def bench_exec(self) -> None:
        n = f"{self.prefix}-x"
        self.ensure(n)
        ours, raw = [], []
        for _ in range(self.rounds * 3):
            ours.append(timed(self.vmtemp("exec", "-n", n, "--", "true"), env=self.env))
            raw.append(timed([DOCKER, "exec", f"vmtemp-{n}", "true"]))
        self.report("vmtemp exec -- true", median_ms(ours), median_ms(raw), "docker exec true")

    def bench_shell(self) -> None:
        """`vmtemp exec` as typed in a shell with `eval "$(vmtemp init bash)"` loaded
        (the shell function's fast path), timed inside one bash against `docker exec`."""
        n = f"{self.prefix}-x"
        self.ensure(n)
        init = subprocess.run(self.vmtemp("init", "bash"), env=self.env, capture_output=True, text=True,
                              check=True).stdout
        script = self.tmp / "init.bash"
        script.write_text(init)
        rounds = self.rounds * 3
        code = (
            f"source {script}\n"
            "t() { local s=$EPOCHREALTIME; \"$@\" >/dev/null; local e=$EPOCHREALTIME; echo $(( ${e/./} - ${s/./} )); }\n"
            f"for ((i = 0; i < {rounds}; i++)); do\n"
            f"  echo ours $(t vmtemp exec -n {n} -- true)\n"
            f"  echo raw $(t docker exec vmtemp-{n} true)\n"
            "done\n"
        )
        out = subprocess.run(["bash", "--norc", "-c", code], env=self.env, cwd=self.proj, capture_output=True,
                             text=True, check=True).stdout
        samples: dict[str, list[float]] = {"ours": [], "raw": []}
        for line in out.splitlines():
            kind, micro = line.split()
            samples[kind].append(int(micro) / 1e6)
        self.report("vmtemp exec (shell function)", median_ms(samples["ours"]), median_ms(samples["raw"]),
                    "docker exec true")

    def bench_list(self) -> None:
        for i in range(10):
            self.ensure(f"{self.prefix}-l{i}")
        ours, ps, ls = [], [], []
        for _ in range(self.rounds * 3):
            ours.append(timed(self.vmtemp("list", "--json"), env=self.env))
            ps.append(timed([DOCKER, "ps", "-a", "--filter", "label=dev.vmtemp.managed=true", "--format", "json"]))
            ls.append(timed([DOCKER, "compose", "ls", "--format", "json"]))
        self.report("vmtemp list --json (10+ VMs)", median_ms(ours), median_ms(ps), "docker ps --filter label --format json")
        self.report("vmtemp list --json (10+ VMs)", median_ms(ours), median_ms(ls), "docker compose ls --format json")

    def bench_mount(self) -> None:
        """A mount change (add or remove ./c) against compose applying the same change by hand."""
        n = f"{self.prefix}-m"
        self.ensure(n)
        ours = []
        for i in range(self.rounds * 2):
            args = ("mount", "./c") if i % 2 == 0 else ("unmount", "c")
            ours.append(timed(self.vmtemp(*args, "-n", n, "--yes"), cwd=self.proj, env=self.env))
        # the same change by hand: two compose files that differ by the ./c mount, applied in turn
        compose = (self.tmp / "state" / n / "compose.yaml").read_text()
        raw_project = f"{self.prefix}-raw-m"
        without = compose.replace(f"vmtemp-{n}", raw_project)
        with_c = without.replace("    volumes:\n", f"    volumes:\n      - type: bind\n        source: {self.proj / 'c'}\n"
                                 "        target: /workspace/c\n", 1)
        files = []
        for i, text in enumerate((with_c, without)):
            f = self.tmp / f"raw-mount-{i}.yaml"
            f.write_text(text)
            files.append(f)
        subprocess.run([DOCKER, "compose", "-f", str(files[1]), "up", "-d"], capture_output=True, check=True)
        raw = []
        for i in range(self.rounds * 2):
            raw.append(timed([DOCKER, "compose", "-f", str(files[i % 2]), "up", "-d"]))
        subprocess.run([DOCKER, "compose", "-f", str(files[1]), "down", "-v", "-t", "0"], capture_output=True)
        self.report("vmtemp mount/unmount (a change)", median_ms(ours), median_ms(raw),
                    "compose up -d of the changed file")

    def bench_concurrent(self) -> None:
        """16 concurrent mount requests on one temp VM: wall time and how many recreates."""
        n = f"{self.prefix}-q"
        self.ensure(n)
        log = self.tmp / "docker-calls.log"
        fake = Path(__file__).resolve().parent.parent / "tests" / "fake-docker"
        env = dict(self.env, VMTEMP_DOCKER=str(fake), FAKE_DOCKER_REAL=DOCKER, FAKE_DOCKER_LOG=str(log))
        folders = [self.tmp / "q" / f"f{i:02d}" for i in range(16)]
        for f in folders:
            f.mkdir(parents=True)
        t = time.perf_counter()
        procs = [subprocess.Popen(self.vmtemp("mount", "-n", n, str(f), "--yes"), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for f in folders]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - t
        recreates = sum(1 for line in log.read_text().splitlines() if line.startswith("compose") and " up" in line)
        print(f"{'16 concurrent vmtemp mount':<34} {1000 * wall:8.1f} ms   {recreates} recreate(s), "
              f"{codes.count(0)}/16 succeeded", flush=True)
        self.results.append(("16 concurrent mounts (wall)", 1000 * wall, float(recreates), "recreates"))

    def close(self) -> None:
        subprocess.run(self.vmtemp("destroy", "--all", "--quick"), env=self.env, capture_output=True)
        purge(self.prefix)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="create,exec,shell,list,mount,concurrent")
    ap.add_argument("--json", help="also write the results to this file")
    a = ap.parse_args()
    b = Bench(a.rounds)
    try:
        print(f"{'vmtemp':<34} {'median':>11}   {'raw engine':<36} {'median':>11}")
        for part in a.only.split(","):
            getattr(b, f"bench_{part.strip()}")()
    finally:
        b.close()
    if a.json:
        Path(a.json).write_text(json.dumps([dict(zip(("what", "ours_ms", "raw_ms", "raw"), r, strict=True)) for r in b.results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
