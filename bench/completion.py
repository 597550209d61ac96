#!/usr/bin/env python3
"""Tab completion latency in bash and zsh, and the shell start-up cost of the integration.

    python3 bench/completion.py [--rounds N]

Per TAB, for a path (`vmtemp mount ./sr`), a name (`vmtemp status -n t`) and a mount
(`vmtemp unmount -n t1 /w`), medians in milliseconds:
  in shell   bash: the completion function timed with $EPOCHREALTIME around it;
             zsh: TAB bound to a widget that times expand-or-complete inside zle
  pty        a real TAB typed into an interactive shell on a pty until the completed
             line is back; mostly the pty round trip: compare the native `ls ./sr` row
Start-up: `eval "$(vmtemp init SHELL)"` (runs vmtemp once) and `source` of the same
text saved in a file, each minus a bare shell start.

No engine needed: completion reads only the state folder, so the bench makes one
(20 temp VM folders with 8 mounts each in their mounts.list) in a temp dir.
The interactive-shell driver is the one the tests use (tests/shellpty.py).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from shellpty import TabShell, split_like_readline  # noqa: E402

VMTEMP = str(Path(sys.executable).with_name("vmtemp"))
if not Path(VMTEMP).exists():
    VMTEMP = shutil.which("vmtemp") or VMTEMP
CASES = {"path": "vmtemp mount ./sr", "name": "vmtemp status -n t", "mount": "vmtemp unmount -n t1 /w",
         "native ls": "ls ./sr"}


def make_world(tmp: Path) -> tuple[Path, dict]:
    state = tmp / "state"
    for i in range(1, 21):
        folder = state / f"t{i}"
        folder.mkdir(parents=True)
        (folder / "mounts.list").write_text(
            "".join(f"/workspace/m{j}\t/home/me/proj/m{j}\t{'ro' if j % 2 else 'rw'}\n" for j in range(8)))
    project = tmp / "proj"
    for sub in ("src/lib", "docs", "tests", "srv-data"):
        (project / sub).mkdir(parents=True)
    env = dict(os.environ, VMTEMP_HOME=str(state), HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "config"))
    env.pop("VMTEMP_NAME", None)
    return project, env


def bash_in_shell(script: Path, line: str, env: dict, cwd: Path, rounds: int) -> float:
    words = split_like_readline(line)
    if words[0] != "vmtemp":
        return float("nan")
    code = (
        f"source {shlex.quote(str(script))}\n"
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"for ((i = 0; i < {rounds}; i++)); do s=$EPOCHREALTIME; __vmtemp_complete; e=$EPOCHREALTIME; "
        "echo $(( ${e/./} - ${s/./} )); done\n"
    )
    r = subprocess.run(["bash", "--norc", "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return statistics.median(int(x) for x in r.stdout.split()) / 1000


def startup(shell: str, env: dict, cwd: Path, rounds: int, saved: Path) -> tuple[float, float]:
    flag = ["-f"] if shell == "zsh" else ["--norc", "--noprofile"]

    def med(code: str) -> float:
        samples = []
        for _ in range(rounds):
            t = time.perf_counter()
            subprocess.run([shell, *flag, "-c", code], env=env, cwd=cwd, check=True, capture_output=True)
            samples.append(time.perf_counter() - t)
        return 1000 * statistics.median(samples)

    bare = med(":")
    return med(f'eval "$({shlex.quote(VMTEMP)} init {shell})"') - bare, med(f"source {saved}") - bare


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="vmtemp-bench-completion-"))
    try:
        project, env = make_world(tmp)
        rows = {case: {} for case in CASES}
        starts = {}
        for shell in ("bash", "zsh"):
            saved = tmp / f"init.{shell}"
            saved.write_text(subprocess.run([VMTEMP, "init", shell], env=env, capture_output=True, text=True,
                                            check=True).stdout)
            work = tmp / f"work-{shell}"
            work.mkdir()
            ts = TabShell(shell, saved, env=env, cwd=project, workdir=work)
            try:
                for case, line in CASES.items():
                    if shell == "bash":
                        rows[case]["bash in shell"] = bash_in_shell(saved, line, env, project, args.rounds)
                    else:
                        rows[case]["zsh in shell"] = statistics.median(
                            ts.zle_timed_tab(line) for _ in range(args.rounds))
                ts.close()
                ts = TabShell(shell, saved, env=env, cwd=project, workdir=work)
                for case, line in CASES.items():
                    rows[case][f"{shell} pty"] = 1000 * statistics.median(
                        ts.timed_tab(line) for _ in range(args.rounds))
            finally:
                ts.close()
            starts[shell] = startup(shell, env, project, max(9, args.rounds // 2), saved)
        cols = ["bash in shell", "zsh in shell", "bash pty", "zsh pty"]
        print(f"per-TAB latency, median ms ({args.rounds} TABs each)")
        print(f"{'':<10}" + "".join(f"{c:>15}" for c in cols))
        for case, vals in rows.items():
            print(f"{case:<10}" + "".join(f"{vals.get(c, float('nan')):>15.2f}" for c in cols))
        print("\nshell start-up added, median ms")
        for shell, (ev, src) in starts.items():
            src_text = f"{src:6.1f}" if src >= 1 else "    <1"
            print(f"{shell:<5} eval \"$(vmtemp init {shell})\": {ev:7.1f}    source of the saved script: {src_text}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
