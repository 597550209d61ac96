"""Real bash and zsh for the shell integration tests: TAB pressed in an interactive
shell on a pty, the line buffer read back through a key binding, and (zsh) every
candidate the completion offered captured from compadd."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pexpect

DUMP_KEY = "\x18\x04"  # C-x C-d: write the line buffer to a file
KILL_LINE = "\x15"  # C-u


class TabShell:
    """An interactive shell with the vmtemp integration loaded from ``script``.

    ``tab(text)`` types ``text``, presses TAB and returns the line buffer after the
    completion (and, in zsh, the candidates that matched).
    """

    def __init__(self, shell: str, script: Path, *, env: dict, cwd: Path, workdir: Path,
                 after_setup: list[str] = ()):
        self.shell = shell
        self.buf = workdir / f"{shell}-buffer"
        self.cands = workdir / f"{shell}-candidates"
        env = dict(env, TERM="xterm", INPUTRC="/dev/null", PROMPT_TOOLKIT_NO_CPR="1")
        buf = shlex.quote(str(self.buf))
        cands = shlex.quote(str(self.cands))
        if shell == "zsh":
            argv = [shutil.which("zsh"), "-f", "-i"]
            setup = [
                "autoload -Uz compinit && compinit -u -d " + shlex.quote(str(workdir / "zcompdump")),
                f"source {shlex.quote(str(script))}",
                f"__t_dump() {{ print -r -- \"$BUFFER\" >| {buf}; }}",
                "zle -N __t_dump && bindkey '^X^D' __t_dump",
                # every candidate that matched what is typed, then the real compadd
                "compadd() { local -a __t_m; if (( ${@[(I)-[OAD]*]} )); then builtin compadd \"$@\"; "
                f"return; fi; builtin compadd -O __t_m \"$@\"; print -rl -- $__t_m >> {cands}; "
                "builtin compadd \"$@\"; }",
            ]
        else:
            argv = [shutil.which("bash"), "--norc", "--noprofile", "-i"]
            setup = [
                f"source {shlex.quote(str(script))}",
                f"bind -x '\"\\C-x\\C-d\": printf \"%s\\n\" \"$READLINE_LINE\" >| {buf}'",
            ]
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(cwd), encoding="utf-8", timeout=15,
                                   dimensions=(50, 250))
        self.child.delaybeforesend = None  # pexpect sleeps 50 ms before each send otherwise
        for line in ["PS1='READY> '", *setup, *after_setup, "echo SETUP-''DONE"]:
            self.child.sendline(line)
        self.child.expect("SETUP-DONE")
        self.child.expect("READY> ")

    def tab(self, text: str) -> tuple[str, list[str]]:
        self.buf.unlink(missing_ok=True)
        self.cands.write_text("")
        self.child.send(text + "\t" + DUMP_KEY)
        self._wait_buffer()
        line = self.buf.read_text().rstrip("\n")
        cands = [c for c in self.cands.read_text().splitlines() if c]
        self.child.send(KILL_LINE)
        return line, cands

    def zle_timed_tab(self, text: str) -> float:
        """Milliseconds zsh spent completing (TAB bound to a widget that times
        expand-or-complete, the widget TAB runs by default)."""
        times = self.buf.with_name("zle-times")
        if not getattr(self, "_zle_timer", False):
            self.child.sendline("zmodload zsh/datetime; __t_tab() { local s=$EPOCHREALTIME; "
                                "zle expand-or-complete; print $(( (EPOCHREALTIME - s) * 1000 )) >> "
                                f"{shlex.quote(str(times))}; }}; zle -N __t_tab; bindkey '^I' __t_tab")
            self._zle_timer = True
        times.write_text("")
        self.tab(text)
        return float(times.read_text().split()[-1])

    def timed_tab(self, text: str) -> float:
        """Seconds from TAB to the completed line being readable (text typed first)."""
        self.buf.unlink(missing_ok=True)
        self.child.send(text + DUMP_KEY)
        self._wait_buffer()
        self.buf.unlink()
        start = time.perf_counter()
        self.child.send("\t" + DUMP_KEY)
        self._wait_buffer()
        elapsed = time.perf_counter() - start
        self.child.send(KILL_LINE)
        return elapsed

    def _wait_buffer(self) -> None:
        deadline = time.monotonic() + 10
        while not (self.buf.exists() and self.buf.read_text().endswith("\n")):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.shell}: no line buffer after TAB; screen: {self.screen()!r}")
            try:
                self.child.read_nonblocking(65536, timeout=0.001)
            except pexpect.TIMEOUT:
                pass

    def screen(self) -> str:
        try:
            self.child.expect("NEVER-SEEN", timeout=0.2)
        except pexpect.TIMEOUT:
            pass
        return self.child.before or ""

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.close(force=True)


def split_like_readline(line: str, wordbreaks: str = " \t\n\"'@><=;|&(:") -> list[str]:
    """COMP_WORDS as bash builds them: words split at blanks, and runs of the other
    COMP_WORDBREAKS characters as words of their own (enough for ':' and '=')."""
    words: list[str] = []
    cur = ""
    i = 0
    breaks = set(wordbreaks) - set(" \t\n\"'")
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur += line[i:i + 2]
            i += 2
            continue
        if ch in " \t":
            if cur:
                words.append(cur)
            cur = ""
        elif ch in breaks:
            if cur and not all(c in breaks for c in cur):
                words.append(cur)
                cur = ""
            cur += ch
            if i + 1 >= len(line) or line[i + 1] not in breaks:
                words.append(cur)
                cur = ""
        else:
            if cur and all(c in breaks for c in cur):
                words.append(cur)
                cur = ""
            cur += ch
        i += 1
    words.append(cur)
    return words


def bash_complete(script: Path, line: str, *, env: dict, cwd: Path, strict: bool = True) -> list[str]:
    """COMPREPLY of the vmtemp completion function for ``line`` (cursor at the end),
    the function driven through COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT in
    ``bash --norc`` (under ``set -euo pipefail`` when strict)."""
    words = split_like_readline(line)
    q = shlex.quote
    code = (
        ("set -euo pipefail\n" if strict else "")
        + f"source {q(str(script))}\n"
        + f"COMP_LINE={q(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        + f"COMP_WORDS=({' '.join(q(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        + f"__vmtemp_complete {q(words[0])} {q(words[-1])} {q(words[-2] if len(words) > 1 else '')}\n"
        + 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    r = subprocess.run([shutil.which("bash"), "--norc", "--noprofile", "-c", code], env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and not r.stderr, (line, r.returncode, r.stderr)
    return [c for c in r.stdout.split("\n") if c]


def shell_env(home_env: dict | None = None, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(home_env or {})
    env.update(extra)
    return env
