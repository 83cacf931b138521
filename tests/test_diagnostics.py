"""Golden files: each bad policy beside the exact `policy lint` output it must give.

Regenerate after a deliberate change with ``UPDATE_GOLDEN=1 pytest tests/test_diagnostics.py``
and read the diff before committing it.
"""

import io
import json
import os
from pathlib import Path

import pytest

from policy.cli import main

HERE = Path(__file__).parent / "diagnostics"
CASES = sorted(p.stem for p in HERE.glob("*.policy"))


def lint(path: Path, fmt: str = "human") -> tuple[int, str]:
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        code = main(["lint", "--format", fmt, str(path)])
    return code, out.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_lint_output_matches_golden_file(case, monkeypatch):
    monkeypatch.chdir(HERE)
    code, output = lint(Path(f"{case}.policy"))
    golden = HERE / f"{case}.expected"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")
    assert code == 1  # every case has at least one error


EXPECTED_CODES = {
    "syntax_errors": {"E001", "E002", "E003", "E101"},
    "unknown_names": {"E101", "E102", "E103", "E104", "E105", "E110", "E119"},
    "duplicates": {"E201", "E202", "E204"},
    "regexes": {"E301", "E302"},
    "lexicons": {"E107", "E108", "E112", "E401", "E402", "E403", "W402", "W404", "W405"},
    "never_fires": {"E501", "E502"},
    "nesting": {"E601"},
    "rules": {"E104", "E106", "E109", "E203", "E205", "E702", "W701"},
    "variants": {"E108", "E120", "E121", "E201", "E205", "E402"},
    "ladder": {"E101", "E104", "E113", "E114", "E115", "E116", "E117", "E201", "E205", "E206", "W703"},
}


@pytest.mark.parametrize("case", CASES)
def test_each_case_reports_the_codes_it_is_about(case, monkeypatch):
    monkeypatch.chdir(HERE)
    code, output = lint(Path(f"{case}.policy"), "json")
    codes = {d["code"] for d in json.loads(output)["diagnostics"]}
    assert codes == EXPECTED_CODES[case]


def test_a_rule_between_broken_ones_is_still_checked(monkeypatch):
    """Recovery: the broken declarations do not hide the others' problems."""
    monkeypatch.chdir(HERE)
    _, output = lint(Path("syntax_errors.policy"), "json")
    found = sorted((d["line"], d["code"]) for d in json.loads(output)["diagnostics"])
    assert found == [(11, "E001"), (16, "E101"), (21, "E003"), (26, "E002")]
