"""export / import / suggest / history."""

from __future__ import annotations

import json

from conftest import run, vm_exec


def test_export_import_between_checkouts(engine, home, names, tmp_path):
    mine, theirs = tmp_path / "mine" / "app", tmp_path / "theirs" / "app"
    for root in (mine, theirs):
        (root / "src").mkdir(parents=True)
        (root / "docs").mkdir()
        (root / "pyproject.toml").write_text("[project]\nname='app'\n")
    (theirs / "src" / "who").write_text("theirs\n")
    n1, n2 = names(), names()
    assert run("create", "./src", "./docs:ro", "-n", n1, cwd=mine).returncode == 0
    out = run("export", "-n", n1, check=True).stdout
    assert "source: src" in out and "mode: ro" in out and str(mine) not in out
    definition = tmp_path / "def.yaml"
    definition.write_text(out)
    r = run("import", str(definition), "-n", n2, cwd=theirs)
    assert r.returncode == 0, r.stderr
    assert vm_exec(f"vmtemp-{n2}", "cat", "/workspace/src/who").stdout == "theirs\n"
    modes = {m["target"]: m["mode"] for m in json.loads(run("mounts", "-n", n2, "--json").stdout)}
    assert modes["/workspace/docs"] == "ro" and modes["/workspace/src"] == "rw"
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: text\n")
    r = run("import", str(bad), "-n", names())
    assert r.returncode == 2 and "not a vmtemp definition" in r.stderr


def test_suggest_and_history(engine, home, name, tmp_path):
    proj = tmp_path / "svc"
    (proj / ".git").mkdir(parents=True)
    (proj / "package.json").write_text("{}\n")
    (proj / "lib").mkdir()
    s = json.loads(run("suggest", str(proj / "lib"), "--json", check=True).stdout)
    assert s["project_dir"] == str(proj) and "node" in s["types"]
    assert s["mounts"] == [f"{proj}:/workspace/svc:rw"] and s["read_only_inside"] == [str(proj / ".git")]
    assert run("create", str(proj), "-n", name, cwd=proj).returncode == 0
    assert run("mount", "-n", name, str(proj / "lib") + ":/workspace/lib", cwd=proj).returncode == 0
    h = json.loads(run("history", str(proj), "--json", check=True).stdout)
    assert [e["action"] for e in h] == ["create", "mount change"]
    assert any(m["target"] == "/workspace/lib" for m in h[-1]["mounts"])
