"""Repository hygiene: set-up files agree, notebooks are stripped, servers stay private."""
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda package name -> PyPI name


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {CONDA_NAMES.get(_name(d), _name(d)) for d in env["dependencies"] if isinstance(d, str)}
    assert "python" in conda and "jupyterlab" in conda
    missing = {_name(d) for d in project["dependencies"]} - conda
    assert not missing, f"environment.yml lacks {sorted(missing)} that pyproject.toml requires"
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert any(".[dev]" in line for line in pip_section), \
        "environment.yml must pip-install the package"
    assert "python=3.11" in env["dependencies"]


def test_notebooks_are_stripped_and_have_slide_metadata():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "nbhygiene.py")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_notebook_chapters_are_numbered_00_to_12():
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names and names[0].startswith("00_")
    assert all(re.match(r"\d\d_[a-z0-9_]+\.ipynb$", n) for n in names), names


def test_servers_bind_localhost_and_keep_auth():
    makefile = (ROOT / "Makefile").read_text()
    lowered = makefile.lower()
    for forbidden in ("token=''", 'token=""', "token= ", "disable_check_xsrf", "password=''",
                      "0.0.0.0", "--no-token", "identityprovider.token="):
        assert forbidden not in lowered, f"Makefile weakens server security: {forbidden}"
    lab = re.search(r"^lab:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert "--ServerApp.ip=127.0.0.1" in lab
    # The voila dashboard: loopback only, with a generated token (voila has no token by default).
    visualize = re.search(r"^visualize:.*?(?=^\S|\Z)", makefile, re.S | re.M).group(0)
    assert "voila" in visualize
    assert "--Voila.ip=127.0.0.1" in visualize
    assert re.search(r"--token(\s|$)", visualize), "make visualize must start voila with --token"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme


def test_no_unsafe_torch_load_and_no_shared_reads():
    paths = list((ROOT / "lesson_lib").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert "shared/data" not in text, f"{path} reads ../shared at run time"
