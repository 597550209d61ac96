"""vmtemp mount / unmount / protect / unprotect: mount changes that never lose the temp VM.

Every change is planned first (the new compose file, validated by
``docker compose config --hash``, the recreate decision, the processes it would
stop), then applied under the temp VM's lock:

1. journal (``pending.json``: old and new compose file), so a crash is recoverable;
2. commit the container's writable layer to ``vmtemp-live/<name>:current`` (the image
   the compose file runs), so files written inside survive the recreate;
3. write the new compose file and ``docker compose up -d`` (recreates the container);
4. verify the mounts (engine view and inside the container).

Any failure restores the old compose file byte for byte and brings the previous
container back as it was. Requests that arrive while a change runs wait in a queue
and are applied together in the next recreate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vmtemp import (
    audit,
    changequeue,
    composefile,
    config,
    engine,
    history,
    interrupts,
    journal,
    names,
    ownership,
    paths,
    permissions,
    prompts,
    store,
    verify,
)
from vmtemp import vm as vmmod
from vmtemp.changequeue import Outcome, Request
from vmtemp.errors import NotConfirmed, OperationFailed, UsageError, VmtempError
from vmtemp.mounts import Mount, check_unique_targets
from vmtemp.output import note, say, warn

SHELLS = {"sh", "bash", "zsh", "ash", "dash", "fish", "ksh", "-sh", "-bash", "-zsh"}


@dataclass
class Plan:
    old: list[Mount]
    new: list[Mount]
    auto_ro: list[str]
    accepted: list[Request]
    rejected: dict[str, Outcome]

    @property
    def added(self) -> list[Mount]:
        old_targets = {m.target for m in self.old}
        return [m for m in self.new if m.target not in old_targets]

    @property
    def removed(self) -> list[Mount]:
        new_targets = {m.target for m in self.new}
        return [m for m in self.old if m.target not in new_targets]

    @property
    def changed(self) -> list[tuple[Mount, Mount]]:
        old = {m.target: m for m in self.old}
        return [(old[m.target], m) for m in self.new if m.target in old and old[m.target] != m]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def describe(self) -> list[str]:
        lines = [f"  + {m.source} -> {m.target} ({m.mode})" for m in self.added]
        lines += [f"  - {m.source} -> {m.target}" for m in self.removed]
        lines += [f"  ~ {new.target}: {old.mode} -> {new.mode}" if old.source == new.source
                  else f"  ~ {new.target}: {old.source} -> {new.source} ({new.mode})" for old, new in self.changed]
        return lines


# --- entry points -------------------------------------------------------------------


def mount(*, name: str | None, specs: list[str], long_specs: list[str], yes: bool, quick: bool, force: bool,
          dry_run: bool, allow_sensitive: bool, no_smart_ro: bool = False) -> int:
    if not specs and not long_specs:
        raise UsageError("nothing to mount", hint="vmtemp mount ./src ./docs:ro")
    name = names.resolve(name)
    d = _load_checked(name, force)
    cfg = config.load()
    default = permissions.default_mode(ro_default=False, config=cfg)
    add, warnings, allowed = permissions.resolve_requests(
        specs, long_specs, default=default, allow_sensitive=allow_sensitive, config=cfg, existing=d.mounts)
    check_unique_targets(add)
    for w in warnings:
        warn(w)
    smart = not no_smart_ro and cfg.get("smart_ro", True) is not False
    req = changequeue.new_request("mount", add=add, allowed=allowed, yes=yes or quick or force, smart_ro=smart)
    return _submit(name, req, dry_run=dry_run)


def replace(*, name: str, mounts: list[Mount], auto_ro: list[str]) -> int:
    """Give a temp VM exactly these mounts (create's answer to "exists with other mounts",
    after the user confirmed at the prompt)."""
    _load_checked(name, False)
    req = changequeue.new_request("replace", add=mounts, items=auto_ro, yes=True)
    return _submit(name, req, dry_run=False)


def unmount(*, name: str | None, items: list[str], all_: bool, yes: bool, quick: bool, force: bool,
            dry_run: bool) -> int:
    if not items and not all_:
        raise UsageError("nothing to unmount", hint="vmtemp unmount PATH-OR-TARGET (or --all)")
    if items and all_:
        raise UsageError("give paths or --all, not both", hint="vmtemp unmount --all")
    name = names.resolve(name)
    _load_checked(name, force)
    req = changequeue.new_request("unmount", items=items, all_=all_, yes=yes or quick or force)
    return _submit(name, req, dry_run=dry_run)


def protect(*, name: str | None, items: list[str], readonly: bool, yes: bool, quick: bool, force: bool,
            dry_run: bool) -> int:
    kind = "protect" if readonly else "unprotect"
    if not items:
        raise UsageError(f"nothing to {kind}", hint=f"vmtemp {kind} PATH-OR-TARGET")
    name = names.resolve(name)
    _load_checked(name, force)
    req = changequeue.new_request(kind, items=items, yes=yes or quick or force)
    return _submit(name, req, dry_run=dry_run)


# --- requests and the queue -----------------------------------------------------------


def _load_checked(name: str, force: bool) -> vmmod.VmDef:
    d = vmmod.load(name)
    ownership.check(d, force=force)
    return d


def _print(outcome: Outcome) -> None:
    for line in outcome.lines:
        say(line)


def _submit(name: str, req: Request, *, dry_run: bool) -> int:
    if dry_run:
        return _dry_run(name, req)
    interrupts.install()
    engine.preload()
    changequeue.enqueue(name, req)
    try:
        with store.locked(name, req.kind):
            done = changequeue.take_result(name, req.id)
            if done is not None:  # applied together with another request while we waited
                _print(done)
                return done.code
            half = journal.stale(name)
            if half is not None:
                raise OperationFailed(f"temp VM {name!r} has a half-done change: {journal.describe(half)}",
                                      hint=f"vmtemp doctor -n {name} --fix")
            batch = changequeue.drain(name, req)
            try:
                outcomes = _apply(name, batch, leader=req)
            except VmtempError as e:
                for other in batch[1:]:
                    changequeue.answer(name, other, Outcome(e.exit_code, [f"vmtemp: {e.message}"]
                                                 + ([f"hint: {e.hint}"] if e.hint else [])))
                raise
            for other in batch[1:]:
                changequeue.answer(name, other, outcomes[other.id])
    finally:
        changequeue.req_path(name, req.id).unlink(missing_ok=True)
        changequeue.res_path(name, req.id).unlink(missing_ok=True)
    own = outcomes[req.id]
    if own.code == 0:
        _print(own)
        return 0
    message = next((line for line in own.lines if line.startswith("vmtemp: ")), "vmtemp: change refused")
    hint = next((line for line in own.lines if line.startswith("hint: ")), None)
    error_cls = {2: UsageError, 5: NotConfirmed}.get(own.code, OperationFailed)
    raise error_cls(message.removeprefix("vmtemp: "), hint=hint.removeprefix("hint: ") if hint else None)


# --- planning ----------------------------------------------------------------------------


def _match(items: list[str], mounts: list[Mount], cwd: str) -> tuple[list[Mount], str | None]:
    """Mounts named by source path, target path or basename; (found, error)."""
    found: list[Mount] = []
    for item in items:
        candidates = [m for m in mounts if m.target == item.rstrip("/") or m.source == item.rstrip("/")]
        if not candidates:
            resolved = os.path.realpath(os.path.join(cwd, os.path.expanduser(item)))
            absolute = os.path.normpath(os.path.join(cwd, os.path.expanduser(item)))
            candidates = [m for m in mounts if m.source in (resolved, absolute)]
        if not candidates and "/" not in item:
            candidates = [m for m in mounts
                          if os.path.basename(m.target) == item or os.path.basename(m.source) == item]
        if not candidates:
            known = ", ".join(m.target for m in mounts) or "none"
            return [], f"{item!r} is not a mount of this temp VM (mounts: {known})"
        if len(candidates) > 1:
            return [], (f"{item!r} matches several mounts: " + ", ".join(m.target for m in candidates)
                        + "; give the container path")
        found.append(candidates[0])
    return found, None


def _apply_request(req: Request, mounts: list[Mount], auto_ro: list[str]) -> tuple[list[Mount], list[str]]:
    """The mount set after one request; raises UsageError when it does not fit."""
    if req.kind == "replace":
        return list(req.add), list(req.items)
    if req.kind == "mount":
        current = {m.target: m for m in mounts}
        out = list(mounts)
        added = []
        for m in req.add:
            if m.target in current:
                if current[m.target] == m:
                    continue  # already mounted exactly so: nothing to do
                raise UsageError(f"{m.target} is already mounted from {current[m.target].source}",
                                 hint=f"give another target: {m.source}:{m.target}-2, or unmount it first")
            out.append(m)
            added.append(m)
        extra, extra_targets = permissions.smart_ro(added, enabled=req.smart_ro)
        extra = [e for e in extra if e.target not in {m.target for m in out}]
        return out + extra, auto_ro + [t for t in extra_targets if t in {e.target for e in extra}]
    if req.all:
        return [], []
    chosen, error = _match(req.items, mounts, req.cwd)
    if error:
        raise UsageError(error, hint="vmtemp mounts")
    targets = {m.target for m in chosen}
    if req.kind == "unmount":
        # a removed folder takes its automatic read-only children with it
        children = {t for t in auto_ro if any(t.startswith(p.rstrip("/") + "/") for p in targets)}
        gone = targets | children
        return [m for m in mounts if m.target not in gone], [t for t in auto_ro if t not in gone]
    mode = "ro" if req.kind == "protect" else "rw"
    return [m.with_mode(mode) if m.target in targets else m for m in mounts], auto_ro


def plan(d: vmmod.VmDef, batch: list[Request]) -> Plan:
    mounts, auto_ro = list(d.mounts), list(d.auto_ro)
    accepted, rejected = [], {}
    for req in batch:
        try:
            new_mounts, new_auto = _apply_request(req, mounts, auto_ro)
            check_unique_targets(new_mounts)
        except UsageError as e:
            rejected[req.id] = Outcome(2, [f"vmtemp: {e.message}", f"hint: {e.hint}"])
            continue
        mounts, auto_ro = new_mounts, new_auto
        accepted.append(req)
    return Plan(old=list(d.mounts), new=mounts, auto_ro=auto_ro, accepted=accepted, rejected=rejected)


def busy_processes(container: str) -> list[engine.Process]:
    """User processes that a recreate would stop (idle shells at a prompt left out)."""
    procs = engine.user_processes(container)
    parents = {p.ppid for p in procs}
    out = []
    for p in procs:
        argv0 = os.path.basename(p.command.split()[0]) if p.command.split() else ""
        args = p.command.split()[1:]
        idle_shell = argv0 in SHELLS and p.pid not in parents and all(a in ("-l", "-i", "-il", "-li") for a in args)
        if not idle_shell:
            out.append(p)
    return out


def _compose_text(name: str, p: Plan) -> tuple[str, str]:
    path = paths.compose_file(name)
    old_text = path.read_text(encoding="utf-8")
    doc = composefile.loads(old_text, str(path))
    composefile.set_mounts(doc, p.new)
    meta = doc.get(composefile.META_KEY)
    if meta is not None:
        if p.auto_ro:
            meta["auto_ro"] = p.auto_ro
        elif "auto_ro" in meta:
            del meta["auto_ro"]
    return old_text, composefile.dumps(doc)


def _validate(name: str, text: str) -> str:
    """`docker compose config --hash vm` of a candidate file: validates it and gives its hash."""
    probe = paths.vm_dir(name) / ".compose.next.yaml"
    store.atomic_write(probe, text)
    try:
        return engine.config_hash(probe, names.project(name))
    finally:
        probe.unlink(missing_ok=True)


def _or_error(fn):
    try:
        return fn()
    except VmtempError as e:
        return e


def _dry_run(name: str, req: Request) -> int:
    d = vmmod.load(name)
    p = plan(d, [req])
    if req.id in p.rejected:
        out = p.rejected[req.id]
        raise UsageError(out.lines[0].removeprefix("vmtemp: "), hint=out.lines[1].removeprefix("hint: "))
    say(f"plan for temp VM {name!r} (dry run: nothing is changed)")
    if p.empty:
        say("  nothing to change; no recreate")
        return 0
    for line in p.describe():
        say(line)
    _, new_text = _compose_text(name, p)
    new_hash = _validate(name, new_text)
    info = engine.inspect_container(d.container)
    running = info is not None and (info.get("State") or {}).get("Status") == "running"
    current_hash = ((info or {}).get("Config") or {}).get("Labels", {}).get("com.docker.compose.config-hash")
    recreate = info is not None and new_hash != current_hash
    say(f"  compose file: valid (config hash {new_hash[:12]})")
    say("  recreate: " + ("yes (files written inside are kept: the writable layer is committed first)"
                          if recreate else "no"))
    if running and recreate:
        procs = busy_processes(d.container)
        if procs:
            say("  processes that would be stopped:")
            for proc in procs:
                say(f"    pid {proc.pid} {proc.user} {proc.elapsed} {proc.command[:70]}")
        else:
            say("  processes that would be stopped: none")
    return 0


# --- applying ----------------------------------------------------------------------------


def _apply(name: str, batch: list[Request], *, leader: Request) -> dict[str, Outcome]:
    d = vmmod.from_compose(name)
    p = plan(d, batch)
    outcomes: dict[str, Outcome] = dict(p.rejected)
    if not p.accepted:
        return outcomes
    if p.empty:
        for req in p.accepted:
            outcomes[req.id] = Outcome(0, [f"temp VM {name!r}: nothing to change (no recreate)"])
        return outcomes

    info, procs = engine.in_parallel(lambda: engine.inspect_container(d.container),
                                     lambda: _or_error(lambda: busy_processes(d.container)))
    state = (info.get("State") or {}).get("Status") if info else None
    running = state == "running"
    if running:
        if isinstance(procs, VmtempError):
            raise procs
        if procs:
            listing = [f"    pid {x.pid} {x.user} {x.elapsed} {x.command[:70]}" for x in procs]
            keep = []
            for req in p.accepted:
                if req.assume_yes:
                    keep.append(req)
                elif req is leader and req.interactive:
                    say(f"the change recreates the container of {name!r}; these processes would be stopped:")
                    for line in listing:
                        say(line)
                    try:
                        prompts.confirm("Recreate it now?", flag="--yes")
                        keep.append(req)
                    except NotConfirmed as e:
                        outcomes[req.id] = Outcome(5, [f"vmtemp: {e.message}", f"hint: {e.hint}"])
                else:
                    outcomes[req.id] = Outcome(5, [
                        f"vmtemp: {len(procs)} process(es) run inside {name!r} and would be stopped; nothing changed",
                        "hint: pass --yes to recreate anyway (see them: vmtemp exec -- ps)"])
            if len(keep) != len(p.accepted):
                if not keep:
                    return outcomes
                p = plan(d, keep)
                outcomes.update(p.rejected)

    old_text, new_text = _compose_text(name, p)
    lines = [f"temp VM {name!r}: mounts changed"] + p.describe()
    if engine.progress_shown():
        note(f"applying to {name!r}:\n" + "\n".join(p.describe()))
    _change(name, d, old_text, new_text, p, info, running)
    if info is None:
        lines.append(f"  the container is missing: start it with vmtemp start -n {name}")
    elif running:
        lines.append("  container recreated; files written inside were kept; mounts verified")
    else:
        lines.append(f"  container recreated, stopped as before; files kept; mounts are verified by vmtemp start -n {name}")
    for req in p.accepted:
        outcomes[req.id] = Outcome(0, lines)
        _audit(name, req, p)
    return outcomes


def _audit(name: str, req: Request, p: Plan) -> None:
    if req.kind == "mount":
        for m in req.add:
            audit.append(name, "mount", result="ok", source=m.source, target=m.target, mode=m.mode)
        for m, rule in req.allowed:
            audit.append(name, "allow-sensitive", result="ok", source=m.source, target=m.target, mode=m.mode,
                         rule=rule)
        return
    if req.kind == "replace":
        for m in p.added:
            audit.append(name, "mount", result="ok", source=m.source, target=m.target, mode=m.mode)
        for m in p.removed:
            audit.append(name, "unmount", result="ok", source=m.source, target=m.target, mode=m.mode)
        for _old, new_m in p.changed:
            audit.append(name, "protect" if new_m.readonly else "unprotect", result="ok", source=new_m.source,
                         target=new_m.target, mode=new_m.mode)
        return
    old = {m.target: m for m in p.old}
    new = {m.target: m for m in p.new}
    for target, m in old.items():
        if req.kind == "unmount" and target not in new:
            audit.append(name, "unmount", result="ok", source=m.source, target=target, mode=m.mode)
        elif req.kind in ("protect", "unprotect") and target in new and new[target].mode != m.mode:
            audit.append(name, req.kind, result="ok", source=m.source, target=target, mode=new[target].mode)


def _change(name: str, d: vmmod.VmDef, old_text: str, new_text: str, p: Plan, info: dict | None,
            running: bool) -> None:
    compose = paths.compose_file(name)
    project = names.project(name)
    live = paths.live_image(name)
    journal.write(name, op="mount", old=old_text, new=new_text, step="planned", was_running=running)
    steps: list[str] = []
    prev_image = (info or {}).get("Image")  # what the container runs from, if the live tag is missing
    try:
        # three independent reads at once: validate the new file, look for changes inside, find the live image
        _, changed, live_id = engine.in_parallel(
            lambda: _validate(name, new_text),
            lambda: info is not None and engine.has_changes(d.container, [m.target for m in d.mounts]),
            lambda: engine.image_id(live),
        )
        steps.append("validated")
        journal.step(name, "validated")
        if changed:
            _preserve(d, live)
            steps.append("committed")
            journal.step(name, "committed")
        elif live_id is None and prev_image:
            engine.tag(prev_image, live)
        store.atomic_write(compose, new_text)
        steps.append("written")
        journal.step(name, "written")
        new_def = vmmod.from_compose(name)
        if info is not None:
            if running:
                engine.compose_up(compose, project, hint=f"vmtemp doctor -n {name}")
            else:
                engine.compose_create(compose, project, hint=f"vmtemp doctor -n {name}")
            steps.append("recreated")
            journal.step(name, "recreated")
            problems = verify.check(new_def.container, new_def.mounts) if running else []
            if problems:
                raise OperationFailed("verification failed: " + "; ".join(problems),
                                      hint=f"vmtemp mounts -n {name}; vmtemp doctor -n {name}")
    except (VmtempError, KeyboardInterrupt) as e:
        failures = _rollback(name, old_text, steps, running, info is not None, prev_image)
        if isinstance(e, VmtempError):
            state = ("rolled back: the compose file and the container are as before"
                     if not failures else "rollback incomplete: " + "; ".join(failures))
            e.message = f"changing the mounts of {name!r} failed at step '{_next_step(steps)}': {e.message}; {state}"
            if not failures:
                journal.clear(name)
            e.hint = (e.hint or f"nothing changed; see vmtemp status -n {name}, then run the same command again"
                      ) if not failures else f"vmtemp doctor -n {name} --fix"
            audit.append(name, "mount-change", result="rolled back" if not failures else "failed")
        raise
    journal.clear(name)
    vmmod.save_cache(new_def)
    history.record(name, new_def.project_dir, [m.to_json() for m in new_def.mounts], "mount change")


def max_layers() -> int:
    """Past this many layers the working image is flattened instead of committed on top."""
    try:
        return max(2, int(os.environ.get("VMTEMP_MAX_LAYERS", "60")))
    except ValueError:
        return 60


def _preserve(d: vmmod.VmDef, live: str) -> None:
    """Keep what was written inside: commit the writable layer onto the working image, or
    flatten the whole file system into one layer once the layers pile up."""
    if engine.layer_count(live) + 1 > max_layers():
        labels = {engine.LABEL_MANAGED: "true", engine.LABEL_NAME: d.name, engine.LABEL_OWNER: d.owner or "",
                  composefile.LABEL_HOME: str(paths.home())}
        engine.flatten(d.container, live, base=d.base_image or live, labels=labels)
    else:
        engine.commit(d.container, live)


def _next_step(steps: list[str]) -> str:
    """The step that failed: the first one not done."""
    for done, step in (("validated", "validate"), ("committed", "commit"), ("written", "write"),
                       ("recreated", "recreate")):
        if done not in steps and not (done == "committed" and "written" in steps):
            return step
    return "verify"


def _rollback(name: str, old_text: str, steps: list[str], running: bool, had_container: bool,
              prev_image: str | None = None) -> list[str]:
    """Put back the old compose file and the previous container (as it was)."""
    failures = []
    compose = paths.compose_file(name)
    with interrupts.shielded():
        try:
            store.atomic_write(compose, old_text)
        except OSError as e:
            return [f"restoring {compose}: {e}"]
        failures += _undo_commit(name, names.container(name), steps, prev_image)
        if "written" in steps and had_container:
            try:
                if running:
                    engine.compose_up(compose, names.project(name), hint=None)
                else:
                    engine.compose_create(compose, names.project(name), hint=None)
            except VmtempError as e:
                failures.append(f"bringing the previous container back: {e.message}")
        try:
            d = vmmod.from_compose(name)
            if running and had_container:
                failures += [f"after rollback: {x}" for x in verify.check(d.container, d.mounts)]
            vmmod.save_cache(d)
        except VmtempError as e:
            failures.append(e.message)
    return failures


def _undo_commit(name: str, container: str, steps: list[str], prev_image: str | None) -> list[str]:
    """A commit made for a change that the container never ran goes again: the working
    image tag points back at what the container still runs from."""
    if "committed" not in steps or not prev_image:
        return []
    info = engine.inspect_container(container)
    if info is None or info.get("Image") != prev_image:
        return []  # the old container is gone: the commit holds its files, the next container needs it
    live = paths.live_image(name)
    try:
        new_id = engine.image_id(live)
        engine.tag(prev_image, live)
        if new_id and new_id != prev_image:
            engine.remove("image", [new_id], force=False)
    except VmtempError as e:
        return [f"restoring the working image {live}: {e.message}"]
    return []
