"""The ledger: one strike per post, overturns that correct a whole history, a chain that catches tampering."""

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from policy import Engine, Post
from policy.store import LedgerError, SqliteLedger, open_ledger

from .conftest import raw_sql, write_policy

RULES = """
lexicon insult { terms "笨蛋" "傻逼" }
lexicon threat { terms "弄死你" }
rule r.insult "谩骂" { category unfriendly clause 一.2.6 severity 1 when body has insult }
rule r.threat "威胁" { category unfriendly clause 一.2.6 severity 3 when body has threat }
ladder "处罚" {
  step d1 "禁言 1 天" mute 1 day
  step d7 "禁言 7 天" mute 7 days
  step d15 "禁言 15 天" mute 15 days
  step forever "永久禁言" mute permanent
  step close "封停账号" ban
  start severity 1 at d1
  start severity 2 at d1
  start severity 3 at d7
  escalate within 180 days
  expire after 365 days
  hold permanent "永久处罚须人工复核" when sanction.permanent
  hold protected "受保护作者" when author.protected
  confirm 2 when sanction.permanent
}
"""

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    return Engine.load(write_policy(tmp_path / "policy", RULES))


@pytest.fixture
def ledger(ledger_target):
    ledger = open_ledger(ledger_target)
    ledger.add_reviewer("alice")
    ledger.add_reviewer("bob")
    yield ledger
    ledger.close()


def post(post_id, body, user="u1", **author):
    return Post.from_dict({"id": post_id, "body": body, "author": {"id": user, **author}})


def day(n):
    return T0 + timedelta(days=n)


def test_the_same_post_processed_twice_gives_one_strike(engine, ledger):
    first = ledger.process(engine, post("p1", "你个笨蛋"), at=day(0))
    again = ledger.process(engine, post("p1", "你个笨蛋"), at=day(1))
    assert first.verdict_id != again.verdict_id
    assert len(ledger.verdicts(post_id="p1")) == 2
    assert len(ledger.strikes("u1")) == 1
    assert [s.step for s in ledger.sanctions(user="u1")] == ["d1"]


def test_strikes_escalate_and_an_overturn_corrects_the_whole_history(engine, ledger):
    verdicts = [ledger.process(engine, post(f"p{i}", "你个笨蛋"), at=day(i)) for i in range(4)]
    assert [s.step for s in ledger.sanctions(user="u1")] == ["d1", "d7", "d15", "forever"]
    assert ledger.sanctions(user="u1")[-1].status == "pending_review"  # permanent: waits for two reviewers
    appeal = ledger.appeal(verdicts[0].verdict_id, "我是在骂自己", user="u1", at=day(5))
    ledger.decide_appeal(engine, appeal, "overturn", "alice", "说的是自己，不针对他人", at=day(6))
    live = [(s.post_id, s.step, s.status) for s in ledger.sanctions(user="u1")
            if s.status in ("active", "pending_review")]
    assert live == [("p1", "d1", "active"), ("p2", "d7", "active"), ("p3", "d15", "active")]
    assert [s["status"] for s in ledger.strikes("u1")] == ["removed", "active", "active", "active"]
    assert ledger.sanctions(user="u1")[0].status == "lifted"
    assert "recomputed after the strike of post p0 was removed" in ledger.sanctions(user="u1")[-1].detail.path
    assert ledger.appeal_row(appeal).outcome == "overturn"
    assert ledger.verify_audit().ok
    times = [row["at"] for row in ledger.audit_rows() if row["actor"] != "admin"]  # reviewers: added today
    assert times == sorted(times)  # recomputed sanctions are audited when recomputed


def test_a_permanent_sanction_needs_two_distinct_reviewers(engine, ledger):
    for i in range(4):
        ledger.process(engine, post(f"p{i}", "傻逼"), at=day(i))
    held = ledger.sanctions(user="u1", status="pending_review")[0]
    assert (held.step, held.reviewers_needed) == ("forever", 2)
    assert ledger.decide_sanction(engine, held.sanction_id, "alice", "approve", "屡教不改").status == "pending_review"
    assert ledger.decide_sanction(engine, held.sanction_id, "alice", "approve", "再确认").status == "pending_review"
    assert ledger.decide_sanction(engine, held.sanction_id, "bob", "approve", "同意").status == "active"
    with pytest.raises(LedgerError, match="unknown reviewer 'mallory'"):
        ledger.decide_sanction(engine, held.sanction_id, "mallory", "approve", "x")


