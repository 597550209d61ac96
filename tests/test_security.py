"""Security on the real engine: the bad-input corpus, the mount path policy, the audit
log and its hash chain, hardened containers, ownership, and the state folder's modes."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import stat
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import (
    IMAGE,
    ROOT,
    VMTEMP,
    engine_problem,
    fake_docker_env,
    inspect,
    nothing_labelled,
    purge,
    run,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DOCUMENTED_CAPS = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE"}
ME = getpass.getuser()
OTHER = "someone-else"


# --- snapshots: what "nothing changed" means --------------------------------------------


def tree(*roots: Path) -> dict[str, tuple]:
    """Every path under roots (roots included): type, mode, and content hash or link target."""
    out: dict[str, tuple] = {}

    def add(p: str) -> None:
        st = os.lstat(p)
        entry: tuple = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                entry += (hashlib.sha256(f.read()).hexdigest(),)
        elif stat.S_ISLNK(st.st_mode):
            entry += (os.readlink(p),)
        out[p] = entry

    for root in roots:
        if not os.path.lexists(root):
            out[str(root)] = ("absent",)
            continue
        add(str(root))
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                add(os.path.join(dirpath, n))
    return out


def engine_state(token: str) -> list[str]:
    """vmtemp's engine resources that this module could have made: named with its token, or
    with a name vmtemp should never accept. (Other tests share the engine at the same time.)"""
    found = []
    queries = [
        (["ps", "-a", "--filter", "label=dev.vmtemp.managed=true"],
         '{{.ID}} {{.State}} {{.Label "com.docker.compose.config-hash"}} {{.Label "dev.vmtemp.name"}}'),
        (["volume", "ls", "--filter", "label=dev.vmtemp.managed=true"], '{{.Name}} {{.Label "dev.vmtemp.name"}}'),
        (["network", "ls", "--filter", "label=dev.vmtemp.managed=true"], '{{.ID}} {{.Label "dev.vmtemp.name"}}'),
        (["image", "ls", "--filter", "reference=vmtemp-*/*"], "{{.ID}} {{.Repository}}"),
    ]
    images = subprocess.run(["docker", "image", "ls", "-q", "--filter", "label=dev.vmtemp.managed=true"],
                            capture_output=True, text=True, check=True).stdout.split()
    for args, fmt in queries + ([(["image", "inspect", *sorted(set(images))],
                                  '{{.Id}} {{index .Config.Labels "dev.vmtemp.name"}}')] if images else []):
        r = subprocess.run(["docker", *args, "--format", fmt], capture_output=True, text=True)
        if r.returncode != 0 and args[0] == "image":  # removed meanwhile by a test running beside this one
            continue
        assert r.returncode == 0, r.stderr
        for line in r.stdout.splitlines():
            vm = line.rsplit(" ", 1)[-1].rsplit("/", 1)[-1] if " " in line else ""
            if token in line or not NAME_RE.match(vm):
                found.append(f"{args[0]}: {line}")
    return sorted(found)


def require_engine() -> None:
    problem = engine_problem()
    if problem:
        if os.environ.get("VMTEMP_REQUIRE_ENGINE") == "1":
            pytest.fail(f"engine required (VMTEMP_REQUIRE_ENGINE=1) but {problem}")
        pytest.skip(problem)


def one_error(r: subprocess.CompletedProcess) -> str:
    """The error is one 'vmtemp:' line and one 'hint:' line; returns the first."""
    lines = r.stderr.splitlines()
    assert len(lines) == 2, f"expected 'vmtemp: ...' + 'hint: ...', got:\n{r.stderr}"
    assert lines[0].startswith("vmtemp: ") and lines[1].startswith("hint: ") and len(lines[1]) > 8, r.stderr
    return lines[0]


def docker_compose_up(compose: Path) -> None:
    r = subprocess.run(["docker", "compose", "-f", str(compose), "up", "-d"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def set_cache_key(state_dir: Path, name: str) -> None:
    """After a test restored a compose file by hand: point the cache at it again, so that
    later commands see exactly what they saw before."""
    state = state_dir / name / "state.json"
    data = json.loads(state.read_text())
    st = os.lstat(state_dir / name / "compose.yaml")
    data["compose_key"] = [st.st_mtime_ns, st.st_size, st.st_ino]
    state.write_text(json.dumps(data, indent=1))
    os.chmod(state, 0o600)


# --- the corpus ----------------------------------------------------------------------


@dataclass
class Ctx:
    root: Path
    home: Path
    config: Path
    proj: Path
    fakehome: Path
    token: str
    vm: str
    env: dict[str, str]

    def sub(self, text: str) -> str:
        return (text.replace("@VM@", self.vm).replace("@NEW@", f"{self.token}-new").replace("@P@", str(self.proj))
                .replace("@H@", str(self.fakehome)).replace("@T@", str(self.root)).replace("@S@", str(self.home))
                .replace("@C@", str(self.config)))

    @property
    def compose(self) -> Path:
        return self.home / self.vm / "compose.yaml"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    require_engine()
    root = tmp_path_factory.mktemp("sec")
    token = f"sec{uuid.uuid4().hex[:6]}"
    c = Ctx(root=root, home=root / "state", config=root / "config", proj=root / "proj", fakehome=root / "fakehome",
            token=token, vm=f"{token}-vm",
            env={"VMTEMP_HOME": str(root / "state"), "XDG_CONFIG_HOME": str(root / "config"), "VMTEMP_IMAGE": IMAGE,
                 "NO_COLOR": "1", "VMTEMP_NAME": "", "VMTEMP_DOCKER": "", "VMTEMP_DEBUG": "",
                 "VMTEMP_LOCK_TIMEOUT": "120"})
    for sub in ("a", "b", "c"):
        (c.proj / sub).mkdir(parents=True)
        (c.proj / sub / "f.txt").write_text(sub)
    for sub in (".ssh", ".aws", "code"):
        (c.fakehome / sub).mkdir(parents=True)
    (c.config / "vmtemp").mkdir(parents=True)
    bad = c.proj / "bad\nname"
    bad.mkdir()
    (c.proj / "newline-link").symlink_to(bad)
    (c.proj / "etclink").symlink_to("/etc")
    (c.proj / "socklink").symlink_to(docker_socket(root))
    (c.proj / "sshlink").symlink_to(c.fakehome / ".ssh")
    r = run("create", "./a", "-n", c.vm, cwd=c.proj, env=c.env)
    assert r.returncode == 0, r.stderr
    yield c
    purge(c.vm)
    purge(f"{token}-new")


def docker_socket(tmp: Path) -> str:
    """The real Docker socket, else a stand-in file of that name (the rule is by name too)."""
    for p in ("/var/run/docker.sock", "/run/docker.sock"):
        if os.path.exists(p):
            return p
    fake = tmp / "docker.sock"
    fake.write_text("")
    return str(fake)


def replace_compose(content: bytes | None = None, *, link_to: str | None = None, directory: bool = False,
                    remove: bool = False) -> Callable[[Ctx], Callable[[], None]]:
    def setup(c: Ctx) -> Callable[[], None]:
        original = c.compose.read_bytes()
        if link_to is not None or directory or remove:
            c.compose.unlink()
        if link_to is not None:
            target = c.sub(link_to)
            if target.endswith("copy.yaml"):
                Path(target).write_bytes(original)
            c.compose.symlink_to(target)
        elif directory:
            c.compose.mkdir()
        elif content is not None:
            c.compose.write_bytes(content)

        def restore() -> None:
            if c.compose.is_dir() and not c.compose.is_symlink():
                c.compose.rmdir()
            elif os.path.lexists(c.compose):
                c.compose.unlink()
            c.compose.write_bytes(original)
            os.chmod(c.compose, 0o600)
            set_cache_key(c.home, c.vm)

        return restore

    return setup


def edit_compose(old: str, new: str) -> Callable[[Ctx], Callable[[], None]]:
    def make(c: Ctx) -> Callable[[], None]:
        text = c.compose.read_text()
        assert c.sub(old) in text, c.sub(old)
        return replace_compose(text.replace(c.sub(old), c.sub(new), 1).encode())(c)

    return make


def write_config(text: str, *, template: str | None = None) -> Callable[[Ctx], Callable[[], None]]:
    def setup(c: Ctx) -> Callable[[], None]:
        path = c.config / "vmtemp" / ("config.yaml" if template is None else f"templates/{template}.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(c.sub(text))
        return path.unlink

    return setup


@dataclass
class Case:
    id: str
    argv: list[str]
    code: int = 2
    says: str = ""  # must appear in the error line (after @-substitution)
    setup: Callable[[Ctx], Callable[[], None]] | None = None
    env: dict[str, str] = field(default_factory=dict)


def create(*mounts: str, name: str = "@NEW@", extra: tuple[str, ...] = ()) -> list[str]:
    return ["create", *mounts, "-n", name, *extra]


CORPUS = [
    # --- names ---
    Case("name-dotdot", create("./a", name="../x"), says="invalid temp VM name"),
    Case("name-semicolon", create("./a", name="a;rm -rf ~"), says="invalid temp VM name"),
    Case("name-upper", create("./a", name="A"), says="invalid temp VM name"),
    Case("name-unicode", create("./a", name="é"), says="invalid temp VM name"),
    Case("name-unicode-long", create("./a", name="ünïcödé-ñame"), says="invalid temp VM name"),
    Case("name-fullwidth", create("./a", name="ａｂｃ"), says="invalid temp VM name"),
    Case("name-41-chars", create("./a", name="a" * 41), says="invalid temp VM name"),
    Case("name-empty", create("./a", name=""), says="invalid temp VM name"),
    Case("name-leading-dash", ["create", "./a", "-n", "-x"], says="-n/--name"),
    Case("name-space", create("./a", name="a b"), says="invalid temp VM name"),
    Case("name-slash", create("./a", name="a/b"), says="invalid temp VM name"),
    Case("name-dot", create("./a", name="."), says="invalid temp VM name"),
    Case("name-underscore-first", create("./a", name="_x"), says="invalid temp VM name"),
    Case("name-period", create("./a", name="a.b"), says="invalid temp VM name"),
    Case("name-subshell", create("./a", name="$(id)"), says="invalid temp VM name"),
    Case("name-newline", create("./a", name="a\nb"), says="invalid temp VM name"),
    Case("status-name-dotdot", ["status", "-n", "../x"], says="invalid temp VM name"),
    Case("status-name-empty", ["status", "-n", ""], says="invalid temp VM name"),
    Case("exec-name-semicolon", ["exec", "-n", "a;rm", "--", "true"], says="invalid temp VM name"),
    Case("destroy-name-dotdot", ["destroy", "../x", "--yes"], says="invalid temp VM name"),
    Case("destroy-dash-rf", ["destroy", "-rf"], says="unrecognized arguments"),
    Case("start-name-space", ["start", "-n", "x y"], says="invalid temp VM name"),
    Case("env-name-dotdot", ["status"], env={"VMTEMP_NAME": "../x"}, says="invalid temp VM name"),
    Case("audit-name-upper", ["audit", "-n", "A"], says="invalid temp VM name"),
    # --- mount specs: syntax ---
    Case("spec-colons", create("::"), says="cannot read mount spec"),
    Case("spec-four-parts", create("a:b:c:d"), says="cannot read mount spec"),
    Case("spec-relative-target", create("a:relative"), says="neither ro/rw"),
    Case("spec-bad-mode", create("a:/x:rx"), says="cannot read mount spec"),
    Case("spec-mode-as-target", create("a:ro:rw"), says="must be an absolute path"),
    Case("spec-empty-source", create(":/workspace/x"), says="source is empty"),
    Case("spec-missing-source", create("./no-such-dir"), says="does not exist"),
    Case("spec-same-target", create("./a", "./b:/workspace/a"), says="share the target"),
    Case("spec-same-source-twice", create("./a", "./a"), says="share the target"),
    # --- mount specs: targets ---
    Case("target-dotdot", create("a:/workspace/../etc"), says="'.' or '..'"),
    Case("target-dot", create("a:/workspace/./x"), says="'.' or '..'"),
    Case("target-root", create("a:/"), says="system folder /"),
    Case("target-proc", create("a:/proc"), says="system folder /proc"),
    Case("target-etc", create("a:/etc"), says="system folder /etc"),
    Case("target-usr", create("a:/usr"), says="system folder /usr"),
    Case("target-lib64", create("a:/lib64"), says="system folder /lib64"),
    Case("target-under-sys", create("a:/sys/kernel"), says="system folder /sys/kernel"),
    Case("target-double-slash", create("a://etc"), says="system folder /etc"),
    Case("target-newline", create("a:/workspace/x\ny"), says="control character"),
    Case("target-long-name", create("a:/workspace/" + "x" * 300), says="too long"),
    Case("target-4k", create("a:" + "/x" * 2100), says="too long"),
    # --- mount specs: sources with control characters and odd lengths ---
    # NUL cannot pass through argv or the environment (both are C strings): the config
    # and compose-file cases below carry it through YAML's "\0" instead.
    Case("source-newline", create("a\nb"), says="control character"),
    Case("source-tab", create("a\tb"), says="control character"),
    Case("source-escape", create("a\x1b[31mred"), says="control character"),
    Case("source-del", create("a\x7f"), says="control character"),
    Case("source-link-to-newline-name", create("./newline-link:/workspace/n"), says="control character"),
    Case("source-4k", create("a/" * 2048), says="too long"),
    # --- mount specs: the path policy ---
    Case("policy-root", create("/:/workspace/root"), says="policy rule: root"),
    Case("policy-etc", create("/etc"), says="policy rule: system-folder"),
    Case("policy-usr-share", create("/usr/share"), says="policy rule: system-folder"),
    Case("policy-proc-self", create("/proc/self:/workspace/p"), says="policy rule: system-folder"),
    Case("policy-symlink-etc", create("./etclink"), says="policy rule: system-folder"),
    Case("policy-socket", create("/var/run/docker.sock"), says="policy rule: docker-socket"),
    Case("policy-symlink-socket", create("./socklink"), says="policy rule: docker-socket"),
    Case("policy-run", create("/run"), says="policy rule: docker-socket"),
    Case("policy-home", create("~:/workspace/home"), env={"HOME": "@H@"}, says="policy rule: home"),
    Case("policy-ssh", create("~/.ssh"), env={"HOME": "@H@"}, says="policy rule: credentials"),
    Case("policy-aws", create("~/.aws"), env={"HOME": "@H@"}, says="policy rule: credentials"),
    Case("policy-symlink-ssh", create("./sshlink"), env={"HOME": "@H@"}, says="policy rule: credentials"),
    Case("policy-state-folder", create("@S@"), says="policy rule: state-folder"),
    Case("policy-own-folder", create("@S@/@VM@"), says="policy rule: state-folder"),
    Case("policy-holds-state", create("@T@"), says="policy rule: state-folder"),
    Case("policy-config-folder", create("@C@/vmtemp"), says="policy rule: config-folder"),
    Case("policy-long-form", ["create", "-n", "@NEW@", "--mount", "type=bind,source=/etc,target=/workspace/e"],
         says="policy rule: system-folder"),
    # --- long form ---
    Case("long-relative-target", ["create", "-n", "@NEW@", "--mount", "type=bind,source=a,target=rel"],
         says="not an absolute path"),
    Case("long-bad-type", ["create", "-n", "@NEW@", "--mount", "type=weird,source=a"], says="unknown mount type"),
    Case("long-no-source", ["create", "-n", "@NEW@", "--mount", "type=bind,target=/x"], says="has no source"),
    Case("long-two-sources", ["create", "-n", "@NEW@", "--mount", "source=a,source=b"], says="gives source twice"),
    Case("long-bad-readonly", ["create", "-n", "@NEW@", "--mount", "source=a,readonly=maybe"], says="--mount value"),
    Case("long-unknown-field", ["create", "-n", "@NEW@", "--mount", "bogus=1"], says="unknown --mount field"),
    Case("long-sync", ["create", "-n", "@NEW@", "--mount", "type=sync,source=a"], says="sync mounts"),
    Case("long-nfs-no-export", ["create", "-n", "@NEW@", "--mount", "type=nfs,source=nas"], says="SERVER:/EXPORT"),
    Case("long-newline", ["create", "-n", "@NEW@", "--mount", "type=bind,source=a\n,target=/x"],
         says="control character"),
    # --- templates ---
    Case("template-dotdot", create("./a", extra=("--template", "../default")), says="invalid template name"),
    Case("template-slash", create("./a", extra=("--template", "a/b")), says="invalid template name"),
    Case("template-abs", create("./a", extra=("--template", "/etc/passwd")), says="invalid template name"),
    Case("template-suffix", create("./a", extra=("--template", "default.yaml")), says="invalid template name"),
    Case("template-upper", create("./a", extra=("--template", "Default")), says="invalid template name"),
    Case("template-missing", create("./a", extra=("--template", "nope")), says="no template named"),
    Case("template-empty", create("./a", extra=("--template", "")), says="invalid template name"),
    Case("template-binds-etc", create("./a", extra=("--template", "etcside")), says="policy rule: system-folder",
         setup=write_config("services:\n  vm: {init: true}\n  side:\n    image: busybox\n"
                            "    volumes: ['/etc:/host-etc']\n", template="etcside")),
    Case("template-binds-socket", create("./a", extra=("--template", "sockside")), says="policy rule: docker-socket",
         setup=write_config("services:\n  vm: {init: true}\n  side:\n    image: busybox\n    volumes:\n"
                            "      - {type: bind, source: /var/run/docker.sock, target: /s}\n", template="sockside")),
    # --- the config file ---
    Case("config-nul-in-allow", create("./a"), says="control character",
         setup=write_config('policy:\n  allow: ["/tmp/a\\0b"]\n')),
    Case("config-relative-deny", create("./a"), says="not an absolute path",
         setup=write_config("policy:\n  deny: [relative/path]\n")),
    Case("config-deny-hit", create("./b"), says="policy rule: config-deny",
         setup=write_config("policy:\n  deny: ['@P@/b']\n")),
    Case("config-policy-string", create("./a"), says="'policy' must be a mapping",
         setup=write_config("policy: everything\n")),
    Case("config-not-yaml", create("./a"), says="not valid YAML", setup=write_config("a: [unclosed\n")),
    Case("config-unknown-key", create("./a"), says="unknown key", setup=write_config("privileged: true\n")),
    # --- other options ---
    Case("image-space", create("./a", extra=("--image", "a b")), says="invalid image name"),
    Case("image-dash", create("./a", extra=("--image=--privileged",)), says="invalid image name"),
    Case("exec-no-command", ["exec", "-n", "@VM@"], says="no command given"),
    Case("audit-since-word", ["audit", "--since", "banana"], says="cannot read --since"),
    Case("audit-since-ago", ["audit", "--since", "2h ago"], says="cannot read --since"),
    Case("destroy-names-and-all", ["destroy", "@VM@", "--all", "--yes"], says="not both"),
    Case("auto-destroy-alone", create("./a", extra=("--auto-destroy",)), says="--auto-destroy"),
    Case("unknown-command", ["frobnicate"], says="invalid choice"),
    Case("unknown-option", ["status", "--bogus"], says="unrecognized arguments"),
    Case("no-such-vm", ["status", "-n", "@NEW@"], says="no temp VM named"),
    # --- corrupted files of a real temp VM: exit 1, naming the file and the fix ---
    Case("compose-not-yaml", ["status", "-n", "@VM@"], code=1, says="@S@/@VM@/compose.yaml is not valid YAML",
         setup=replace_compose(b"services: [unclosed\n  : :\n")),
    Case("compose-a-list", ["exec", "-n", "@VM@", "--", "true"], code=1, says="not a compose file",
         setup=replace_compose(b"- just\n- a list\n")),
    Case("compose-empty", ["start", "-n", "@VM@"], code=1, says="not a compose file", setup=replace_compose(b"")),
    Case("compose-no-vm-service", ["status", "-n", "@VM@"], code=1, says="has no 'vm' service",
         setup=replace_compose(b"services:\n  other: {image: x}\n")),
    Case("compose-binary", ["status", "-n", "@VM@"], code=1, says="cannot read compose file",
         setup=replace_compose(b"\xff\xfe\x00garbage\x00")),
    Case("compose-symlink-copy", ["status", "-n", "@VM@"], code=1, says="is a symbolic link",
         setup=replace_compose(link_to="@T@/copy.yaml")),
    Case("compose-symlink-passwd", ["exec", "-n", "@VM@", "--", "true"], code=1, says="is a symbolic link",
         setup=replace_compose(link_to="/etc/passwd")),
    Case("compose-missing", ["status", "-n", "@VM@"], code=1, says="has no compose file",
         setup=replace_compose(remove=True)),
    Case("compose-is-folder", ["status", "-n", "@VM@"], code=1, says="cannot read compose file",
         setup=replace_compose(directory=True)),
    Case("compose-container-name-option", ["exec", "-n", "@VM@", "--", "true"], code=1,
         says="not a valid container name", setup=edit_compose("container_name: vmtemp-@VM@", "container_name: --privileged")),
    Case("compose-nul-in-source", ["status", "-n", "@VM@"], code=1, says="control character",
         setup=edit_compose("source: @P@/a", 'source: "@P@/a\\0b"')),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_input_corpus(ctx, case):
    """Each hostile input: exit 2 (corrupted files: exit 1 naming the file), one line and a
    hint, and nothing changed in the state and config folders nor in the engine."""
    restore = case.setup(ctx) if case.setup else None
    try:
        before = tree(ctx.home, ctx.config, ctx.proj), engine_state(ctx.token)
        argv = [ctx.sub(a) for a in case.argv]
        env = {**ctx.env, **{k: ctx.sub(v) for k, v in case.env.items()}}
        r = run(*argv, cwd=ctx.proj, env=env)
        after = tree(ctx.home, ctx.config, ctx.proj), engine_state(ctx.token)
    finally:
        if restore is not None:
            restore()
    assert r.returncode == case.code, f"{argv!r} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    line = one_error(r)
    assert ctx.sub(case.says) in line, line
    assert r.stdout == ""
    assert before[0] == after[0], "files changed"
    assert before[1] == after[1], "engine resources changed"


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 60
    assert sum(1 for c in CORPUS if c.code == 1) >= 8


def test_corrupted_index_files_are_ignored(ctx):
    """state.json is a cache of the compose file: unreadable or implausible, it is ignored
    (with a warning naming it and the fix); it never sends a command to another container."""
    state = ctx.home / ctx.vm / "state.json"
    good = json.loads(state.read_text())
    other = f"{ctx.token}-other"
    forged = {**good, "owner": "nobody"}
    variants = {
        "garbage": b"{{{ not json",
        "empty": b"",
        "list": b"[1, 2, 3]",
        "nul": b"\x00\x00\x00",
        "forged-container": json.dumps({**good, "container": "--privileged"}).encode(),
        "wrong-types": json.dumps({**good, "mounts": [{"source": 1, "target": [], "mode": None}]}).encode(),
        "other-vm": json.dumps({**good, "name": other, "container": other}).encode(),
        "other-container": json.dumps({**good, "container": other}).encode(),
        "another-owner": json.dumps(forged).encode(),
    }
    original = state.read_bytes()
    try:
        for label, content in variants.items():
            state.write_bytes(content)
            before = tree(ctx.home)
            r = run("status", "-n", ctx.vm, "--json", env=ctx.env)
            assert r.returncode == 0, (label, r.stderr)
            rec = json.loads(r.stdout)
            assert rec["container"] == f"vmtemp-{ctx.vm}" and rec["status"] == "running", label
            if label != "another-owner":  # a plausible cache is used as is; the others are named
                assert any("state.json is ignored" in w for w in rec["warnings"]), (label, rec["warnings"])
            r = run("exec", "-n", ctx.vm, "--", "cat", "/workspace/a/f.txt", env=ctx.env)
            if label == "another-owner":
                assert r.returncode == 2 and "belongs to nobody" in r.stderr
            else:
                assert (r.returncode, r.stdout) == (0, "a"), (label, r.stderr)
            assert tree(ctx.home) == before, label
    finally:
        state.write_bytes(original)


# --- the path policy, allowed and audited ---------------------------------------------


def test_sensitive_paths_refused_then_allowed_and_audited(engine, home, names, tmp_path, project):
    fake_home = tmp_path / "fakehome"
    (fake_home / ".ssh").mkdir(parents=True)
    (fake_home / ".ssh" / "id_test").write_text("not a real key\n")
    (fake_home / ".aws").mkdir()
    sock = docker_socket(tmp_path)
    (project / "etclink").symlink_to("/etc")
    env = {"HOME": str(fake_home)}
    if os.path.isdir(os.path.expanduser("~/.docker")):  # the compose plugin may live there
        env["DOCKER_CONFIG"] = os.path.expanduser("~/.docker")
    specs = {
        "~/.ssh:/workspace/ssh:ro": ("credentials", str(fake_home / ".ssh")),
        "/etc:/workspace/etc:ro": ("system-folder", "/etc"),
        f"{sock}:/workspace/docker.sock:ro": ("docker-socket", os.path.realpath(sock)),
        "./etclink:/workspace/etclink:ro": ("system-folder", "/etc"),
    }
    refused = names()
    for spec, (rule, _) in specs.items():
        r = run("create", spec, "-n", refused, cwd=project, env=env)
        assert r.returncode == 2, r.stderr
        line = one_error(r)
        assert f"policy rule: {rule}" in line
        assert "--allow-sensitive" in r.stderr and "policy.allow" in r.stderr
    assert not (home / refused).exists() and nothing_labelled(refused)
    assert not (home / "audit.jsonl").exists()

    allowed = names()
    # --quick: the socket's mode (no x bit) fails the access probe; the engine check still runs
    r = run("create", *specs, "-n", allowed, "--allow-sensitive", "--quick", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    info = inspect(f"vmtemp-{allowed}")
    got = {m["Destination"]: (m["Source"], m["RW"]) for m in info["Mounts"]}
    assert got["/workspace/ssh"] == (str(fake_home / ".ssh"), False)
    assert got["/workspace/etc"][1] is False
    entries = json.loads(run("audit", "-n", allowed, "--json", check=True).stdout)
    sensitive = [e for e in entries if e["action"] == "allow-sensitive"]
    assert sorted((e["source"], e["target"]) for e in sensitive) == sorted(
        (src, spec.split(":")[1]) for spec, (_, src) in specs.items())
    for e in sensitive:
        rule = specs[next(s for s in specs if s.split(":")[1] == e["target"])][0]
        assert e["rule"].startswith(rule) and "allowed by --allow-sensitive" in e["rule"]
        assert (e["user"], e["vm"], e["mode"], e["result"]) == (ME, allowed, "ro", "ok")
    # status shows the socket mount as an extra privilege
    status = json.loads(run("status", "-n", allowed, "--json", env=env, check=True).stdout)
    assert any("Docker socket" in w for w in status["warnings"])

    # the config's allow list lets a path through too, and that is audited as well
    (home.parent / "config" / "vmtemp").mkdir(parents=True, exist_ok=True)
    (home.parent / "config" / "vmtemp" / "config.yaml").write_text(f"policy:\n  allow: [{fake_home}/.aws]\n")
    by_config = names()
    r = run("create", "~/.aws:/workspace/aws:ro", "-n", by_config, cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    e = [e for e in json.loads(run("audit", "-n", by_config, "--json", check=True).stdout)
         if e["action"] == "allow-sensitive"]
    assert len(e) == 1 and e[0]["source"] == str(fake_home / ".aws") and "config allow list" in e[0]["rule"]
    assert run("audit", "--verify").returncode == 0


# --- the audit log ----------------------------------------------------------------------


FIELDS = ("time", "user", "vm", "action", "source", "target", "mode", "result")


def verify_names(expected_entry: int) -> None:
    r = run("audit", "--verify")
    assert r.returncode == 1, r.stdout + r.stderr
    line = one_error(r)
    m = re.search(r"entry (\d+) is bad", line)
    assert m and int(m.group(1)) == expected_entry, line


def test_audit_session_and_tamper_evidence(engine, home, names, project, tmp_path):
    n1, n2, n3, n4 = names(), names(), names(), names()
    ok = {"check": True, "cwd": project}
    session = [
        (("create", "./a", "-n", n1), ("create", n1, None, None, None)),
        (("create", "./b", "-n", n2), ("create", n2, None, None, None)),
        (("mount", "-n", n1, "./c", "--yes"), ("mount", n1, str(project / "c"), "/workspace/c", "rw")),
        (("protect", "-n", n1, "c", "--yes"), ("protect", n1, str(project / "c"), "/workspace/c", "ro")),
        (("unprotect", "-n", n1, "c", "--yes"), ("unprotect", n1, str(project / "c"), "/workspace/c", "rw")),
        (("unmount", "-n", n1, "c", "--yes"), ("unmount", n1, str(project / "c"), "/workspace/c", "rw")),
        (("mount", "-n", n2, "./d:ro", "--yes"), ("mount", n2, str(project / "d"), "/workspace/d", "ro")),
        (("unprotect", "-n", n2, "d", "--yes"), ("unprotect", n2, str(project / "d"), "/workspace/d", "rw")),
        (("protect", "-n", n2, "d", "--yes"), ("protect", n2, str(project / "d"), "/workspace/d", "ro")),
        (("unmount", "-n", n2, "d", "--yes"), ("unmount", n2, str(project / "d"), "/workspace/d", "ro")),
        (("create", "./c", "-n", n3), ("create", n3, None, None, None)),  # fails: see below
        (("create", "./c", "-n", n3), ("create", n3, None, None, None)),
        (("mount", "-n", n3, "./d", "--yes"), ("mount", n3, str(project / "d"), "/workspace/d", "rw")),
        (("unmount", "-n", n3, "d", "--yes"), ("unmount", n3, str(project / "d"), "/workspace/d", "rw")),
        (("destroy", n3, "--yes"), ("destroy", n3, None, None, None)),
        (("create", "./d:ro", "-n", n4), ("create", n4, None, None, None)),
        (("destroy", n4, "--yes"), ("destroy", n4, None, None, None)),
        (("destroy", n2, "--yes"), ("destroy", n2, None, None, None)),
        (("mount", "-n", n1, "./d", "--yes"), ("mount", n1, str(project / "d"), "/workspace/d", "rw")),
        (("destroy", n1, "--yes", "--force"), ("destroy", n1, None, None, None)),
    ]
    assert len(session) == 20
    fail = fake_docker_env(tmp_path, fail="compose up")
    for i, (argv, _) in enumerate(session):
        if i == 10:
            r = run(*argv, cwd=project, env=fail)
            assert r.returncode == 1 and "rolled back" in r.stderr, r.stderr
        else:
            run(*argv, **ok)
    entries = json.loads(run("audit", "--json", check=True).stdout)
    assert len(entries) == 20, [(e["action"], e["vm"]) for e in entries]
    for n, (e, (_, want)) in enumerate(zip(entries, session, strict=True), 1):
        assert all(k in e for k in FIELDS), e
        assert (e["action"], e["vm"], e["source"], e["target"], e["mode"]) == want, (n, e)
        assert e["user"] == ME and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", e["time"])
        assert e["result"] == ("ok" if n != 11 else e["result"]) and e["seq"] == n
    assert entries[10]["result"].startswith("failed")
    log = home / "audit.jsonl"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert run("audit", "--verify", check=True).stdout.startswith("audit log intact: 20 entries")

    # the filters
    mine = json.loads(run("audit", "-n", n2, "--json", check=True).stdout)
    assert [e["action"] for e in mine] == ["create", "mount", "unprotect", "protect", "unmount", "destroy"]
    assert len(json.loads(run("audit", "--since", "1h", "--json", check=True).stdout)) == 20
    assert json.loads(run("audit", "--since", "2999-01-01", "--json", check=True).stdout) == []
    assert len(json.loads(run("audit", "--since", "2000-01-01T00:00:00Z", "--json", check=True).stdout)) == 20
    human = run("audit", "-n", n1, check=True).stdout
    assert "TIME" in human and "/workspace/c" in human

    # tampering: each kind of change on each line names the first bad entry
    original = log.read_text()
    lines = original.splitlines(keepends=True)
    try:
        for i in range(20):
            edited = json.loads(lines[i])
            edited["result"] = "nothing to see"
            log.write_text("".join(lines[:i] + [json.dumps(edited, sort_keys=True) + "\n"] + lines[i + 1:]))
            verify_names(i + 1)
            log.write_text("".join(lines[:i] + lines[i + 1:]))  # removed
            verify_names(i + 1)
            if i < 19:
                swapped = lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2:]
                log.write_text("".join(swapped))
                verify_names(i + 1)
                # edited with its own hash recomputed: the next entry's link gives it away
                forged = json.loads(lines[i])
                forged["source"] = "/elsewhere"
                body = {k: v for k, v in forged.items() if k != "hash"}
                forged["hash"] = hashlib.sha256(
                    json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
                log.write_text("".join(lines[:i] + [json.dumps(forged, sort_keys=True) + "\n"] + lines[i + 1:]))
                verify_names(i + 1)
        log.write_text(original + lines[-1])  # a line appended by hand
        verify_names(21)
        log.write_text("")  # everything removed: audit.head still knows
        verify_names(1)
    finally:
        log.write_text(original)
    assert run("audit", "--verify").returncode == 0


# --- hardened containers ---------------------------------------------------------------


def test_default_container_is_hardened(engine, home, name, project):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    info = inspect(f"vmtemp-{name}")
    host = info["HostConfig"]
    assert host["Privileged"] is False
    assert [c.upper().removeprefix("CAP_") for c in host["CapDrop"]] == ["ALL"]
    assert {c.upper().removeprefix("CAP_") for c in host["CapAdd"]} == DOCUMENTED_CAPS
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["NetworkMode"] != "host" and host["PidMode"] == "" and host["IpcMode"] != "host"
    assert not host.get("Devices")
    assert not any("docker.sock" in (m.get("Source") or "") for m in info["Mounts"])
    rec = json.loads(run("status", "-n", name, "--json", check=True).stdout)
    assert rec["extra_privileges"] == [] and not any("privilege" in w for w in rec["warnings"])
    # the kernel agrees: no capability beyond the documented set, no privilege gain
    status = subprocess.run(["docker", "exec", f"vmtemp-{name}", "cat", "/proc/1/status"], capture_output=True,
                            text=True, check=True).stdout
    assert re.search(r"NoNewPrivs:\s+1", status)
    bound = int(re.search(r"CapBnd:\s+([0-9a-f]+)", status).group(1), 16)
    allowed_bits = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
                    "NET_BIND_SERVICE": 10}
    assert bound & ~sum(1 << b for b in allowed_bits.values()) == 0


def test_documented_caps_match_templates_and_docs():
    from vmtemp import hardening

    assert set(hardening.DOCUMENTED_CAPS) == DOCUMENTED_CAPS
    doc = (ROOT / "docs" / "security.md").read_text()
    for cap in DOCUMENTED_CAPS:
        assert f"`{cap}`" in doc, cap
    assert "root-equivalent" in doc
    for t in (ROOT / "compose-templates").glob("*.yaml"):
        text = t.read_text()
        assert "cap_drop: [ALL]" in text and "no-new-privileges:true" in text and "privileged" not in text, t
        for added in re.findall(r"cap_add: \[(.*)\]", text):
            assert {c.strip() for c in added.split(",")} <= DOCUMENTED_CAPS, t


def test_template_privileges_are_explicit_and_shown(engine, home, names, project):
    templates = home.parent / "config" / "vmtemp" / "templates"
    templates.mkdir(parents=True)
    (templates / "debugger.yaml").write_text(
        "services:\n  vm:\n    init: true\n    command: [sh, -c, 'while :; do sleep 86400 & wait $$!; done']\n"
        "    cap_drop: [ALL]\n    cap_add: [CHOWN, SYS_PTRACE]\n    pid: host\n"
        "    security_opt: ['no-new-privileges:true']\n")
    name = names()
    r = run("create", "./a", "-n", name, "--template", "debugger", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "SYS_PTRACE" in r.stderr and "pid: host" in r.stderr  # said at create time
    rec = json.loads(run("status", "-n", name, "--json", check=True).stdout)
    assert any("SYS_PTRACE" in p for p in rec["extra_privileges"])
    assert any("process namespace" in p for p in rec["extra_privileges"])
    human = run("status", "-n", name, check=True).stderr
    assert "extra privilege" in human and "SYS_PTRACE" in human


def test_templates_cannot_bypass_read_only_default(engine, home, names, project):
    config = home.parent / "config" / "vmtemp"
    (config / "templates").mkdir(parents=True)
    (config / "config.yaml").write_text("default_mode: ro\n")
    (config / "templates" / "withdata.yaml").write_text(
        "services:\n  vm:\n    init: true\n    command: [sh, -c, 'while :; do sleep 86400 & wait $$!; done']\n"
        "    cap_drop: [ALL]\n    security_opt: ['no-new-privileges:true']\n"
        "  side:\n    init: true\n    command: [sh, -c, 'while :; do sleep 86400 & wait $$!; done']\n"
        "    cap_drop: [ALL]\n    security_opt: ['no-new-privileges:true']\n"
        f"    volumes:\n      - {project}/c:/data\n      - {project}/d:/data2:rw\n"
        f"      - {{type: bind, source: {project}/b, target: /data3}}\n")
    name = names()
    r = run("create", "./a", "-n", name, "--template", "withdata", cwd=project)
    assert r.returncode == 0, r.stderr
    vm = inspect(f"vmtemp-{name}")
    assert [m["RW"] for m in vm["Mounts"] if m["Destination"] == "/workspace/a"] == [False]
    side = inspect(f"vmtemp-{name}-side-1")
    assert {m["Destination"]: m["RW"] for m in side["Mounts"] if m["Type"] == "bind"} == {
        "/data": False, "/data2": False, "/data3": False}
    w = subprocess.run(["docker", "exec", f"vmtemp-{name}-side-1", "touch", "/data2/x"], capture_output=True)
    assert w.returncode != 0 and not (project / "d" / "x").exists()


# --- ownership ---------------------------------------------------------------------


def give_away(home: Path, name: str, owner: str) -> None:
    """Make a temp VM look like another user's: its compose file and its labels."""
    compose = home / name / "compose.yaml"
    text = compose.read_text()
    assert f"owner: {ME}" in text
    compose.write_text(text.replace(f"owner: {ME}", f"owner: {owner}"))
    docker_compose_up(compose)
    assert inspect(f"vmtemp-{name}")["Config"]["Labels"]["dev.vmtemp.owner"] == owner


