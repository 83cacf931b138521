"""The penalty ladder: properties of the step it reaches, and the holds that make it wait."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.model.sanction import Strike

from .conftest import write_policy

LADDER = """
lexicon light { terms "笨蛋" }
lexicon heavy { terms "去死" }
lexicon cheat { terms "刷赞" }
rule r.light "轻" { category unfriendly clause 一.2.6 severity 1 when body has light }
rule r.heavy "重" { category unfriendly clause 一.2.6 severity 3 when body has heavy }
rule r.review "待定" {
  category unfriendly clause 一.2.6 severity 1 action review when body has light and body has heavy
}
rule r.shadow "影子" { category spam clause 一.3.8 severity 1 mode shadow when body has cheat }
rule r.direct "直接封号" {
  category spam clause 一.3.8 severity 1 sanction close tags cheating when body has cheat and links > 0
}
ladder "处罚" {
  step d1 "禁言 1 天" mute 1 day
  step d7 "禁言 7 天" mute 7 days
  step d15 "禁言 15 天" mute 15 days
  step forever "永久禁言" mute permanent
  step close "封停账号" ban
  start severity 1 at d1
  start severity 3 at d7
  escalate within 180 days
  expire after 365 days
  factor minors "未成年人" raises 2 when target.minor
  factor cheating "作弊" raises 1 tags cheating when author.registration_cheat
  hold permanent "永久处罚须人工复核" when sanction.permanent
  hold protected "受保护作者" when author.protected
  hold shadow "影子模式" when rule.shadow
  hold review "规则要求复核" when rule.review
  confirm 2 when sanction.permanent
}
"""

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from policy import Engine

    return Engine.load(write_policy(tmp_path_factory.mktemp("ladder"), LADDER))


def strikes(ages_in_days):
    return [Strike(f"old{i}", f"v{i}", "r.light", 1, NOW - timedelta(days=age)) for i, age in enumerate(ages_in_days)]


def sanction(engine, body, history=(), **author):
    post = {"id": "p", "body": body, "author": {"id": "u", **{k: v for k, v in author.items() if k != "target"}}}
    if "target" in author:
        post["target"] = author["target"]
    return engine.check(post, checked_at=NOW, history=history).sanction


def test_severity_picks_the_starting_step(engine):
    assert sanction(engine, "笨蛋").step == "d1"
    assert sanction(engine, "去死").step == "d7"
    assert sanction(engine, "你好") is None


def test_each_prior_strike_in_the_window_raises_one_step_and_old_ones_expire(engine):
    assert sanction(engine, "笨蛋", strikes([10, 20])).step == "d15"
    assert sanction(engine, "笨蛋", strikes([10, 200, 400])).step == "d7"  # 200 days: outside the 180-day window
    got = sanction(engine, "笨蛋", strikes([10]))
    assert (got.strikes_counted, got.counted_posts) == (1, ("old0",))
    assert got.path == ("severity 1 starts at d1 (禁言 1 天)", "1 prior strike(s) within 180 days raise it 1 step(s)")


def test_the_same_post_never_counts_against_itself(engine):
    same = [Strike("p", "v0", "r.light", 1, NOW - timedelta(days=1))]
    assert sanction(engine, "笨蛋", same).strikes_counted == 0


def test_factors_raise_once_and_the_top_step_caps(engine):
    got = sanction(engine, "笨蛋", target={"minor": True})
    assert (got.step, got.factors) == ("d15", (("minors", "未成年人", 2),))
    # matched by its tag AND by its condition, the cheating factor still raises once
    direct = sanction(engine, "刷赞 http://x.cn", registration_cheat=True)
    assert direct.factors == (("cheating", "作弊", 1),)
    assert direct.step == "close" and "capped at the last step, close" in direct.path


def test_holds_make_a_sanction_wait_and_permanent_ones_need_two_reviewers(engine):
    permanent = sanction(engine, "去死", strikes([1, 2]))
    assert (permanent.step, permanent.status, permanent.reviewers_needed) == ("forever", "pending_review", 2)
    assert permanent.holds == (("permanent", "永久处罚须人工复核"),)
    protected = sanction(engine, "笨蛋", protected=True)
    assert (protected.status, protected.reviewers_needed, protected.holds[0][0]) == ("pending_review", 1, "protected")
    assert sanction(engine, "笨蛋去死").holds == ()  # r.heavy decides: the heaviest start wins
    assert sanction(engine, "刷赞").status == "shadow"
    plain = sanction(engine, "笨蛋")
    assert (plain.status, plain.holds, plain.reviewers_needed) == ("active", (), 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 500), max_size=6), st.lists(st.integers(0, 500), max_size=6))
def test_more_strikes_never_lower_the_step(engine, ages, more):
    fewer = sanction(engine, "笨蛋", strikes(ages))
    extra = sanction(engine, "笨蛋", strikes(ages + more))
    assert extra.level >= fewer.level
    assert fewer.strikes_counted == sum(1 for a in ages if a < 180)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 500), max_size=6), st.booleans())
def test_a_graver_violation_never_gets_a_lighter_step(engine, ages, minor):
    target = {"minor": minor}
    assert sanction(engine, "去死", strikes(ages), target=target).level >= \
        sanction(engine, "笨蛋", strikes(ages), target=target).level
