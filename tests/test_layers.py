"""The package's layers hold, and the import-linter contracts in pyproject.toml catch a change that
breaks them (checked on a copy of the package with the break planted)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (make test installs it)")


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, check=False)


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(ROOT / "policy", tmp_path / "policy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(root: Path, module: str, line: str) -> None:
    path = root / "policy" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_package_keeps_its_contracts(copy):
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_layers(copy):
    plant(copy, "text/normalize.py", "import policy.store  # noqa")
    result = lint(copy)
    assert result.returncode != 0
    assert "Phases are layered" in result.stdout and "BROKEN" in result.stdout
    assert "policy.text.normalize -> policy.store" in result.stdout


def test_two_modules_importing_each_other_break_the_no_circle_contract(copy):
    plant(copy, "compiler/trigger.py", "import policy.compiler.compile  # noqa")  # compile imports trigger
    result = lint(copy)
    assert result.returncode != 0
    assert "No import circle" in result.stdout and "BROKEN" in result.stdout


def test_io_outside_the_store_cli_and_cache_breaks_the_io_contract(copy):
    plant(copy, "runtime/match.py", "import sqlite3  # noqa")
    result = lint(copy)
    assert result.returncode != 0
    assert "policy.runtime.match -> sqlite3" in result.stdout
