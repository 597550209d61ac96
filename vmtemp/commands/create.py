"""vmtemp create: make and start a temp VM, all or nothing."""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import time

from vmtemp import (
    audit,
    composefile,
    config,
    engine,
    history,
    interrupts,
    names,
    paths,
    permissions,
    prompts,
    store,
    verify,
)
from vmtemp import vm as vmmod
from vmtemp.errors import OperationFailed, UsageError, VmtempError
from vmtemp.mounts import Mount
from vmtemp.output import note, say, success, warn
from vmtemp.undo import Undo

DEFAULT_IMAGE = "debian:stable-slim"
PROJECT_MARKERS = (".git", "pyproject.toml", "package.json", "Cargo.toml", "go.mod", "Makefile", "setup.py")


def project_root(start: str) -> str | None:
    """The nearest folder at or above start that looks like a project."""
    d = start
    home = os.path.realpath(os.path.expanduser("~"))
    while True:
        if any(os.path.exists(os.path.join(d, m)) for m in PROJECT_MARKERS) and d != home:
            return d
        parent = os.path.dirname(d)
        if parent == d or d == home:
            return None
        d = parent


def choose_image(image: str | None, cfg: dict) -> str:
    chosen = image or os.environ.get("VMTEMP_IMAGE") or cfg.get("default_image") or DEFAULT_IMAGE
    if not chosen or any(c.isspace() for c in chosen) or chosen.startswith("-"):
        raise UsageError(f"invalid image name {chosen!r}", hint="e.g. --image debian:stable-slim")
    return chosen


def _key(mounts: list[Mount]) -> set[tuple[str, str, str, str]]:
    return {(m.source, m.target, m.mode, m.type) for m in mounts}


def run(
    *,
    name: str | None,
    mount_specs: list[str],
    long_mounts: list[str],
    image: str | None,
    template: str,
    ro_default: bool,
    no_smart_ro: bool,
    allow_sensitive: bool,
    enter: bool,
    auto_destroy: bool,
    dry_run: bool,
    quick: bool,
) -> int:
    cfg = config.load()
    cwd = os.path.realpath(os.getcwd())
    if auto_destroy and not enter:
        raise UsageError("--auto-destroy destroys the temp VM when the --enter session ends", hint="add --enter")
    if name is not None:
        names.validate(name)
    elif os.environ.get("VMTEMP_NAME"):
        name = names.validate(os.environ["VMTEMP_NAME"])
    else:
        name = names.suggest_from(os.path.basename(project_root(cwd) or cwd))
    composefile.template_path(template)  # validates the name before anything else
    chosen_image = choose_image(image, cfg)

    if not mount_specs and not long_mounts:
        suggested = project_root(cwd) or cwd
        if prompts.interactive():
            prompts.confirm(f"No mounts given. Mount {suggested} at /workspace/{os.path.basename(suggested)}?",
                            default=True)
        else:
            note(f"No mounts given: mounting the project folder {suggested} (give mounts to choose others)")
        mount_specs = [suggested]

    default = permissions.default_mode(ro_default=ro_default, config=cfg)
    wanted, warnings, allowed = permissions.resolve_requests(
        mount_specs, long_mounts, default=default, allow_sensitive=allow_sensitive, config=cfg
    )
    smart_on = not no_smart_ro and cfg.get("smart_ro", True) is not False
    extra, auto_ro = permissions.smart_ro(wanted, enabled=smart_on)
    all_mounts = wanted + extra
    from vmtemp.mounts import check_unique_targets

    check_unique_targets(all_mounts)
    compose_path = paths.compose_file(name)
    owner = getpass.getuser()

    from vmtemp import hardening

    doc = composefile.build(
        template=template, name=name, image=chosen_image, owner=owner, uid=os.getuid(), gid=os.getgid(),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), project_dir=project_root(cwd),
        mounts=all_mounts, compose_path=compose_path, run_image=paths.live_image(name),
    )
    if auto_ro:
        doc[composefile.META_KEY]["auto_ro"] = auto_ro
    if default == "ro":  # read-only-by-default mode holds for the template's own binds too
        hardening.force_read_only(doc, compose_path.parent)
    allowed_binds = hardening.police_binds(doc, compose_path.parent, template=template,
                                           allow_sensitive=allow_sensitive, config=cfg)
    asks = hardening.extra_privileges(doc, compose_path.parent, main_binds=False)
    warnings += [f"template {template!r}: {w}" for w in asks]
    if dry_run:
        say(f"# vmtemp create --dry-run: temp VM {name!r}; nothing is changed")
        say(f"# would write {compose_path}:")
        say(composefile.dumps(doc).rstrip())
        say("# would run:")
        say(f"docker compose -f {shlex.quote(str(compose_path))} -p {names.project(name)} up -d")
        for w in warnings:
            say(f"# warning: {w}")
        return 0

    paths.ensure_dir(paths.home())  # cli checked that the state folder is safe
    interrupts.install()
    engine.preload()
    with store.locked(name, "create"):
        if paths.vm_dir(name).exists():
            outcome = _existing(name, all_mounts)
        else:
            outcome = None
            for w in warnings:
                warn(w)
            if auto_ro:
                note("read-only inside rw folders (smart read-only; --no-smart-ro to turn off): " + ", ".join(auto_ro))
            undo = Undo()
            try:
                d = _create(name, doc, compose_path, undo, quick=quick)
            except VmtempError as e:
                failures = undo.run()
                _explain_rollback(e, name, failures)
                audit.append(name, "create", result=f"failed: {e.message}")
                raise
            except BaseException:
                undo.run()
                raise
            audit.append(name, "create", result="ok", image=chosen_image,
                         mounts=[m.spec() for m in all_mounts])
            history.record(name, d.project_dir, [m.to_json() for m in d.mounts], "create")
            for m, rule in allowed:
                audit.append(name, "allow-sensitive", result="ok", source=m.source, target=m.target, mode=m.mode,
                             rule=rule)
            for service, source, target, mode, rule in allowed_binds:
                audit.append(name, "allow-sensitive", result="ok", source=source, target=target, mode=mode,
                             rule=rule, service=service)
    if outcome == REPLACE:  # chosen at the prompt; the change takes the lock itself
        from vmtemp.commands import change

        return change.replace(name=name, mounts=all_mounts, auto_ro=auto_ro)
    if outcome is not None:
        return outcome
    _report(d)
    from vmtemp.commands import gc

    gc.maybe_suggest()  # at most once a day
    if enter:
        from vmtemp.commands import access

        code = access.enter(name=name, workdir=None, user=None, replace_process=not auto_destroy)
        if auto_destroy:
            from vmtemp.commands import destroy

            note(f"session ended (exit {code}); destroying temp VM {name!r} (--auto-destroy)")
            destroy.run(names_=[name], all_=False, yes=True, force=True, quick=True, keep_volumes=False,
                        dry_run=False)
        return code
    return 0


