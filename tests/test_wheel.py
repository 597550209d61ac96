"""The built wheel carries the shell scripts, the completions and the compose
templates, and the installed vmtemp prints working integration from them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

import vmtemp

SHIPPED = {
    "shell": ["vmtemp.bash", "vmtemp.zsh"],
    "completions": ["vmtemp.bash", "_vmtemp"],
    "compose-templates": sorted(p.name for p in (ROOT / "compose-templates").glob("*.yaml")),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # without network the build backend must be installed already (it is in the test extras)
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (found,) = out.glob("vmtemp-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A venv with the wheel installed (its dependencies from the running interpreter)."""
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
                        "--no-deps", "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # pip >= 22.3 has --python
    return env_dir


def test_wheel_contains_shell_completion_and_compose_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    with zipfile.ZipFile(wheel) as z:
        for folder, files in SHIPPED.items():
            for f in files:
                member = f"vmtemp/_data/{folder}/{f}"
                assert member in names, f"{member} is not in {wheel.name}"
                assert z.read(member) == (ROOT / folder / f).read_bytes(), member


def test_installed_vmtemp_prints_integration_from_the_package(installed, tmp_path):
    exe = installed / "bin" / "vmtemp"
    env = dict(os.environ, PYTHONPATH="", PATH=f"{installed / 'bin'}:{os.environ['PATH']}")
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import vmtemp, vmtemp.resources as r; print(vmtemp.__file__); "
                            "print(r.data_dir('compose-templates'))"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert where[0].startswith(str(installed)), where  # the installed copy, not the checkout
    assert where[1].startswith(str(installed)) and where[1].endswith("vmtemp/_data/compose-templates")
    for shell, check in (("zsh", ["zsh", "-f", "-n"]), ("bash", ["bash", "--norc", "-n"])):
        text = subprocess.run([str(exe), "init", shell], cwd=tmp_path, env=env, capture_output=True, text=True,
                              check=True).stdout
        assert str(exe) in text and where[1] in text and "@VMTEMP_" not in text
        r = subprocess.run(check, input=text, capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, (shell, r.stderr)
        if shell == "bash":
            r = subprocess.run(["shellcheck", "-s", "bash", "-"], input=text, capture_output=True, text=True)
            assert r.returncode == 0 and not r.stdout, r.stdout
    # and it works: the function runs the installed program, completion lists its templates
    code = (f'eval "$({exe} init bash)"; vmtemp --version; '
            "COMP_LINE='vmtemp create --template '; COMP_POINT=${#COMP_LINE}; "
            "COMP_WORDS=(vmtemp create --template ''); COMP_CWORD=3; __vmtemp_complete; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "--norc", "-c", code], cwd=tmp_path, env=dict(env, HOME=str(tmp_path)),
                       capture_output=True, text=True)
    lines = r.stdout.splitlines()
    assert lines[0] == f"vmtemp {vmtemp.__version__}", r.stderr
    assert set(lines[1:]) == {p.stem for p in (ROOT / "compose-templates").glob("*.yaml")}, r.stdout
