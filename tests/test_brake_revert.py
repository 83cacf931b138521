"""The emergency brake and bulk revert: a misfiring rule is stopped, and its harm undone exactly."""

from datetime import datetime, timedelta, timezone

import pytest

from policy import Engine, Post
from policy.store import SqliteLedger, open_ledger

from .conftest import write_policy

LADDER = """
ladder "处罚" {
  step d1 "禁言 1 天" mute 1 day
  step d7 "禁言 7 天" mute 7 days
  step d15 "禁言 15 天" mute 15 days
  step close "封停账号" ban
  start severity 1 at d1
  start severity 2 at d1
  escalate within 180 days
  expire after 365 days
  hold permanent "永久处罚须人工复核" when sanction.permanent
}
brake "紧急制动" {
  watch 7 days
  share 5
  minimum 20
}
"""
V1 = 'lexicon ads { terms "代发" }\nrule spam.ads "广告" { category spam clause 一.3.8 when body has ads }\n'
V2 = V1.replace('terms "代发"', 'terms "代发" "的"')  # the edit: 的 is in nearly every post
T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


def engine_for(tmp_path, rules, name):
    return Engine.load(write_policy(tmp_path / name, rules + LADDER))


def stream(n, start=0, ad_every=50):
    for i in range(start, start + n):
        body = "专业代发，私聊" if i % ad_every == 0 else "今天的天气真好"
        yield Post.from_dict({"id": f"p{i}", "body": body, "author": {"id": f"u{i % 40}"}})


def test_a_rule_that_starts_to_match_everything_is_tripped_loudly_and_held(tmp_path, ledger_target):
    trips = []
    ledger = open_ledger(ledger_target, on_brake=trips.append)
    ledger.add_reviewer("alice")
    v1, v2 = engine_for(tmp_path, V1, "v1"), engine_for(tmp_path, V2, "v2")
    for i, post in enumerate(stream(400)):
        ledger.process(v1, post, at=T0 + timedelta(minutes=i))
    assert trips == []  # 2% of posts: normal
    later = T0 + timedelta(days=1)
    for i, post in enumerate(stream(100, start=400)):
        ledger.process(v2, post, at=later + timedelta(minutes=i))
    (trip,) = trips  # the callback, once, when the edited rule crossed the thresholds
    assert (trip.rule, trip.matched) == ("spam.ads", 20) and trip.share == 100.0
    held = [s for s in ledger.sanctions() if any(h[0] == "brake" for h in s.detail.holds)]
    # the post that tripped it and every one after: 100 matches, 19 before the trip
    assert len(held) == 81 and all(s.status == "pending_review" for s in held)
    assert [r["action"] for r in ledger.audit_rows()].count("brake.tripped") == 1
    assert [b["rule"] for b in ledger.brake_status()["tripped"]] == ["spam.ads"]
    assert ledger.verify_audit().ok
    ledger.reset_brake("spam.ads", "alice", "the edit was intended")
    assert ledger.brake_status()["tripped"] == []
    ledger.process(v2, Post.of("今天的天气", post_id="after", author={"id": "u1"}), at=later + timedelta(hours=5))
    after = ledger.sanctions(post_id="after")[0]
    assert not any(h[0] == "brake" for h in after.detail.holds)


def standing(ledger, users):
    def live(u):
        return sorted((s.post_id, s.step, s.status) for s in ledger.sanctions(user=u)
                      if s.status in ("active", "pending_review"))

    return {u: (sorted((s["post_id"], s["status"]) for s in ledger.strikes(u) if s["status"] != "removed"), live(u))
            for u in users}


RULES = """
lexicon insult { terms "笨蛋" }
lexicon ads { terms "代发" }
rule insult "谩骂" { category unfriendly clause 一.2.6 when body has insult }
rule ads "广告" { category spam clause 一.3.8 when body has ads }
"""


def mixed_stream():
    for i in range(60):
        body = ["你个笨蛋", "专业代发", "你好"][i % 3]
        yield Post.from_dict({"id": f"m{i}", "body": body, "author": {"id": f"u{i % 7}"}})


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_revert_restores_every_affected_user_exactly(tmp_path, ledger_target, dry_run):
    engine = engine_for(tmp_path, RULES, "both")
    without = engine_for(tmp_path, RULES.replace("when body has ads", "when body has ads and links > 99"), "none")
    ledger = open_ledger(ledger_target)
    ledger.add_reviewer("alice")
    expected = SqliteLedger(tmp_path / "expected.db")
    for i, post in enumerate(mixed_stream()):
        ledger.process(engine, post, at=T0 + timedelta(hours=i))
        expected.process(without, post, at=T0 + timedelta(hours=i))
    users = [f"u{i}" for i in range(7)]
    before = standing(ledger, users)
    listed = ledger.revert(engine, "ads", since="2026-05-01", reviewer="alice", reason="bad rule", dry_run=dry_run)
    assert len(listed) == 20 and {s.rule for s in listed} == {"ads"}
    if dry_run:
        assert standing(ledger, users) == before  # nothing changed
        return
    assert standing(ledger, users) == standing(expected, users)
    assert [r["action"] for r in ledger.audit_rows()].count("strike.removed") == 20
    assert ledger.verify_audit().ok
