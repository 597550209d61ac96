"""Command-line parsing and dispatch: the one place that reads parsed arguments.

Only the standard library and vmtemp's light modules are imported here, so that
``--help``, parsing, ``init`` and ``completion`` stay fast; each command imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from vmtemp import __version__
from vmtemp.errors import INTERRUPTED, UsageError, VmtempError

PROG = "vmtemp"

EXAMPLES = {
    "create": """examples:
  vmtemp create ./src ./docs:ro            src read-write, docs read-only, under /workspace
  vmtemp create -n api ./api:/srv/api      a chosen name and container path
  vmtemp create --mount type=bind,source=./a:b,target=/workspace/ab,readonly
  vmtemp create --dry-run ./src            print the compose file and the commands, change nothing""",
    "enter": """examples:
  vmtemp enter                 a shell in the only (or the selected) temp VM
  cd src/lib && vmtemp enter   starts in /workspace/src/lib""",
    "exec": """examples:
  vmtemp exec -- make test
  vmtemp exec -n api --workdir /srv/api -- ls -la""",
    "list": "examples:\n  vmtemp list\n  vmtemp list --json | jq '.[].name'",
    "mount": """examples:
  vmtemp mount ./tests ./fixtures:ro      recreates the container; files made inside are kept
  vmtemp mount --dry-run ./c              the plan: what changes, recreate yes/no, what would stop""",
    "unmount": """examples:
  vmtemp unmount docs                     by basename, source path or container path
  vmtemp unmount --all""",
    "destroy": """examples:
  vmtemp destroy api           shows what goes, asks (default No)
  vmtemp destroy --all --yes   no question; still lists what it removes
  vmtemp destroy api --dry-run""",
    "gc": "examples:\n  vmtemp gc --dry-run     list orphans with sizes\n  vmtemp gc --yes         remove them",
    "doctor": "examples:\n  vmtemp doctor\n  vmtemp doctor -n api --fix",
    "migrate": "examples:\n  vmtemp migrate --dry-run\n  vmtemp migrate --from ~/backup/temp-vm.state",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and a hint, exit 2
        raise UsageError(message, hint=f"{self.prog} --help")


def _add_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--name", metavar="NAME", help="the temp VM (default: $VMTEMP_NAME, or the only one)")


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_change_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-y", "--yes", action="store_true", help="recreate even if processes run inside")
    p.add_argument("--quick", action="store_true", help="no questions")
    p.add_argument("--force", action="store_true", help="also past warnings (e.g. another user's temp VM)")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Throwaway dev containers (temp VMs) with chosen host folders mounted.",
        epilog="Start with: vmtemp create ./src ./docs:ro   then: vmtemp enter\n"
        "More: vmtemp COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vmtemp {__version__}")
    parser.add_argument("--debug", action="store_true", help="echo each engine command and its timing")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help_: str, aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, aliases=list(aliases), description=help_,
                              epilog=EXAMPLES.get(name), formatter_class=argparse.RawDescriptionHelpFormatter)

    p = cmd("create", "create and start a temp VM with host folders mounted")
    p.add_argument("mounts", nargs="*", metavar="MOUNT", help="SOURCE[:TARGET][:ro|rw]")
    _add_name(p)
    p.add_argument("--image", help="image to run (default: $VMTEMP_IMAGE, config default_image)")
    p.add_argument("--template", default="default", help="compose template (vmtemp templates list)")
    p.add_argument("--mount", dest="long_mounts", action="append", default=[], metavar="SPEC",
                   help="long form: type=bind|nfs|sync,source=...,target=...[,readonly]")
    p.add_argument("--ro-default", action="store_true", help="mounts are read-only unless :rw")
    p.add_argument("--no-smart-ro", action="store_true", help="do not make .git, node_modules, vendor read-only")
    p.add_argument("--allow-sensitive", action="store_true", help="allow sensitive paths (audited)")
    p.add_argument("--enter", action="store_true", help="open a shell in it once it runs")
    p.add_argument("--auto-destroy", action="store_true", help="with --enter: destroy it when the shell exits")
    p.add_argument("--dry-run", action="store_true", help="print the compose file and commands; change nothing")
    p.add_argument("--quick", action="store_true", help="skip the check inside the container")

    for name, aliases in (("enter", ("ssh", "shell")),):
        p = cmd(name, "open an interactive shell in a temp VM", aliases)
        _add_name(p)
        p.add_argument("--workdir", "-w", help="start here (default: the path of the current folder, if mounted)")
        p.add_argument("--user", "-u", help="user inside the container")
        p.add_argument("--force", action="store_true", help="even if another user owns it")

    p = cmd("exec", "run a command in a temp VM; its exit code is vmtemp's")
    _add_name(p)
    p.add_argument("--workdir", "-w")
    p.add_argument("--user", "-u")
    p.add_argument("--force", action="store_true", help="even if another user owns it")
    p.add_argument("command_", nargs=argparse.REMAINDER, metavar="-- CMD...")

    p = cmd("list", "list temp VMs: NAME STATUS IMAGE MOUNTS AGE", ("ls",))
    _add_json(p)
    p.add_argument("--all-users", action="store_true", help="also other users' temp VMs (read-only)")

    p = cmd("status", "one temp VM in detail, with warnings")
    _add_name(p)
    _add_json(p)

    p = cmd("mounts", "a temp VM's mounts and each one's health")
    _add_name(p)
    _add_json(p)

    for action, help_ in (("start", "start a temp VM and verify its mounts"), ("stop", "stop a temp VM"),
                          ("restart", "restart a temp VM and verify its mounts")):
        p = cmd(action, help_)
        _add_name(p)

    p = cmd("logs", "the container's logs")
    _add_name(p)
    p.add_argument("-f", "--follow", action="store_true")

    p = cmd("destroy", "remove temp VMs after showing what goes")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every temp VM")
    p.add_argument("-y", "--yes", action="store_true", help="answer yes to the question")
    p.add_argument("--force", action="store_true", help="also proceed past warnings and engine errors")
    p.add_argument("--quick", action="store_true", help="no question, no listing, no waiting")
    p.add_argument("--keep-volumes", action="store_true", help="keep its volumes (vmtemp gc lists them later)")
    p.add_argument("--snapshots", action="store_true", help="also delete its snapshot images (kept by default)")
    p.add_argument("--dry-run", action="store_true", help="show what would go; remove nothing")

    p = cmd("mount", "add mounts to a temp VM (recreates it, keeping what you made inside)")
    p.add_argument("mounts", nargs="*", metavar="MOUNT", help="SOURCE[:TARGET][:ro|rw]")
    _add_name(p)
    p.add_argument("--mount", dest="long_mounts", action="append", default=[], metavar="SPEC",
                   help="long form: type=bind|nfs|sync,source=...,target=...[,readonly]")
    _add_change_flags(p)
    p.add_argument("--allow-sensitive", action="store_true", help="allow sensitive paths (audited)")
    p.add_argument("--no-smart-ro", action="store_true", help="do not make .git, node_modules, vendor read-only")

    p = cmd("unmount", "remove mounts from a temp VM", ("umount",))
    p.add_argument("items", nargs="*", metavar="PATH-OR-TARGET")
    _add_name(p)
    p.add_argument("--all", action="store_true", help="remove every mount")
    _add_change_flags(p)

    for action, help_ in (("protect", "make mounts read-only"), ("unprotect", "make mounts writable")):
        p = cmd(action, help_)
        p.add_argument("items", nargs="+", metavar="PATH-OR-TARGET")
        _add_name(p)
        _add_change_flags(p)

    p = cmd("snapshot", "save, list, restore and remove snapshots of a temp VM")
    snap = p.add_subparsers(dest="snapshot_action", metavar="ACTION", parser_class=_Parser, required=True)
    q = snap.add_parser("save", help="commit the container to vmtemp-snap/<name>:TAG")
    _add_name(q)
    q.add_argument("tag", nargs="?", help="default: the date and time")
    q = snap.add_parser("list", help="the snapshots of a temp VM")
    _add_name(q)
    _add_json(q)
    q = snap.add_parser("restore", help="recreate the container from a snapshot (mounts unchanged)")
    _add_name(q)
    q.add_argument("tag")
    q.add_argument("-y", "--yes", action="store_true", help="do not ask")
    q = snap.add_parser("rm", help="remove snapshots")
    _add_name(q)
    q.add_argument("tags", nargs="+", metavar="TAG")

    p = cmd("export", "print a temp VM's definition to share (sources relative to its project)")
    _add_name(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    p = cmd("import", "create a temp VM from a definition made by vmtemp export")
    p.add_argument("file", metavar="FILE", help="the definition ('-' for stdin)")
    _add_name(p)
    p.add_argument("--dry-run", action="store_true", help="print the compose file and commands; change nothing")
    p.add_argument("--allow-sensitive", action="store_true", help="allow sensitive paths (audited)")

    p = cmd("suggest", "detected project type, suggested mounts and template")
    p.add_argument("directory", nargs="?", metavar="DIR")
    _add_json(p)

    p = cmd("history", "past mount sets per project folder")
    p.add_argument("directory", nargs="?", metavar="DIR", help="only this project folder")
    _add_json(p)

    p = cmd("compose-file", "print the path of a temp VM's compose file")
    _add_name(p)

    p = cmd("templates", "compose templates, built in and yours")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("template", nargs="?")

    p = cmd("audit", "the audit log of mount operations (who changed what a temp VM can see)")
    p.add_argument("-n", "--name", metavar="NAME", help="only this temp VM's entries")
    p.add_argument("--since", metavar="WHEN", help="only entries since WHEN: 2h, 3d, 2024-05-01, 2024-05-01T14:30")
    _add_json(p)
    p.add_argument("--verify", action="store_true", help="check the hash chain; exit 1 naming the first bad entry")

    for what, help_ in (("init", "print the shell integration: eval \"$(vmtemp init bash)\" in ~/.bashrc"),
                        ("completion", "print the tab completion script alone")):
        p = cmd(what, help_)
        p.add_argument("shell", choices=["bash", "zsh"])

    p = cmd("use", "select a temp VM for this shell (a shell function: needs vmtemp init)")
    p.add_argument("use_name", nargs="?", metavar="NAME")

    p = cmd("gc", "find and remove orphans: vmtemp's engine resources with no temp VM, and temp VMs "
                  "whose container is gone")
    p.add_argument("-y", "--yes", action="store_true", help="answer yes to the question")
    p.add_argument("--dry-run", action="store_true", help="list the orphans; remove nothing")

    p = cmd("doctor", "check the engine, compose, each temp VM's files against the engine, locks and orphans")
    _add_name(p)
    p.add_argument("--fix", action="store_true", help="apply the safe fixes (after asking)")
    p.add_argument("-y", "--yes", action="store_true", help="answer yes to the question")

    p = cmd("migrate", "import the state of the older 'vm temp' tool (~/.vm/temp-vm.state)")
    p.add_argument("--from", dest="from_", metavar="PATH", help="the state file (default: ~/.vm/temp-vm.state)")
    p.add_argument("--dry-run", action="store_true", help="print what it would do; change nothing")
    p.add_argument("--allow-sensitive", action="store_true", help="allow sensitive mount sources (audited)")

    return parser


# Commands that never read or write the state folder (they skip its safety check).
STATELESS = frozenset({"init", "completion", "templates", "use"})


def _dispatch(a: argparse.Namespace) -> int:
    c = a.command
    if c not in STATELESS:
        from vmtemp import paths

        os.umask(0o077)  # whatever vmtemp creates in the state folder is private
        paths.check_home_safe()
    if c == "create":
        from vmtemp.commands import create

        return create.run(name=a.name, mount_specs=a.mounts, long_mounts=a.long_mounts, image=a.image,
                          template=a.template, ro_default=a.ro_default, no_smart_ro=a.no_smart_ro,
                          allow_sensitive=a.allow_sensitive, enter=a.enter, auto_destroy=a.auto_destroy,
                          dry_run=a.dry_run, quick=a.quick)
    if c in ("enter", "ssh", "shell"):
        from vmtemp.commands import access

        return access.enter(name=a.name, workdir=a.workdir, user=a.user, force=a.force)
    if c == "exec":
        from vmtemp.commands import access

        return access.exec_(name=a.name, workdir=a.workdir, user=a.user, command=a.command_, force=a.force)
    if c in ("list", "ls"):
        from vmtemp.commands import show

        return show.list_(as_json=a.json, all_users=a.all_users)
    if c in ("status", "mounts"):
        from vmtemp.commands import show

        return getattr(show, c)(name=a.name, as_json=a.json)
    if c in ("start", "stop", "restart"):
        from vmtemp.commands import lifecycle

        return getattr(lifecycle, c)(name=a.name)
    if c == "logs":
        from vmtemp.commands import lifecycle

        return lifecycle.logs(name=a.name, follow=a.follow)
    if c == "destroy":
        from vmtemp.commands import destroy

        return destroy.run(names_=a.names, all_=a.all, yes=a.yes, force=a.force, quick=a.quick,
                           keep_volumes=a.keep_volumes, dry_run=a.dry_run, snapshots=a.snapshots)
    if c == "mount":
        from vmtemp.commands import change

        return change.mount(name=a.name, specs=a.mounts, long_specs=a.long_mounts, yes=a.yes, quick=a.quick,
                            force=a.force, dry_run=a.dry_run, allow_sensitive=a.allow_sensitive,
                            no_smart_ro=a.no_smart_ro)
    if c in ("unmount", "umount"):
        from vmtemp.commands import change

        return change.unmount(name=a.name, items=a.items, all_=a.all, yes=a.yes, quick=a.quick, force=a.force,
                              dry_run=a.dry_run)
    if c in ("protect", "unprotect"):
        from vmtemp.commands import change

        return change.protect(name=a.name, items=a.items, readonly=c == "protect", yes=a.yes, quick=a.quick,
                              force=a.force, dry_run=a.dry_run)
    if c == "snapshot":
        from vmtemp.commands import snapshot

        act = a.snapshot_action
        if act == "save":
            return snapshot.save(name=a.name, tag=a.tag)
        if act == "list":
            return snapshot.list_(name=a.name, as_json=a.json)
        if act == "restore":
            return snapshot.restore(name=a.name, tag=a.tag, yes=a.yes)
        return snapshot.rm(name=a.name, tags=a.tags)
    if c in ("export", "import", "suggest", "history"):
        from vmtemp.commands import share

        if c == "export":
            return share.export(name=a.name, output=a.output)
        if c == "import":
            return share.import_(file=a.file, name=a.name, dry_run=a.dry_run, allow_sensitive=a.allow_sensitive)
        if c == "suggest":
            return share.suggest(directory=a.directory, as_json=a.json)
        return share.history(directory=a.directory, as_json=a.json)
    if c == "compose-file":
        from vmtemp.commands import show

        return show.compose_file(name=a.name)
    if c == "templates":
        from vmtemp.commands import show

        return show.templates(action=a.action, template=a.template)
    if c == "audit":
        from vmtemp.commands import auditcmd

        return auditcmd.run(name=a.name, since=a.since, as_json=a.json, verify=a.verify)
    if c in ("init", "completion"):
        from vmtemp import shellinit

        return (shellinit.print_init if c == "init" else shellinit.print_completion)(shell=a.shell)
    if c == "use":
        from vmtemp import shellinit

        return shellinit.use_without_integration(name=a.use_name)
    if c == "gc":
        from vmtemp.commands import gc

        return gc.run(yes=a.yes, dry_run=a.dry_run)
    if c == "doctor":
        from vmtemp.commands import doctor

        return doctor.run(name=a.name, fix=a.fix, yes=a.yes)
    if c == "migrate":
        from vmtemp.commands import migrate

        return migrate.run(from_=a.from_, dry_run=a.dry_run, allow_sensitive=a.allow_sensitive)
    raise UsageError(f"unknown command {c!r}", hint="vmtemp --help")


def render_error(e: VmtempError) -> None:
    from vmtemp.output import style

    stream = sys.stderr
    print(f"{style('vmtemp:', '31', stream)} {e.message}", file=stream)
    tail = getattr(e, "stderr_tail", None)
    if callable(tail) and tail():
        for line in tail().splitlines():
            print(f"  | {line}", file=stream)
    if e.details:
        print(e.details, file=stream)
    if e.hint:
        print(f"{style('hint:', '36', stream)} {e.hint}", file=stream)


def run() -> None:
    """The console script: main(), then a quick exit once the engine layer was loaded
    (tearing down python-on-whales and pydantic at interpreter exit costs ~0.1 s; every
    file vmtemp writes is already fsynced and every lock released by then)."""
    code = main()
    if "python_on_whales" in sys.modules:
        import threading

        for t in threading.enumerate():
            if t is not threading.main_thread() and not t.daemon:
                t.join()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            pass
        os._exit(code)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        if not argv:
            parser.print_help()
            return 0
        args = parser.parse_args(argv)
        if args.debug:
            os.environ["VMTEMP_DEBUG"] = "1"
        if args.command is None:
            parser.print_help()
            return 0
        return _dispatch(args)
    except VmtempError as e:
        render_error(e)
        return e.exit_code
    except KeyboardInterrupt:
        print("vmtemp: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the one place that turns surprises into a log line
        return _unexpected(e)


def _unexpected(e: Exception) -> int:
    import traceback

    from vmtemp import store

    log = store.log_error({"unexpected": repr(e), "traceback": traceback.format_exc(), "version": __version__,
                           "python": sys.version.split()[0]})
    print(f"vmtemp: unexpected error: {e!r}", file=sys.stderr)
    print(f"hint: the traceback is in {log or 'the error log'}; please report it", file=sys.stderr)
    return 1