def _create(name, doc, compose_path, undo: Undo, *, quick: bool) -> vmmod.VmDef:
    folder = paths.vm_dir(name)
    # pushed before the folder exists, so no signal can fall between making it and owning its removal
    undo.push(f"remove {folder}", lambda: folder.exists() and shutil.rmtree(folder))
    paths.ensure_dir(folder)
    store.atomic_write(compose_path, composefile.dumps(doc))
    project = names.project(name)

    def down():
        try:
            engine.compose_down(compose_path, project, volumes=True)
        except VmtempError:
            pass  # the label sweep below removes the same resources, and says what it cannot
        leftovers = engine.remove_labelled(name, volumes=True)
        if leftovers:
            raise OperationFailed("could not remove " + "; ".join(leftovers))

    undo.push(f"remove the engine resources of {name}", down)
    base = composefile.meta(doc).get("base_image") or composefile.image(doc)
    live = paths.live_image(name)
    if engine.image_id(base) is None:
        engine.pull(base)
    # pushed first: a signal held during the tag call is raised after it, and the tag must still go
    undo.push(f"remove the image tag {live}",
              lambda: engine.image_id(live) is not None and engine.remove("image", [live], force=False))
    engine.tag(base, live)
    if engine.progress_shown():
        note(f"starting temp VM {name!r}...")
    engine.compose_up(compose_path, project, hint=f"check the image and the compose file: vmtemp create --dry-run -n {name} ...")
    d = vmmod.from_compose(name)
    problems = verify.check(d.container, d.mounts, probe=not quick)
    if problems:
        raise OperationFailed("the new container failed verification: " + "; ".join(problems),
                              hint=f"vmtemp create -n {name} ... again; the engine log: docker logs {d.container}")
    vmmod.save_cache(d)
    undo.clear()
    return d


def _explain_rollback(e: VmtempError, name: str, failures: list[str]) -> None:
    if failures:
        e.message = f"creating temp VM {name!r} failed: {e.message}; rollback incomplete: " + "; ".join(failures)
        e.hint = f"remove what is left: vmtemp gc, or vmtemp destroy {name} --force"
    else:
        e.message = f"creating temp VM {name!r} failed: {e.message}; rolled back, nothing of it remains"
        e.hint = e.hint or "fix the cause above and run the same vmtemp create again"


REPLACE = -1  # _existing's answer when the user chose to give the temp VM the new mounts


def _existing(name: str, mounts: list[Mount]) -> int:
    current = vmmod.load(name)
    if _key(current.mounts) == _key(mounts):
        say(f"temp VM {name!r} already exists with these mounts")
        say(f"  enter it: vmtemp enter -n {name}")
        return 0
    have = sorted(m.spec() for m in current.mounts)
    want = sorted(m.spec() for m in mounts)
    if prompts.interactive():
        say(f"temp VM {name!r} already exists with other mounts")
        say("  has:   " + (", ".join(have) or "none"))
        say("  asked: " + ", ".join(want))
        prompts.confirm("Give it the asked mounts? (recreates it; what you made inside is kept)", flag="--yes")
        return REPLACE
    raise OperationFailed(
        f"temp VM {name!r} already exists with other mounts (has: {', '.join(have) or 'none'}; "
        f"asked: {', '.join(want)})",
        hint=(f"change its mounts: vmtemp mount -n {name} ... / vmtemp unmount -n {name} ...; "
              f"or pick another name: -n NAME; or replace it: vmtemp destroy {name} && vmtemp create ..."),
    )


def _report(d: vmmod.VmDef) -> None:
    success(f"temp VM {d.name!r} is running ({d.base_image or d.image}, container {d.container})")
    for m in d.mounts:
        say(f"  {m.source} -> {m.target} ({m.mode})")
    say(f"next: vmtemp enter -n {d.name}")