def test_a_reviewer_can_reject_or_change_a_held_sanction(engine, ledger):
    ledger.process(engine, post("p1", "笨蛋", protected=True), at=day(0))
    held = ledger.sanctions(user="u1", status="pending_review")[0]
    assert held.detail.holds == (("protected", "受保护作者"),)
    changed = ledger.decide_sanction(engine, held.sanction_id, "alice", "change", "从轻", step="d1")
    assert (changed.step, changed.status, changed.replaces) == ("d1", "active", held.sanction_id)
    ledger.process(engine, post("p2", "笨蛋", user="u2", protected=True), at=day(0))
    other = ledger.sanctions(user="u2", status="pending_review")[0]
    ledger.decide_sanction(engine, other.sanction_id, "bob", "reject", "玩笑")
    assert ledger.strikes("u2")[0]["status"] == "removed"


def test_a_reported_post_no_rule_flagged_waits_in_the_queue(engine, ledger):
    ledger.process(engine, post("p9", "今天天气不错"), at=day(0))
    with pytest.raises(LedgerError, match="no post 'nope'"):
        ledger.report("nope", "r1", "spam")
    ledger.report("p9", "r1", "这是在暗讽我", at=day(1))
    ledger.report("p9", "r2", "人身攻击", at=day(1))
    (case,) = ledger.queue()
    assert (case["kind"], case["post_id"], case["reports"]) == ("report", "p9", 2)
    sanction = ledger.decide_report(engine, "p9", "alice", "sanction", "确认为暗讽", step="d1")
    assert (sanction.step, sanction.status) == ("d1", "active")
    assert ledger.queue() == []


@pytest.mark.parametrize("change, bad_seq", [
    ("UPDATE audit SET payload = '{}' WHERE seq = 3", 3),
    ("DELETE FROM audit WHERE seq = 4", 5),
    ("UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;"
     "UPDATE audit SET seq = 3 WHERE seq = -2", 2),
    ("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)", None),
])
def test_the_audit_chain_names_the_first_row_that_does_not_verify(engine, ledger, ledger_target, change, bad_seq):
    for i in range(3):
        ledger.process(engine, post(f"p{i}", "笨蛋"), at=day(i))
    rows = len(ledger.audit_rows())
    assert ledger.verify_audit().ok
    raw_sql(ledger_target, change)
    check = ledger.verify_audit()
    assert not check.ok
    assert check.bad_seq == (bad_seq if bad_seq is not None else rows)
    assert check.problem


def test_a_read_only_ledger_gives_a_clear_error_and_writes_nothing(engine, tmp_path):
    path = tmp_path / "ro.db"
    SqliteLedger(path).close()
    readonly = SqliteLedger.__new__(SqliteLedger)
    readonly.path = str(path)
    readonly.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    readonly.db.row_factory = sqlite3.Row
    import threading

    readonly._lock = threading.Lock()
    with pytest.raises(LedgerError, match="cannot write to ledger"):
        readonly.process(engine, post("p1", "笨蛋"))
    assert SqliteLedger(path).verdicts() == []


def test_two_workers_recording_the_same_user_count_every_strike(engine, ledger_target):
    """Separate connections, as separate pipeline workers would have, writing at once."""
    import threading

    open_ledger(ledger_target).close()
    errors = []

    def worker(name):
        ledger = open_ledger(ledger_target)
        try:
            for i in range(10):
                ledger.process(engine, post(f"{name}-{i}", "你个笨蛋"))
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)
        finally:
            ledger.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ledger = open_ledger(ledger_target)
    assert len(ledger.strikes("u1")) == 20
    counted = sorted(s.detail.strikes_counted for s in ledger.sanctions(user="u1"))
    # as one worker alone would record it: three active strikes, then permanent sanctions held
    # for review, whose strikes wait (pending) and so do not count
    assert counted == [0, 1, 2] + [3] * 17
    assert ledger.verify_audit().ok


# ---- the chain covers the state ---------------------------------------------------------------

