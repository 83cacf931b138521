"""The command line, run as a user would: output, exit codes, no tracebacks."""

import json
import subprocess
import sys

import pytest

from policy.cli import main

from .conftest import write_policy

RULES = """
lexicon abuse { terms "傻逼" }
rule unfriendly.abuse "谩骂" {
  category unfriendly
  clause 一.2.6
  when body has abuse
  violates "你是傻逼"
  allows "你好"
}
"""


@pytest.fixture
def policy_dir(tmp_path):
    return str(write_policy(tmp_path / "policy", RULES))


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_shows_which_characters_triggered_which_rule_and_clause(capsys, policy_dir):
    code, out, _ = run(capsys, "check", "--policy", policy_dir, "你是傻😀逼吧")
    assert code == 1
    assert "REJECT" in out
    assert "rule unfriendly.abuse" in out
    assert "clause 一.2.6  谩骂：以不文明的语言对他人进行负面评价" in out
    assert "characters 2–5 '傻😀逼'" in out
    body_line, caret_line = [line for line in out.splitlines() if "body" in line or set(line.strip()) == {"^"}][:2]
    assert caret_line.strip() == "^" * 6  # 傻, 😀 and 逼 are two columns each
    assert "source main.policy:" in out


def test_check_json_and_a_clean_post(capsys, policy_dir):
    code, out, _ = run(capsys, "check", "--policy", policy_dir, "--format", "json", "你好")
    assert code == 0
    assert json.loads(out)["decision"] == "allow"


def test_scan_writes_one_verdict_a_line_and_names_bad_lines(capsys, policy_dir, tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "a", "body": "你是傻逼"}\nnot json\n\n{"id": "b", "text": "你好"}\n[1]\n'
                     '{"id": "c", "body": 5}\n', encoding="utf-8")
    code, out, err = run(capsys, "scan", "--policy", policy_dir, str(posts))
    assert code == 1
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [(v["post_id"], v["decision"]) for v in verdicts] == [("a", "reject"), ("b", "allow")]
    assert f"{posts}:2: skipped: invalid JSON" in err
    assert f"{posts}:5: skipped: a post must be a JSON object, not list" in err
    assert f"{posts}:6: skipped: 'body' must be a string, not int" in err


def test_lint_and_test_exit_codes(capsys, policy_dir, tmp_path):
    assert run(capsys, "lint", policy_dir)[0] == 0
    code, out, _ = run(capsys, "test", policy_dir)
    assert code == 0 and "2 passed, 0 failed" in out
    failing = write_policy(tmp_path / "failing", RULES.replace('allows "你好"', 'allows "傻逼"'))
    code, out, _ = run(capsys, "test", str(failing))
    assert code == 1
    assert "rule 'unfriendly.abuse' should allow this post but flagged it" in out
    assert "found:    fired on body[0:2] '傻逼'" in out


@pytest.mark.parametrize("args, message", [
    (["check", "--policy", "/no/such/dir", "x"], "policy path '/no/such/dir' does not exist"),
    (["scan", "/no/such/file.jsonl"], "'/no/such/file.jsonl' is not a file"),
    (["lint", "/no/such/dir"], "does not exist"),
])
def test_user_mistakes_get_a_message_and_exit_2(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_a_broken_policy_stops_check_with_its_diagnostics(capsys, tmp_path):
    broken = write_policy(tmp_path / "broken", 'rule r "r" { when body has nothing }')
    code, _, err = run(capsys, "check", "--policy", str(broken), "x")
    assert code == 2
    assert "error[E101]: unknown lexicon 'nothing'" in err


def test_the_console_script_runs_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": "1", "body": "\xff"}\n')
    run_ = subprocess.run([sys.executable, "-m", "policy.cli", "scan", str(bad)], capture_output=True, text=True)
    assert run_.returncode == 2
    assert "line 1 is not UTF-8 text" in run_.stderr
    assert "Traceback" not in run_.stderr
