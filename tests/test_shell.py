"""Shell integration in real bash and zsh: `vmtemp use`, the prompt hook, `vm temp`,
and tab completion that never starts Python or Docker."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAKE_DOCKER, ROOT, VMTEMP, run
from shellpty import TabShell, bash_complete, split_like_readline

from vmtemp import cli, shellinit
from vmtemp.names import NAME_RE

SHELLS = ("bash", "zsh")
BIN_DIR = str(Path(VMTEMP[0]).parent)
BASH, ZSH = shutil.which("bash") or "bash", shutil.which("zsh") or "zsh"


def sh(shell: str, code: str, *, env: dict | None = None, cwd=None, strict: bool = True):
    """Run code in `bash --norc` (set -euo pipefail when strict) or `zsh -f`."""
    full = dict(os.environ)
    full.update(env or {})
    if shell == "bash":
        argv = [BASH, "--norc", "--noprofile", "-c", ("set -euo pipefail\n" if strict else "") + code]
    else:
        argv = [ZSH, "-f", "-c", code]
    return subprocess.run(argv, env=full, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def scripts(tmp_path):
    """`vmtemp init SHELL` of the real executable, saved to files."""
    out = {}
    for shell in SHELLS:
        r = run("init", shell, check=True)
        path = tmp_path / f"init.{shell}"
        path.write_text(r.stdout)
        out[shell] = path
    return out


# --- the scripts themselves ---------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_init_and_completion_scripts_parse(shell):
    for what in ("init", "completion"):
        text = run(what, shell, check=True).stdout
        assert "@VMTEMP_" not in text
        checker = ["bash", "--norc", "-n"] if shell == "bash" else ["zsh", "-f", "-n"]
        r = subprocess.run(checker, input=text, capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, (what, r.stderr)
    init = run("init", shell, check=True).stdout
    assert run("completion", shell, check=True).stdout in init  # init includes the completion


def test_shellcheck_reports_nothing():
    init = run("init", "bash", check=True).stdout
    for args, stdin in ((["shell/vmtemp.bash", "completions/vmtemp.bash"], None), (["-s", "bash", "-"], init)):
        r = subprocess.run(["shellcheck", *args], cwd=ROOT, input=stdin, capture_output=True, text=True)
        assert r.returncode == 0 and not r.stdout, r.stdout


def test_the_executable_is_baked_in_with_a_path_fallback(tmp_path, home):
    text = run("init", "bash", check=True).stdout
    baked = re.search(r"^\s*\\builtin local bin=(.*)$", text, re.M).group(1)
    assert shlex.split(baked) == [os.path.abspath(VMTEMP[0])] or VMTEMP[0] == sys.executable
    # the baked path gone: `vmtemp` on PATH runs
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "vmtemp").write_text("#!/bin/sh\necho from-path \"$@\"\n")
    (fake / "vmtemp").chmod(0o755)
    for shell in SHELLS:
        gone = tmp_path / f"gone.{shell}"
        gone.write_text(shellinit.init_script(shell, bin_path=str(tmp_path / "no" / "vmtemp")))
        r = sh(shell, f"source {gone}; vmtemp --version", env={"PATH": f"{fake}:{os.environ['PATH']}"})
        assert r.stdout == "from-path --version\n", (shell, r.stdout, r.stderr)
        # the baked path there: the vmtemp on PATH is not used
        r = sh(shell, f"eval \"$({shlex.quote(VMTEMP[0])} init {shell})\"; vmtemp --version",
               env={"PATH": f"{fake}:{os.environ['PATH']}"})
        assert r.stdout.startswith("vmtemp "), (shell, r.stdout, r.stderr)


def test_init_and_completion_import_nothing_heavy():
    for argv in (["init", "bash"], ["init", "zsh"], ["completion", "zsh"]):
        code = ("import sys, io, contextlib\nfrom vmtemp import cli\n"
                f"with contextlib.redirect_stdout(io.StringIO()):\n    cli.main({argv!r})\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] in ('python_on_whales', 'pydantic', "
                "'questionary', 'ruamel', 'filelock')))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert r.stdout == "[]\n", (argv, r.stdout, r.stderr)


def test_use_in_the_program_explains_the_integration(home):
    r = run("use", "t1", env={"SHELL": "/bin/bash"})
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("vmtemp: ") and "shell integration" in lines[0]
    assert lines[1].startswith("hint: ") and 'eval "$(vmtemp init bash)"' in lines[1]


# --- acceptance 1: vmtemp use, status on the chosen temp VM, hooks registered once ----


@pytest.mark.parametrize("shell", SHELLS)
def test_use_sets_vmtemp_name_and_status_acts_on_it(engine, home, names, project, shell):
    t1, t2 = names(), names()
    for n in (t1, t2):
        assert run("create", "./a", "-n", n, cwd=project).returncode == 0
    code = (
        f'eval "$({shlex.quote(VMTEMP[0])} init {shell})"\n'
        f"vmtemp use {t1}\n"
        'echo "NAME=$VMTEMP_NAME"\n'
        "vmtemp status --json\n"
    )
    r = sh(shell, code, env={"PATH": f"{BIN_DIR}:{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    first, _, rest = r.stdout.partition("\n")
    assert first == f"NAME={t1}"
    assert json.loads(rest)["name"] == t1
    # without the selection status cannot tell which one
    assert run("status").returncode == 2
    # `vmtemp use` alone clears it; an unknown or invalid name is refused and changes nothing
    code = (
        f"source {shlex.quote(str(write_init(home.parent, shell)))}\n"
        f"vmtemp use {t2}; vmtemp use; echo \"cleared=${{VMTEMP_NAME:-}}\"\n"
        f"vmtemp use {t2}; vmtemp use nope-{t1} || echo \"rc=$? kept=$VMTEMP_NAME\"\n"
        f"vmtemp use 'Bad Name' || echo \"rc=$? kept=$VMTEMP_NAME\"\n"
    )
    r = sh(shell, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["cleared=", f"rc=2 kept={t2}", f"rc=2 kept={t2}"]
    assert f"no temp VM named 'nope-{t1}'" in r.stderr and "hint: vmtemp list" in r.stderr


def write_init(folder: Path, shell: str) -> Path:
    path = folder / f"vmtemp-init.{shell}"
    path.write_text(run("init", shell, check=True).stdout)
    return path


@pytest.mark.parametrize("shell", SHELLS)
def test_use_accepts_exactly_the_names_vmtemp_accepts(home, shell):
    candidates = ["a", "t1", "web-2", "x_y", "0", "a" * 40, "a" * 41, "A", "-a", "_a", "a.b", "a b", "é",
                  "a/b", "..", "logs2", "a;b", "ab\u00e9"]
    for c in candidates:
        if "/" not in c and c not in ("..",):
            (home / c).mkdir(parents=True, exist_ok=True)
    script = write_init(home.parent, shell)
    for c in candidates:
        r = sh(shell, f"source {script}; vmtemp use {shlex.quote(c)}; echo \"[$VMTEMP_NAME]\"", strict=False)
        accepted = r.returncode == 0 and r.stdout == f"[{c}]\n"
        assert accepted == bool(NAME_RE.match(c)), (shell, c, r.stdout, r.stderr)


@pytest.mark.parametrize("shell", SHELLS)
def test_sourcing_twice_leaves_one_hook_and_the_prompt_segment(home, shell):
    (home / "t1").mkdir(parents=True)
    script = write_init(home.parent, shell)
    if shell == "bash":
        count = 'echo "hooks=$(grep -o __vmtemp_hook <<<"$PROMPT_COMMAND" | wc -l)"'
        completions = 'echo "complete=$(complete -p | grep -c " vmtemp$")"'
        run_hooks = "eval \"$PROMPT_COMMAND\""
    else:
        count = 'echo "hooks=${#${(@M)precmd_functions:#__vmtemp_hook}}"'
        completions = "echo complete=1"
        run_hooks = "for f in $precmd_functions; do $f; done"
    code = (
        "PS1='$ '\n"
        f"source {script}\nsource {script}\n{count}\n{completions}\n"
        "VMTEMP_PROMPT=1; vmtemp use t1\n"
        f"{run_hooks}; {run_hooks}\n"
        'echo "ps1=[$PS1]"\n'
        "vmtemp use; " + run_hooks + '; echo "ps1=[$PS1]"\n'
        "VMTEMP_NAME=gone; " + run_hooks + '; echo "ps1=[$PS1]"\n'
        "VMTEMP_PROMPT=0; " + run_hooks + '; echo "ps1=[$PS1]"; echo "seg=[$(__vmtemp_prompt)]"\n'
    )
    r = sh(shell, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "hooks=1", "complete=1", "ps1=[(vmtemp:t1) $ ]", "ps1=[$ ]", "ps1=[(vmtemp:gone?) $ ]", "ps1=[$ ]",
        "seg=[(vmtemp:gone?) ]"]


@pytest.mark.parametrize("shell", SHELLS)
def test_vm_temp_only_when_no_other_vm_exists(tmp_path, home, shell):
    script = write_init(home.parent, shell)
    r = sh(shell, f"source {script}; vm temp --version; vm other || echo rc=$?")
    assert r.stdout.splitlines() == ["vmtemp " + run("--version").stdout.split()[-1], "rc=2"], r.stderr
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "vm").write_text("#!/bin/sh\necho the-other-vm \"$@\"\n")
    (bin_ / "vm").chmod(0o755)
    r = sh(shell, f"source {script}; vm temp x", env={"PATH": f"{bin_}:{os.environ['PATH']}"})
    assert r.stdout == "the-other-vm temp x\n", r.stderr


# --- the command table against the parser ------------------------------------------------


def parser_table() -> dict[str, dict[str, bool]]:
    """command (and alias) -> {option string: takes a value}"""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    table: dict[str, dict[str, bool]] = {}

    def walk(prefix: str, sub) -> None:
        for name, p in sub.choices.items():
            opts = {}
            for a in p._actions:
                if a.__class__.__name__ == "_SubParsersAction":
                    walk(f"{prefix}{name}/", a)  # e.g. snapshot/save
                for o in a.option_strings:
                    if o not in ("-h", "--help"):
                        opts[o] = a.nargs != 0
            table[prefix + name] = opts

    walk("", sub)
    return table


def script_table(path: Path) -> tuple[set[str], dict[str, dict[str, bool]]]:
    text = path.read_text()
    commands = set(re.search(r"^__vmtemp_commands='([^']*)'", text, re.M).group(1).split())
    block = re.search(r"# BEGIN vmtemp command table\n(.*?)# END vmtemp command table", text, re.S).group(1)
    table = {}
    for m in re.finditer(r"^\s+([a-z|/-]+)\) __vmtemp_o='([^']*)' __vmtemp_a=([a-z-]+) ;;$", block, re.M):
        opts = {o.split("=")[0]: "=" in o for o in m.group(2).split()}
        for name in m.group(1).split("|"):
            table[name] = opts
    return commands, table


def cli_md_commands() -> set[str]:
    """The commands the user-facing contract lists (some may not have landed yet)."""
    contract = ROOT.parent / "shared" / "CLI.md"
    found = {"ssh", "shell", "ls", "umount", "use"}
    if contract.exists():
        for row in re.findall(r"^\| `vmtemp ([a-z-]+)", contract.read_text(), re.M):
            found.add(row)
        found |= set(re.findall(r"`vmtemp [a-z-]+` / `(?:vmtemp )?([a-z-]+)`", contract.read_text()))
        found |= {"start", "stop", "restart", "protect", "unprotect", "export", "import"}
    return found


@pytest.mark.parametrize("path", ["completions/vmtemp.bash", "completions/_vmtemp"])
def test_completion_table_is_in_step_with_the_parser(path):
    commands, table = script_table(ROOT / path)
    parsed = parser_table()
    assert {t for t in table if "/" not in t} == commands, f"{path}: __vmtemp_commands and the table differ"
    missing = sorted(set(parsed) - set(table))
    assert not missing, f"{path}: add these commands to __vmtemp_commands and the table: {missing}"
    extra = sorted(t for t in set(table) - set(parsed) if t.split("/")[0] not in cli_md_commands())
    assert not extra, f"{path}: completes commands that neither the parser nor CLI.md has: {extra}"
    for name, opts in parsed.items():
        want = " ".join(o + ("=" if v else "") for o, v in opts.items())
        assert table[name] == opts, f"{path}: options of {name!r} differ from the parser; the parser has: {want}"


def test_bash_and_zsh_tables_are_the_same():
    assert script_table(ROOT / "completions/vmtemp.bash") == script_table(ROOT / "completions/_vmtemp")


def test_split_like_readline():
    assert split_like_readline("vmtemp mount ./src:r") == ["vmtemp", "mount", "./src", ":", "r"]
    assert split_like_readline("vmtemp status --name=") == ["vmtemp", "status", "--name", "=", ""]
    assert split_like_readline("vmtemp unmount ") == ["vmtemp", "unmount", ""]
    assert split_like_readline("vmtemp mount my\\ d") == ["vmtemp", "mount", "my\\ d"]


# --- acceptance 2 and 3: completion, and nothing started on a TAB -----------------------


@pytest.fixture
def tab_world(engine, home, names, project, tmp_path):
    """Two real temp VMs (t1: a rw + b ro; t2: c), a real ./src folder, and a PATH
    on which python, docker and vmtemp only record that they were started."""
    t1, t2 = names(), names()
    assert run("create", "./a", "./b:ro", "-n", t1, cwd=project).returncode == 0
    assert run("create", "./c", "-n", t2, cwd=project).returncode == 0
    (project / "src" / "lib").mkdir(parents=True)
    (project / "srv").write_text("a file, not a folder\n")
    started = tmp_path / "started.log"
    started.write_text("")
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    for prog in ("python", "python3", f"python3.{sys.version_info.minor}", "docker", "vmtemp", "docker-compose"):
        (fakebin / prog).write_text(f"#!/bin/sh\necho \"{prog} $*\" >> {started}\n")
        (fakebin / prog).chmod(0o755)
    scripts = {}
    for shell in SHELLS:
        # the same script vmtemp init prints, with the program's path pointing at a recorder
        path = tmp_path / f"tab.{shell}"
        text = shellinit.init_script(shell, bin_path=str(fakebin / "vmtemp"))
        not_found = ("command_not_found_handle() { echo \"not-found $*\" >> %s; return 127; }" if shell == "bash"
                     else "command_not_found_handler() { echo \"not-found $*\" >> %s; return 127; }") % started
        path.write_text(text + "\n" + not_found + "\n")
        scripts[shell] = path
    env = dict(os.environ, PATH=str(fakebin), VMTEMP_DOCKER=str(FAKE_DOCKER),
               FAKE_DOCKER_LOG=str(started), HOME=str(tmp_path / "home"))
    env.pop("VMTEMP_NAME", None)
    (tmp_path / "home").mkdir()
    return {"t1": t1, "t2": t2, "project": project, "scripts": scripts, "env": env, "started": started,
            "tmp": tmp_path}


def mounts_of(project: Path) -> dict[str, list[str]]:
    a, b = str((project / "a").resolve()), str((project / "b").resolve())
    return {"all": ["/workspace/a", a, "/workspace/b", b], "rw": ["/workspace/a", a], "ro": ["/workspace/b", b]}


def test_bash_completion(tab_world):
    w = tab_world
    t1, t2, project, env, script = w["t1"], w["t2"], w["project"], w["env"], w["scripts"]["bash"]

    def comp(line, **extra):
        return bash_complete(script, line, env=dict(env, **extra), cwd=project)

    m = mounts_of(project)
    assert comp("vmtemp mou") == ["mounts", "mount"]
    assert comp("vmtemp mount ./sr") == ["./src/"]  # ./srv is a file
    assert sorted(comp("vmtemp mount ./src/")) == ["./src/:ro ", "./src/:rw ", "./src/lib/"]
    assert comp("vmtemp mount ./src:r") == ["ro ", "rw "]  # bash split the word at ':'
    assert comp("vmtemp create ./src:/w") == ["/workspace/src"]
    assert comp("vmtemp mount ./src:/x:r") == ["ro ", "rw "]
    # unmount: the selected temp VM's mounts (-n, else $VMTEMP_NAME); none when it cannot tell
    assert comp(f"vmtemp unmount -n {t1} ") == m["all"]
    assert comp("vmtemp unmount ", VMTEMP_NAME=t1) == m["all"]
    assert comp(f"vmtemp unmount --name={t1} /workspace/") == ["/workspace/a", "/workspace/b"]
    assert comp("vmtemp unmount ") == []
    assert comp(f"vmtemp protect -n {t1} ") == m["rw"]
    assert comp(f"vmtemp unprotect -n {t1} ") == m["ro"]
    # names
    assert sorted(comp("vmtemp status -n ")) == sorted([t1, t2])
    assert comp(f"vmtemp status --name={t1[:-1]}") == [t1]  # only the part after '=' is replaced
    assert comp(f"vmtemp destroy {t2[:-2]}") == [t2]
    assert sorted(comp("vmtemp use ")) == sorted([t1, t2])
    assert comp("vm temp sta") == ["status", "start"]
    assert sorted(comp("vmtemp create --template ")) == ["default", "sidecar"]
    assert comp("vmtemp init ") == ["bash", "zsh"]
    assert comp("vmtemp create --ro") == ["--ro-default"]
    assert comp("vmtemp --ver") == ["--version"]
    assert w["started"].read_text() == ""


def test_zsh_completion(tab_world):
    w = tab_world
    t1, t2, project = w["t1"], w["t2"], w["project"]
    m = mounts_of(project)
    z = TabShell("zsh", w["scripts"]["zsh"], env=w["env"], cwd=project, workdir=w["tmp"])
    try:
        assert z.tab("vmtemp mou")[0] == "vmtemp mount"
        assert z.tab("vmtemp mount ./sr")[0] == "vmtemp mount ./src/"
        line, cands = z.tab("vmtemp mount ./src/")
        assert {"./src/:ro", "./src/:rw"} <= set(cands) and "lib" in cands
        line, cands = z.tab("vmtemp mount ./src:r")
        assert sorted(cands) == ["ro", "rw"]
        line, cands = z.tab(f"vmtemp unmount -n {t1} ")
        assert sorted(cands) == sorted(m["all"])
        assert line == f"vmtemp unmount -n {t1} /"
        line, cands = z.tab(f"vmtemp protect -n {t1} ")
        assert sorted(cands) == sorted(m["rw"])
        line, cands = z.tab(f"vmtemp unprotect --name={t1} ")
        assert sorted(cands) == sorted(m["ro"])
        line, cands = z.tab("vmtemp status -n ")
        assert sorted(cands) == sorted([t1, t2])
        assert z.tab(f"vmtemp status -n {t2[:-2]}")[0] == f"vmtemp status -n {t2} "
        line, cands = z.tab("vmtemp create --template ")
        assert sorted(cands) == ["default", "sidecar"]
        assert z.tab("vm temp mou")[0] == "vm temp mount"
        z.child.sendline(f"vmtemp use {t1}")
        line, cands = z.tab("vmtemp unmount ")
        assert sorted(cands) == sorted(m["all"])
    finally:
        z.close()
    assert w["started"].read_text() == ""


def test_bash_real_tab(tab_world):
    """The same through readline: TAB pressed in an interactive bash."""
    w = tab_world
    b = TabShell("bash", w["scripts"]["bash"], env=w["env"], cwd=w["project"], workdir=w["tmp"])
    try:
        assert b.tab("vmtemp mou")[0] == "vmtemp mount"
        assert b.tab("vmtemp mount ./sr")[0] == "vmtemp mount ./src/"
        assert b.tab("vmtemp mount ./src:rw")[0] == "vmtemp mount ./src:rw "
        assert b.tab(f"vmtemp protect -n {w['t1']} /workspace/")[0] == f"vmtemp protect -n {w['t1']} /workspace/a "
        assert b.tab(f"vmtemp status --name={w['t2'][:-2]}")[0] == f"vmtemp status --name={w['t2']} "
    finally:
        b.close()
    assert w["started"].read_text() == ""


def test_the_recorders_do_record(tab_world):
    """The control for the tests above: running vmtemp, python, docker or any other
    program in those shells is seen."""
    w = tab_world
    for shell in SHELLS:
        w["started"].write_text("")
        r = sh(shell, f"source {w['scripts'][shell]}; vmtemp list; python3 -c 1; docker ps; ls", env=w["env"],
               strict=False)
        assert w["started"].read_text().splitlines() == ["vmtemp list", "python3 -c 1", "docker ps",
                                                         "not-found ls"], (shell, r.stderr)
