"""A non-editable install, used from another folder, finds its grammar and convention."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("venv")
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
                   check=True, capture_output=True)
    return target


def test_the_installed_command_uses_its_own_grammar_and_convention(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    policy = installed / "bin" / "policy"
    lint = subprocess.run([policy, "lint"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    check = subprocess.run([policy, "check", "你就是个傻逼"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert check.returncode == 1 and "REJECT" in check.stdout, check.stdout + check.stderr
    where = subprocess.run([installed / "bin" / "python", "-c", "import policy; print(policy.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env)
    assert str(installed) in where.stdout  # not the source checkout
    assert sys.prefix not in where.stdout
