"""vmtemp list / status / mounts / compose-file / templates: read-only views.

One `docker ps` answers list; status adds one inspect. Never python-on-whales.
"""

from __future__ import annotations

import time
from typing import Any

from vmtemp import engine, names, ownership, paths
from vmtemp import vm as vmmod
from vmtemp.errors import VmtempError
from vmtemp.output import human_age, print_json, say, style, table, warn


def _records(all_users: bool) -> list[dict[str, Any]]:
    containers = engine.list_containers()
    main = {c.vm_name: c for c in containers if c.is_main}
    me = ownership.current_user()
    records = []
    for name in paths.vm_names():
        c = main.pop(name, None)
        try:
            d = vmmod.load(name)
        except VmtempError as e:
            records.append({"name": name, "status": "error", "image": None, "mounts": [], "created_at": None,
                            "project_dir": None, "container": c.name if c else None,
                            "warnings": [f"{e.message}; hint: {e.hint}"], "owner": None})
            continue
        if d.owner and d.owner != me and not all_users:
            continue
        records.append(vmmod.to_json(d, c.state if c else None, c.name if c else None))
    here = str(paths.home())
    ours = {here} | ({""} if here == str(paths.default_home()) else set())
    for vm_name, c in sorted(main.items()):
        if c.owner and c.owner != me and not all_users:
            continue
        if c.home not in ours and not all_users:
            continue  # another state folder's temp VM, not an orphan of this one
        records.append({
            "name": vm_name, "status": vmmod.status_of(c.state, vm_name), "image": c.image, "mounts": [],
            "created_at": None, "project_dir": None, "container": c.name, "owner": c.owner or None,
            "orphan": True,
            "warnings": [f"orphan: container {c.name} has no temp VM folder; remove it with: vmtemp gc"],
        })
    return records


def _status_cell(rec: dict[str, Any]) -> str:
    status = rec["status"]
    color = {"running": "32", "stopped": "33", "missing": "31", "error": "31"}.get(status, "0")
    return style(status, color)


def list_(*, as_json: bool, all_users: bool = False) -> int:
    records = _records(all_users)
    if as_json:
        print_json(records)
        return 0
    if not records:
        say("no temp VMs; make one: vmtemp create ./src")
        return 0
    now = time.time()
    rows = []
    for r in records:
        phantoms = sum(1 for m in r["mounts"] if m["state"] == "phantom")
        mounts = str(len(r["mounts"])) + (f" ({phantoms} phantom)" if phantoms else "")
        created = vmmod.created_epoch(r["created_at"])
        marker = " (orphan)" if r.get("orphan") else ""
        rows.append([r["name"] + marker, _status_cell(r), r["image"] or "-", mounts,
                     human_age(now - created) if created else "-"])
    say(table(["NAME", "STATUS", "IMAGE", "MOUNTS", "AGE"], rows))
    for r in records:
        for w in r["warnings"]:
            warn(f"{r['name']}: {w}")
    return 0


def _one(name: str | None, *, with_inspect: bool = False):
    """(definition, JSON record, container listing, inspect or None): the engine reads at once."""
    name = names.resolve(name)
    d = vmmod.load(name)
    calls = [lambda: engine.list_containers(name)]
    if with_inspect:
        calls.append(lambda: engine.inspect_container(d.container))
    found = engine.in_parallel(*calls)
    main = [c for c in found[0] if c.is_main]
    c = main[0] if main else None
    info = found[1] if with_inspect else None
    return d, vmmod.to_json(d, c.state if c else None, c.name if c else None), c, info


def status(*, name: str | None, as_json: bool) -> int:
    d, rec, c, info = _one(name, with_inspect=True)
    if c is not None and c.state == "running" and info is not None:
        from vmtemp import verify

        problems = verify.check(d.container, d.mounts, probe=False, info=info)
        rec["warnings"] += [f"mount drift: {p}" for p in problems]
    rec["extra_privileges"] = _extra_privileges(d.name)
    rec["warnings"] += [f"extra privilege: {p}" for p in rec["extra_privileges"]]
    rec["default_mode"] = "ro" if _ro_default() else "rw"
    if as_json:
        print_json(rec)
        return 0
    say(f"{style(rec['name'], '1')}: {_status_cell(rec)}" + (f" ({c.status})" if c else ""))
    say(f"  image:       {rec['image']}")
    say(f"  container:   {rec['container'] or '-'}")
    say(f"  created:     {rec['created_at'] or '-'}")
    say(f"  project:     {rec['project_dir'] or '-'}")
    say(f"  compose:     {paths.compose_file(d.name)}")
    say(f"  mode:        new mounts default to {rec['default_mode']}")
    say(f"  mounts:      {len(rec['mounts'])}")
    for m in rec["mounts"]:
        flag = "" if m["state"] == "ok" else f"  [{m['state']}]"
        say(f"    {m['source']} -> {m['target']} ({m['mode']}){flag}")
    for w in rec["warnings"]:
        warn(w)
    return 0


def _extra_privileges(name: str) -> list[str]:
    """What the compose file grants beyond the hardened default (privileged, capabilities,
    host namespaces, devices, the Docker socket...)."""
    from ruamel.yaml import YAML  # the C-backed safe loader: status stays quick
    from ruamel.yaml.error import YAMLError

    from vmtemp import hardening

    path = paths.compose_file(name)  # vm.load has checked it (a link or a broken file never gets here)
    try:
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as e:
        first = (str(e).strip().splitlines() or ["unreadable"])[0]
        return [f"cannot read {path} to check its privileges: {first}"]
    return hardening.extra_privileges(doc, path.parent)


def _ro_default() -> bool:
    from vmtemp import config

    return config.load().get("default_mode") == "ro"


def mounts(*, name: str | None, as_json: bool) -> int:
    _, rec, _, _ = _one(name)
    if as_json:
        print_json(rec["mounts"])
        return 0
    if not rec["mounts"]:
        say(f"temp VM {rec['name']!r} has no mounts; add one: vmtemp mount -n {rec['name']} ./src")
        return 0
    rows = [[m["target"], m["source"], m["mode"], m["type"], m["state"] + (" (auto)" if m.get("auto") else "")]
            for m in rec["mounts"]]
    say(table(["TARGET", "SOURCE", "MODE", "TYPE", "STATE"], rows))
    for w in rec["warnings"]:
        warn(w)
    return 0


def compose_file(*, name: str | None) -> int:
    name = names.resolve(name)
    say(str(paths.compose_file(name)))
    return 0


def templates(*, action: str, template: str | None) -> int:
    from vmtemp import composefile

    if action == "show":
        if not template:
            from vmtemp.errors import UsageError

            raise UsageError("which template?", hint="vmtemp templates show default")
        say(composefile.template_path(template).read_text(encoding="utf-8").rstrip())
        return 0
    found = composefile.template_names()
    from vmtemp import resources

    builtin = resources.data_dir("compose-templates")
    rows = [[t, "built in" if p.parent == builtin else str(p)] for t, p in found.items()]
    say(table(["TEMPLATE", "FROM"], rows))
    return 0