def _state_ledger(engine, ledger):
    """A ledger with a row in every state table: verdicts, strikes, sanctions, a report, an appeal, a review."""
    verdicts = [ledger.process(engine, post(f"p{i}", "笨蛋"), at=day(i)) for i in range(3)]
    ledger.report("p0", "r1", "举报", at=day(4))
    appeal = ledger.appeal(verdicts[0].verdict_id, "我没有", at=day(5))
    ledger.decide_appeal(engine, appeal, "uphold", "alice", "属实", at=day(6))
    ledger.process(engine, post("q1", "笨蛋", user="u2", protected=True), at=day(7))
    held = ledger.sanctions(user="u2")[0]
    ledger.decide_sanction(engine, held.sanction_id, "bob", "approve", "复核", at=day(8))
    return verdicts


EDITS = [  # (table, the SQL an attacker runs, the key verify must name)
    ("strikes", "UPDATE strikes SET status = 'removed' WHERE post_id = 'p1'", "strikes p1: changed"),
    ("strikes", "DELETE FROM strikes WHERE post_id = 'p2'", "strikes p2: removed"),
    ("strikes", "INSERT INTO strikes (user_id, post_id, verdict_id, rule, severity, at, status) "
                "VALUES ('u9', 'x9', 'v', 'r.insult', 1, '2026-03-01T00:00:00.000Z', 'active')", "strikes x9: added"),
    ("sanctions", "UPDATE sanctions SET status = 'lifted' WHERE sanction_id = 2", "sanctions 2: changed"),
    ("sanctions", "DELETE FROM sanctions WHERE sanction_id = 1", "sanctions 1: removed"),
    ("sanctions", "INSERT INTO sanctions (sanction_id, user_id, verdict_id, post_id, rule, step, action, permanent, "
                  "starts_at, status, reviewers_needed, detail) VALUES (99, 'u1', 'v', 'p1', 'r.insult', 'd1', 'mute', "
                  "0, '2026-03-01', 'active', 0, '{}')", "sanctions 99: added"),
    ("appeals", "UPDATE appeals SET outcome = 'overturn'", "appeals 1: changed"),
    ("appeals", "DELETE FROM appeals", "appeals 1: removed"),
    ("reviews", "UPDATE reviews SET decision = 'reject'", "reviews 1: changed"),
    ("reviews", "DELETE FROM reviews", "reviews 1: removed"),
    ("reviews", "INSERT INTO reviews (review_id, sanction_id, post_id, reviewer, decision, reason, at) "
                "VALUES (50, 1, 'p0', 'mallory', 'reject', 'x', '2026-03-09')", "reviews 50: added"),
    ("reports", "UPDATE reports SET status = 'closed'", "reports 1: changed"),
    ("verdicts", "UPDATE verdicts SET decision = 'allow' WHERE post_id = 'p1'", "verdicts V: changed"),
]


@pytest.mark.parametrize("table, change, named", EDITS, ids=[f"{t}-{c.split()[0].lower()}" for t, c, _ in EDITS])
def test_verify_names_every_state_row_changed_added_or_removed_behind_the_ledgers_back(
        engine, ledger, ledger_target, table, change, named):
    verdicts = _state_ledger(engine, ledger)
    before = ledger.verify_audit()
    assert before.ok, before
    raw_sql(ledger_target, change)
    check = ledger.verify_audit()
    assert not check.ok
    expected = named.replace("verdicts V", f"verdicts {verdicts[1].verdict_id}")
    assert any(problem.startswith(expected) for problem in check.tampered), check.tampered
    assert len(check.tampered) == 1, check.tampered  # only the row touched
    assert expected in check.problem


def test_a_ledger_from_before_the_seal_is_sealed_as_it_stands_when_upgraded(engine, tmp_path):
    path = tmp_path / "old.db"
    ledger = SqliteLedger(path)
    ledger.process(engine, post("p0", "笨蛋"), at=day(0))
    ledger.db.execute("DELETE FROM audit WHERE action = 'state.sealed'")  # as a schema-4 ledger had it
    rows = ledger.audit_rows()
    ledger.db.execute("UPDATE audit_head SET seq = ?, hash = ?", (len(rows), rows[-1]["hash"]))
    ledger.db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    ledger.close()
    upgraded = SqliteLedger(path)
    assert upgraded.schema_version() == 5
    assert [r["action"] for r in upgraded.audit_rows()][-1] == "state.baseline"
    assert upgraded.verify_audit().ok
