"""A reviewer's whole workflow through the command line, on a ledger the scan filled."""

import json

import pytest

from policy.cli import main

from .conftest import raw_sql, write_policy
from .test_store import RULES


@pytest.fixture
def setup(tmp_path, monkeypatch, ledger_target):
    policy = write_policy(tmp_path / "policy", RULES)
    posts = tmp_path / "posts.jsonl"
    rows = [{"id": f"p{i}", "body": "你个笨蛋", "author": {"id": "u1"}} for i in range(3)]
    rows.append({"id": "q1", "body": "今天天气不错", "author": {"id": "u2"}})
    rows.append({"id": "q2", "body": "笨蛋", "author": {"id": "u3", "protected": True}})
    posts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv("POLICY_DB", ledger_target)
    return str(policy), str(posts), ledger_target


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_reviewer_finds_an_appeal_overturns_it_and_sees_the_standing_corrected(capsys, setup):
    policy, posts, db = setup
    assert run(capsys, "scan", "--policy", policy, posts)[0] == 0
    code, out, _ = run(capsys, "history", "u1")
    assert "3 active strike(s)" in out and "d15" in out

    run(capsys, "reviewer", "add", "alice")
    code, out, _ = run(capsys, "appeals", "file", "--post", "p0", "--user", "u1", "--reason", "不是骂人")
    assert code == 0 and "appeal 1 filed" in out
    code, out, _ = run(capsys, "appeals", "list", "--status", "open", "--user", "u1")
    assert "appeal 1" in out and "post p0" in out and "1 appeal(s)" in out
    assert "0 appeal(s)" in run(capsys, "appeals", "list", "--rule", "r.threat")[1]

    code, out, _ = run(capsys, "appeals", "show", "1", "--policy", policy)
    assert "characters 2–4 '笨蛋'" in out  # the evidence, highlighted
    assert "normalized body: 你个笨蛋" in out
    assert '| rule r.insult "谩骂"' in out  # the rule as it stood, from the stored policy version
    assert "clause 一.2.6" in out and "ladder severity 1 starts at d1" in out
    assert "would still flag it: r.insult" in out

    code, out, _ = run(capsys, "appeals", "decide", "1", "overturn", "--reviewer", "alice", "--reason", "自嘲",
                       "--policy", policy)
    assert code == 0 and "overturn by alice" in out
    assert "2 active strike(s)" in out and "d1 (sanction" in out and "d7 (sanction" in out
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "audit chain verifies" in out


def test_the_review_queue_through_the_cli(capsys, setup):
    policy, posts, db = setup
    run(capsys, "scan", "--policy", policy, posts)
    run(capsys, "reviewer", "add", "bob")
    run(capsys, "report", "q1", "--reporter", "r9", "--reason", "阴阳怪气")
    code, out, _ = run(capsys, "review", "list")
    assert "受保护作者" in out and "Rq1" in out and "2 case(s) waiting" in out
    case = next(line.split()[0] for line in out.splitlines() if line.startswith("S"))
    code, out, _ = run(capsys, "review", "show", case)
    assert "held   protected: 受保护作者" in out
    code, out, err = run(capsys, "review", "decide", case, "approve", "--reviewer", "eve", "--reason", "x",
                         "--policy", policy)
    assert code == 2 and "unknown reviewer 'eve'" in err
    code, out, _ = run(capsys, "review", "decide", case, "approve", "--reviewer", "bob", "--reason", "确认",
                       "--policy", policy)
    assert code == 0 and "active" in out
    code, out, _ = run(capsys, "review", "decide", "Rq1", "dismiss", "--reviewer", "bob", "--reason", "正常评论",
                       "--policy", policy)
    assert "dismissed" in out
    assert "0 case(s) waiting" in run(capsys, "review", "list")[1]


def test_a_tampered_chain_is_named_by_row(capsys, setup):
    policy, posts, db = setup
    run(capsys, "scan", "--policy", policy, posts)
    raw_sql(db, "UPDATE audit SET actor = 'someone' WHERE seq = 4")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert "audit chain BROKEN at row 4: its content does not match its hash" in out


@pytest.mark.parametrize("args, message", [
    (["history", "u1"], "no ledger given"),
    (["appeals", "show", "7"], "no appeal 7"),
    (["appeals", "file", "--post", "nope", "--reason", "x"], "no verdict for post 'nope'"),
    (["review", "decide", "S1", "approve"], "needs --reviewer and --reason"),
])
def test_ledger_mistakes_get_a_message_and_exit_2(capsys, setup, monkeypatch, args, message):
    if args[0] == "history":
        monkeypatch.delenv("POLICY_DB")
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_status_brake_reset_and_revert_through_the_cli(capsys, tmp_path, monkeypatch, ledger_target):
    brake = '\nbrake "制动" {\n  watch 7 days\n  share 5\n  minimum 3\n}\n'
    policy = str(write_policy(tmp_path / "braked", RULES + brake))
    posts = tmp_path / "many.jsonl"
    posts.write_text("".join(json.dumps({"id": f"b{i}", "body": "笨蛋", "author": {"id": f"v{i % 2}"}},
                                        ensure_ascii=False) + "\n" for i in range(6)), encoding="utf-8")
    monkeypatch.setenv("POLICY_DB", ledger_target)
    run(capsys, "scan", "--policy", policy, str(posts))
    code, out, _ = run(capsys, "status")
    assert code == 1 and "BRAKE TRIPPED on rule r.insult" in out and "3 of 3 posts (100.0%)" in out
    run(capsys, "reviewer", "add", "carol")
    code, out, _ = run(capsys, "brake", "reset", "r.insult", "--reviewer", "carol", "--reason", "intended")
    assert code == 0 and "reset by carol" in out
    code, out, _ = run(capsys, "status")
    assert code == 0 and "no brake tripped" in out and "reset    r.insult" in out
    code, out, _ = run(capsys, "revert", "--rule", "r.insult", "--since", "2000-01-01", "--dry-run")
    assert "would undo 6 sanction(s) of rule r.insult for 2 user(s)" in out
    code, out, _ = run(capsys, "revert", "--rule", "r.insult", "--since", "2000-01-01", "--reviewer", "carol",
                       "--reason", "rule withdrawn", "--policy", policy)
    assert code == 0 and "undid 6 sanction(s)" in out and "user v0: 0 active strike(s)" in out
    assert run(capsys, "audit", "verify")[0] == 0
    code, _, err = run(capsys, "revert", "--rule", "r.insult", "--since", "yesterday", "--dry-run")
    assert code == 2 and "not an ISO 8601 time" in err


def test_a_strike_removed_behind_the_ledgers_back_is_named_by_audit_verify(capsys, setup):
    policy, posts, db = setup
    run(capsys, "scan", "--policy", policy, posts)
    raw_sql(db, "UPDATE strikes SET status = 'removed' WHERE post_id = 'p1'")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert "ledger state does NOT match the audit chain" in out
    assert "strikes p1: changed outside the ledger" in out
