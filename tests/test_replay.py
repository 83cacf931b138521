"""Replay: what a change would do, the same on one core or many."""

import json

from policy import Engine, Post
from policy.cli import main
from policy.store import open_ledger
from policy.tools.replay import replay

from .conftest import write_policy

OLD = 'lexicon ads { terms "代发" }\nrule ads "广告" { category spam clause 一.3.8 when body has ads }\n'
NEW = OLD.replace('terms "代发"', 'terms "代发" "私聊"')


def posts(n):
    bodies = ["专业代发", "有事私聊", "今天天气不错", "代发，私聊"]
    return [json.dumps({"id": f"p{i}", "body": bodies[i % 4]}, ensure_ascii=False) for i in range(n)]


def test_replay_counts_what_changes_and_shows_samples(tmp_path):
    old, new = write_policy(tmp_path / "old", OLD), write_policy(tmp_path / "new", NEW)
    report = replay(old, new, posts(4000) + ["not json"], samples=2, workers=1)
    assert (report.posts, report.bad_lines) == (4000, 1)
    assert report.transitions[("allow", "reject")] == 1000 and report.changed == 1000
    assert (report.rules_old["ads"], report.rules_new["ads"], report.gained["ads"]) == (2000, 3000, 1000)
    assert [c.post_id for c in report.samples["+ads"]] == ["p1", "p5"]


def test_many_workers_give_the_same_report_as_one(tmp_path):
    old, new = write_policy(tmp_path / "old", OLD), write_policy(tmp_path / "new", NEW)
    one = replay(old, new, posts(5000), samples=3, workers=1).as_dict()
    two = replay(old, new, posts(5000), samples=3, workers=2).as_dict()
    assert one == two


def test_replay_from_the_ledger_with_reviewer_outcomes(capsys, tmp_path, ledger_target):
    old, new = write_policy(tmp_path / "old", OLD + LADDER), write_policy(tmp_path / "new", NEW + LADDER)
    ledger = open_ledger(ledger_target)
    ledger.add_reviewer("dan")
    engine = Engine.load(old)
    verdict = ledger.process(engine, Post.from_dict({"id": "x1", "body": "专业代发", "author": {"id": "u"}}))
    ledger.process(engine, Post.from_dict({"id": "x2", "body": "有事私聊", "author": {"id": "v"}}))
    appeal = ledger.appeal(verdict.verdict_id, "我是卖书的")
    ledger.decide_appeal(engine, appeal, "overturn", "dan", "误判")
    ledger.close()
    code = main(["replay", "--old", str(old), "--new", str(new), "--db", ledger_target, "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "decisions changed on 1 post(s)" in out
    assert "0% of 1" in out  # reviewers overturned the one decided case of this rule
    assert "x2: allow → reject" in out


LADDER = """
ladder "处罚" {
  step d1 "禁言 1 天" mute 1 day
  start severity 1 at d1
}
"""
