"""README's two commands work as written (the test command is what .ci/run runs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from conftest import ROOT, labelled, purge


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)\n```\n<!-- /{marker} -->", text, re.S)
    assert m, f"README.md has no {marker} block"
    return m.group(1).strip()


def test_readme_test_command_is_what_ci_runs():
    cmd = readme_block("ci:test-command")
    assert "pytest" in cmd
    ci = (ROOT / ".ci" / "run").read_text()
    assert "ci:test-command" in ci


def test_readme_main_command_installs_and_runs(engine, home, tmp_path):
    """In a copy of the checkout and a fresh virtual environment, as a newcomer would."""
    cmd = readme_block("readme:main-command")
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", "build",
                                                                  "dist", ".pytest_cache", ".ruff_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", VIRTUAL_ENV=str(venv),
               PIP_NO_BUILD_ISOLATION="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    try:
        r = subprocess.run(["bash", "-c", cmd], cwd=checkout, env=env, input="echo inside-$((6*7)); exit 0\n",
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "inside-42" in r.stdout
        assert (venv / "bin" / "vmtemp").exists()
        assert labelled("demo", ("container",))["container"] == ["vmtemp-demo"]
    finally:
        subprocess.run([str(venv / "bin" / "vmtemp"), "destroy", "demo", "--yes", "--force"], env=env,
                       capture_output=True)
        purge("demo")
