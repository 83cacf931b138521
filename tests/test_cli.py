"""The command line, run as a user would: output, exit codes, no tracebacks."""

import json
import subprocess
import sys

import pytest

from policy.cli import main
from policy.tools.measure import Split

from .conftest import write_policy

RULES = """
lexicon abuse { terms "傻逼" }
rule unfriendly.abuse "谩骂" {
  category unfriendly
  clause 一.2.6
  tags insult
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


def test_eval_reports_precision_recall_and_false_alarms(capsys, policy_dir, tmp_path):
    data = tmp_path / "labelled.jsonl"
    rows = [("1", "你是傻逼"), ("1", "你是笨蛋"), ("0", "今天天气好"), ("0", "傻逼这个词不该说"), ("spam", "加微信")]
    data.write_text("".join(json.dumps({"id": str(i), "text": t, "label": label}, ensure_ascii=False) + "\n"
                            for i, (label, t) in enumerate(rows)) + "{bad\n", encoding="utf-8")
    code, out, err = run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "1=unfriendly",
                         "--map", "0=-", "--format", "json")
    report = json.loads(out)
    assert report["categories"]["unfriendly"] == {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5,
                                                  "f1": 0.5}
    assert report["harmless_flagged"] == 1 and report["harmless"] == 2
    assert report["false_alarms_by_rule"] == {"unfriendly.abuse": 1}
    assert "labels with no --map entry were skipped: 'spam' (1)" in err
    assert ":6: skipped: invalid JSON" in err
    assert code == 1  # a bad line is a finding
    code, out, _ = run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "1=unfriendly", "--map", "0=-")
    assert "harmless posts flagged: 1 of 2 (50.00%)" in out
    assert "unfriendly.abuse" in out and "傻逼这个词不该说" in out


def test_eval_refuses_a_malformed_map(capsys, policy_dir, tmp_path):
    data = tmp_path / "x.jsonl"
    data.write_text('{"id": "1", "text": "x", "label": 1}\n', encoding="utf-8")
    code, _, err = run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "nonsense")
    assert code == 2 and "--map takes LABEL=CATEGORY" in err


def test_coverage_lists_rules_per_clause_and_fails_on_gaps(capsys, tmp_path):
    folder = write_policy(tmp_path / "cov", RULES)
    code, out, _ = run(capsys, "coverage", str(folder), "--min-examples", "1")
    assert "一.2.6" in out and "unfriendly.abuse" in out and "1 violates   1 allows" in out
    assert "一.3.8" in out and "NOT COVERED" in out  # the header's spam clause has no rule
    assert code == 1
    code, out, _ = run(capsys, "coverage", str(folder), "--min-examples", "3")
    assert "at least 3 of each are required" in out


def test_fmt_checks_shows_and_writes_the_canonical_layout(capsys, tmp_path):
    messy = tmp_path / "messy.policy"
    messy.write_text('clause 一 "x"\ncategory c "c" {clause 一 severity 1}\n'
                     'lexicon l {terms "a"   "b"}  # trailing comment\n', encoding="utf-8")
    code, out, err = run(capsys, "fmt", "--check", str(messy))
    assert code == 2 and f"would reformat {messy}" in out
    code, out, _ = run(capsys, "fmt", "--diff", str(messy))
    assert code == 0 and '+  terms "a" "b"\n+}  # trailing comment' in out
    code, out, _ = run(capsys, "fmt", "-w", str(messy))
    assert code == 0 and "reformatted" in out
    assert run(capsys, "fmt", "--check", str(messy))[0] == 0
    broken = tmp_path / "broken.policy"
    broken.write_text('rule r "t" { when body has }\n', encoding="utf-8")
    code, _, err = run(capsys, "fmt", "-w", str(broken))
    assert code == 2 and "error[E001]" in err and "not formatted: it has errors" in err
    assert broken.read_text(encoding="utf-8") == 'rule r "t" { when body has }\n'  # untouched


def _labelled(path, rows):
    path.write_text("".join(json.dumps({"id": f"p{i}", "text": t, "label": label}, ensure_ascii=False) + "\n"
                            for i, (label, t) in enumerate(rows)), encoding="utf-8")
    return path


def test_eval_holds_back_a_seeded_part_and_shows_only_its_figures(capsys, policy_dir, tmp_path):
    rows = [("1", f"你是傻逼{i}号") for i in range(40)] + [("0", f"今天天气好，第{i}天") for i in range(40)]
    data = _labelled(tmp_path / "labelled.jsonl", rows)
    args = ["eval", "--policy", policy_dir, str(data), "--map", "1=unfriendly", "--map", "0=-", "--holdout", "0.25"]
    code, out, _ = run(capsys, *args, "--format", "json")
    report = json.loads(out)
    tune, held = report["tune"], report["held_back"]
    assert report["split"] == {"seed": 0, "holdout": 0.25, "folds": None, "fold": None}
    assert tune["posts"] + held["posts"] == 80 and 5 <= held["posts"] <= 35
    again = json.loads(run(capsys, *args, "--format", "json")[1])
    assert again == report  # the same seed holds back the same posts
    ids = [f"p{i}" for i in range(80)]
    assert [Split(0, 0.25).held_back(i) for i in ids] != [Split(7, 0.25).held_back(i) for i in ids]  # the seed counts
    code, out, _ = run(capsys, *args)
    tuned, held_text = out.split("== the held-back part")
    assert "你是傻逼" not in held_text  # no post of the held-back part is shown
    assert "== the part to tune on" in tuned


def test_eval_folds_partition_the_posts(capsys, policy_dir, tmp_path):
    data = _labelled(tmp_path / "labelled.jsonl", [("1", f"你是傻逼{i}") for i in range(30)])
    held = [json.loads(run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "1=unfriendly", "--folds", "3",
                           "--fold", str(k), "--format", "json")[1])["held_back"]["posts"] for k in (1, 2, 3)]
    assert sum(held) == 30
    code, _, err = run(capsys, "eval", "--policy", policy_dir, str(data), "--folds", "3", "--fold", "4")
    assert code == 2 and "--fold must be one of 1..3" in err


def test_eval_reports_confusion_per_rule_precision_and_maps_labels_to_rule_tags(capsys, policy_dir, tmp_path):
    rows = [("abuse", "你是傻逼"), ("abuse", "你是笨蛋"), ("ok", "傻逼这个词不该说"), ("ok", "今天天气好")]
    data = _labelled(tmp_path / "labelled.jsonl", rows)
    code, out, _ = run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "abuse=tag:insult",
                       "--map", "ok=-", "--format", "json")
    report = json.loads(out)
    assert report["categories"]["tag:insult"]["tp"] == 1
    assert report["confusion"] == {"abuse": {"unfriendly": 1, "—": 1}, "ok": {"unfriendly": 1, "—": 1}}
    assert report["rules"]["unfriendly.abuse"] == {"fired": 2, "harmful": 1, "on_target": 1, "harmless": 1,
                                                   "rejected": 2, "precision": 0.5}
    assert report["harmful_decided"]["rejected"] == 1
    bare = json.loads(run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "abuse=insult",
                          "--map", "ok=-", "--format", "json")[1])
    assert bare["categories"] == report["categories"]  # a bare name that is no category is a rule tag
    code, _, err = run(capsys, "eval", "--policy", policy_dir, str(data), "--map", "abuse=fraud", "--map", "ok=-")
    assert code == 2 and "no category or rule tag named 'fraud'" in err
