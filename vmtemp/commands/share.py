"""vmtemp export / import / suggest / history: definitions to share, and what was used before."""

from __future__ import annotations

import os
import sys

from vmtemp import config, names
from vmtemp import vm as vmmod
from vmtemp.errors import UsageError
from vmtemp.output import print_json, say, table

EXPORT_KIND = "vmtemp/temp-vm"
PROJECT_TYPES = (
    ("python", ("pyproject.toml", "setup.py", "requirements.txt")),
    ("node", ("package.json",)),
    ("go", ("go.mod",)),
    ("rust", ("Cargo.toml",)),
    ("java", ("pom.xml", "build.gradle")),
    ("ruby", ("Gemfile",)),
)


def export(*, name: str | None, output: str | None) -> int:
    """A portable definition: sources relative to the project folder when inside it."""
    from ruamel.yaml.comments import CommentedMap

    from vmtemp import composefile, store

    name = names.resolve(name)
    d = vmmod.load(name)
    base = d.project_dir
    doc = CommentedMap()
    doc["kind"] = EXPORT_KIND
    doc["version"] = 1
    doc["name"] = name
    doc["image"] = d.base_image or d.image
    doc["template"] = d.template or "default"
    mounts = []
    for m in d.mounts:
        if m.target in d.auto_ro:
            continue  # made again by smart read-only on import
        source = m.source
        if base and (source == base or source.startswith(base.rstrip("/") + "/")):
            source = os.path.relpath(source, base)
        entry = CommentedMap()
        entry["source"] = source
        entry["target"] = m.target
        entry["mode"] = m.mode
        mounts.append(entry)
    doc["mounts"] = mounts
    doc.yaml_set_start_comment("vmtemp temp VM definition; make it with: vmtemp import FILE (sources relative to "
                               "the folder you run it in)")
    text = composefile.dumps(doc)
    if output and output != "-":
        from pathlib import Path

        store.atomic_write(Path(output).resolve(), text, mode=0o644)
        say(f"wrote {output}")
    else:
        sys.stdout.write(text)
    return 0


def import_(*, file: str, name: str | None, dry_run: bool, allow_sensitive: bool) -> int:
    from ruamel.yaml import YAML, YAMLError

    from vmtemp.commands import create

    try:
        text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
    except OSError as e:
        raise UsageError(f"cannot read {file}: {e.strerror}", hint="vmtemp export -n NAME > FILE") from None
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError:
        raise UsageError(f"{file} is not valid YAML", hint="make one with: vmtemp export -n NAME") from None
    if not isinstance(data, dict) or data.get("kind") != EXPORT_KIND or not isinstance(data.get("mounts"), list):
        raise UsageError(f"{file} is not a vmtemp definition", hint="make one with: vmtemp export -n NAME")
    specs = []
    ro_default = config.load().get("default_mode") == "ro"
    for m in data["mounts"]:
        if not isinstance(m, dict) or not isinstance(m.get("source"), str) or not isinstance(m.get("target"), str):
            raise UsageError(f"{file}: each mount needs a source and a target", hint="source: src, target: /workspace/src")
        mode = m.get("mode", "rw")
        if mode not in ("ro", "rw"):
            raise UsageError(f"{file}: mode {mode!r} is not ro or rw", hint="mode: ro")
        if ro_default and mode == "rw":
            mode = "ro"  # read-only-by-default mode is not bypassed by an imported definition
        specs.append(f"type=bind,source={m['source']},target={m['target']}" + (",readonly" if mode == "ro" else ""))
    chosen = name or (data.get("name") if isinstance(data.get("name"), str) else None)
    return create.run(name=chosen, mount_specs=[], long_mounts=specs, image=data.get("image"),
                      template=str(data.get("template") or "default"), ro_default=ro_default, no_smart_ro=False,
                      allow_sensitive=allow_sensitive, enter=False, auto_destroy=False, dry_run=dry_run, quick=False)


def suggest(*, directory: str | None, as_json: bool) -> int:
    from vmtemp.commands.create import project_root

    start = os.path.realpath(directory or os.getcwd())
    if not os.path.isdir(start):
        raise UsageError(f"{directory} is not a folder", hint="vmtemp suggest [DIR]")
    root = project_root(start) or start
    kinds = [k for k, markers in PROJECT_TYPES if any(os.path.exists(os.path.join(root, m)) for m in markers)]
    extra = [os.path.join(root, sub) for sub in (".git", "node_modules", "vendor") if os.path.exists(os.path.join(root, sub))]
    result = {"project_dir": root, "types": kinds or ["generic"], "template": "default",
              "mounts": [f"{root}:/workspace/{os.path.basename(root)}:rw"],
              "read_only_inside": extra,
              "command": f"vmtemp create {root} -n {names.suggest_from(os.path.basename(root))}"}
    if as_json:
        print_json(result)
        return 0
    say(f"project:   {root} ({', '.join(result['types'])})")
    say(f"template:  {result['template']}")
    say(f"mounts:    {result['mounts'][0]}")
    if extra:
        say("read-only inside (smart read-only): " + ", ".join(os.path.basename(e) for e in extra))
    say(f"make it:   {result['command']}")
    return 0


def history(*, directory: str | None, as_json: bool) -> int:
    from vmtemp import history as hist

    entries = hist.entries()
    if directory:
        wanted = os.path.realpath(directory)
        entries = [e for e in entries if e.get("project_dir") == wanted]
    if as_json:
        print_json(entries)
        return 0
    if not entries:
        say("no history yet; it grows with vmtemp create and mount changes")
        return 0
    rows = []
    for e in entries[-50:]:
        mounts = ", ".join(f"{m['source']}:{m['mode']}" for m in e.get("mounts", []))
        rows.append([e.get("time", ""), e.get("project_dir") or "-", e.get("name", ""), e.get("action", ""), mounts])
    say(table(["TIME", "PROJECT", "NAME", "ACTION", "MOUNTS"], rows))
    return 0