def test_another_users_temp_vm(engine, home, names, project):
    theirs, mine = names(), names()
    assert run("create", "./a", "-n", theirs, cwd=project).returncode == 0
    assert run("create", "./b", "-n", mine, cwd=project).returncode == 0
    give_away(home, theirs, OTHER)

    listed = {v["name"] for v in json.loads(run("list", "--json", check=True).stdout)}
    assert mine in listed and theirs not in listed
    everyone = {v["name"]: v for v in json.loads(run("list", "--json", "--all-users", check=True).stdout)}
    assert everyone[theirs]["owner"] == OTHER and everyone[mine]["owner"] == ME
    assert theirs not in run("list", check=True).stdout

    for argv in (["exec", "-n", theirs, "--", "true"], ["enter", "-n", theirs], ["destroy", theirs, "--yes"],
                 ["mount", "-n", theirs, "./c", "--yes"], ["protect", "-n", theirs, "a", "--yes"],
                 ["unmount", "-n", theirs, "a", "--yes"]):
        before = tree(home)
        r = run(*argv, cwd=project)
        assert r.returncode == 2, (argv, r.stderr)
        assert f"belongs to {OTHER}" in one_error(r)
        assert "--force" in r.stderr
        assert tree(home) == before
    assert inspect(f"vmtemp-{theirs}")["State"]["Running"]

    r = run("destroy", "--all", "--yes")  # skips theirs, says so
    assert r.returncode == 0, r.stderr
    assert f"skipping temp VM {theirs!r}" in r.stderr
    assert nothing_labelled(mine) and inspect(f"vmtemp-{theirs}") is not None

    assert run("exec", "-n", theirs, "--force", "--", "true").returncode == 0
    assert run("destroy", theirs, "--force").returncode == 0
    assert nothing_labelled(theirs) and not (home / theirs).exists()


# --- the state folder ----------------------------------------------------------------


STATE_COMMANDS = [
    ["list"], ["list", "--json"], ["status", "-n", "x"], ["mounts", "-n", "x"], ["exec", "-n", "x", "--", "true"],
    ["enter", "-n", "x"], ["start", "-n", "x"], ["stop", "-n", "x"], ["destroy", "x", "--yes"], ["destroy", "--all"],
    ["create", "./a", "-n", "x"], ["mount", "-n", "x", "./b"], ["audit"], ["audit", "--verify"],
    ["compose-file", "-n", "x"],
]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722, 0o702])
def test_state_folder_writable_by_others_is_refused(engine, home, name, project, mode):
    assert run("create", "./a", "-n", name, cwd=project).returncode == 0
    os.chmod(home, mode)
    try:
        before = tree(home)
        for argv in STATE_COMMANDS:
            argv = [name if a == "x" else a for a in argv]
            r = run(*argv, cwd=project)
            assert r.returncode == 2, (argv, r.stdout, r.stderr)
            line = one_error(r)
            assert str(home) in line and "writable by" in line
            assert f"chmod 700 {home}" in r.stderr
        assert tree(home) == before
        assert run("--help").returncode == 0 and run("templates").returncode == 0
    finally:
        os.chmod(home, 0o700)
    assert run("list", check=True).stdout.count(name) == 1


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the folder away")
def test_state_folder_of_another_user_is_refused(home, tmp_path):
    home.mkdir(mode=0o700)
    os.chown(home, 65534, 65534)
    r = run("list")
    assert r.returncode == 2 and "belongs to uid 65534" in one_error(r)


def test_state_folder_is_private_whatever_the_umask(engine, home, name, project):
    env = dict(os.environ)
    r = subprocess.run([*VMTEMP, "create", "./a", "-n", name], cwd=project, env=env, capture_output=True, text=True,
                       preexec_fn=lambda: os.umask(0), stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert run("audit", "--verify").returncode == 0
    checked = 0
    for dirpath, _dirnames, filenames in os.walk(home):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for f in filenames:
            p = os.path.join(dirpath, f)
            assert stat.S_IMODE(os.lstat(p).st_mode) == 0o600, p
            checked += 1
    assert checked >= 5  # compose.yaml, state.json, mounts.list, audit log and head, locks
