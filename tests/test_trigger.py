"""Triggers decide which rules to evaluate from cheap signals, and only ever skip work:
a rule whose condition is true is always among the candidates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policy import Engine, Post
from policy.runtime.evaluate import Context

RULES = """
lexicon group { terms "河南人" "女人" }
lexicon generalizer { terms "都是" "全是" }
lexicon stereotype { terms "骗子" "小偷" }
lexicon slur { terms "蝈蝻" }
lexicon discussion { terms "地域黑" }
lexicon offer { terms "兼职" }
rule unfriendly.stereotype "地图炮" {
  category unfriendly
  clause 一.2.6
  when (body has group near generalizer within 1 and body has generalizer near stereotype within 3
        or body has slur)
      and not body has discussion
}
rule spam.repeated "重复广告" {
  category spam
  clause 一.3.8
  when author.similar_posts_24h >= 3 and (body has offer or links >= 1)
}
rule spam.verified_offer "认证号广告" {
  category spam
  clause 一.3.8
  when author.verified and body matches /兼职[0-9]+/
}
"""


def candidates(engine: Engine, post: Post | dict | str) -> list[str]:
    if isinstance(post, str):
        post = Post.of(post)
    elif isinstance(post, dict):
        post = Post.from_dict({"id": "p", **post})
    ctx = Context(engine.policy, post, engine.regex_timeout)
    return [engine.policy.rules[i].id for i in engine.policy.triggers.candidates(engine.scan_signals(ctx))]


def test_a_rule_needing_several_terms_sleeps_until_one_whole_alternative_is_there(make_engine):
    engine = make_engine(RULES)
    assert candidates(engine, "河南人真热情") == []  # the group alone
    assert candidates(engine, "河南人都是好人") == []  # group and generalizer, no stereotype
    assert candidates(engine, "河南人都是骗子") == ["unfriendly.stereotype"]
    assert candidates(engine, "一群蝈蝻") == ["unfriendly.stereotype"]  # the other alternative


def test_facts_are_signals_too(make_engine):
    engine = make_engine(RULES)
    assert candidates(engine, "兼职日结") == []  # no author.similar_posts_24h: spam.repeated cannot be true
    assert candidates(engine, {"body": "兼职日结", "author": {"similar_posts_24h": 0}}) == []  # 0 >= 3 is false
    assert candidates(engine, {"body": "兼职日结", "author": {"similar_posts_24h": 1}}) == ["spam.repeated"]
    assert candidates(engine, {"body": "兼职123", "author": {"verified": False}}) == []  # a false flag
    assert candidates(engine, {"body": "兼职123", "author": {"verified": True}}) == ["spam.verified_offer"]


def test_a_regex_is_a_signal_only_when_one_of_its_literals_is_there(make_engine):
    engine = make_engine(RULES)
    assert candidates(engine, {"body": "打工123", "author": {"verified": True}}) == []


def test_a_rule_reading_some_tags_of_a_lexicon_sleeps_when_only_other_terms_hit(make_engine):
    """Context lexicons hold common words under one tag and telling ones under another: a rule
    that reads `task[pay]` must not wake for 一起 (tagged `mid`), only for a term tagged `pay`."""
    engine = make_engine("""
lexicon task { terms "一起" [mid] "日结" [pay] "兼职" [pay, recruit] }
rule spam.task "有偿任务" {
  category spam
  clause 一.3.8
  when body has task[pay] near task[mid] within 4
}
rule spam.recruit "招募" {
  category spam
  clause 一.3.8
  when count(body has task[recruit]) >= 1
}
""")
    assert candidates(engine, "我们一起去吧") == []
    assert candidates(engine, "一起日结") == ["spam.task"]
    assert candidates(engine, "兼职一起做") == ["spam.task", "spam.recruit"]  # in rule order
    assert engine.check("一起日结").decision == "reject" and engine.check("我们一起去吧").decision == "allow"


def test_a_term_counts_only_in_the_pass_of_its_own_profile(make_engine):
    """The same key in two lexicons with different normalization: full-width ＳＢ is sb once
    normalized, which wakes the rule of the default lexicon, not the one of the strict lexicon."""
    engine = make_engine("""
lexicon loose { terms "sb" }
lexicon strict { terms "sb" normalize none }
rule unfriendly.loose "宽" {
  category unfriendly
  clause 一.2.6
  when body has loose
}
rule unfriendly.strict "严" {
  category unfriendly
  clause 一.2.6
  when body has strict
}
""")
    assert len(engine.policy.profiles) == 2
    assert candidates(engine, "你是ＳＢ") == ["unfriendly.loose"]
    assert candidates(engine, "你是sb") == ["unfriendly.loose", "unfriendly.strict"]


def test_skipping_never_changes_a_verdict(make_engine):
    engine = make_engine(RULES)
    assert engine.check("河南人都是骗子").decision == "reject"
    assert engine.check("河南人都是骗子，这是地域黑").decision == "allow"
    assert engine.check({"id": "p", "body": "看 www.x.com", "author": {"similar_posts_24h": 5}}).decision == "reject"


# ---- the bundled convention: soundness over its own examples and generated posts ------------

BUNDLED = Engine.load()


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for rule in BUNDLED.policy.rules:
        for example in rule.examples:
            for _, value in example.fields:
                if isinstance(value, str):
                    words.update(value[i:i + 3] for i in range(0, len(value), 3))
    for requirement in BUNDLED.policy.prefilter.literals:
        for alternative in requirement or ():
            words.update(alternative)
    return sorted(words) + ["，", " ", "。", "a", "1", "http://a.cn", "@某人"]


VOCABULARY = _vocabulary()
TEXT = st.lists(st.sampled_from(VOCABULARY), max_size=12).map("".join)
FACTS = st.fixed_dictionaries({}, optional={
    "links": st.integers(0, 6), "author": st.fixed_dictionaries({}, optional={
        "account_age_days": st.integers(0, 30), "posts_last_hour": st.integers(0, 20),
        "similar_posts_24h": st.integers(0, 5), "verified": st.booleans(), "protected": st.booleans(),
        "linked_accounts": st.integers(0, 5), "registration_cheat": st.booleans()}),
    "target": st.fixed_dictionaries({}, optional={"minor": st.booleans(), "age": st.integers(5, 40)}),
})


def _assert_no_true_rule_is_skipped(post: Post) -> None:
    ctx = Context(BUNDLED.policy, post, BUNDLED.regex_timeout)
    chosen = set(BUNDLED.policy.triggers.candidates(BUNDLED.scan_signals(ctx)))
    for rule in BUNDLED.policy.rules:
        if rule.condition.test(ctx):
            assert rule.index in chosen, (rule.id, post)


def test_every_example_of_the_bundled_convention_keeps_its_rule_a_candidate():
    for rule in BUNDLED.policy.rules:
        for example in rule.examples:
            post = Post.from_dict({"id": "e", **{name.text: value for name, value in example.fields}})
            _assert_no_true_rule_is_skipped(post)


@settings(max_examples=400, deadline=None)
@given(TEXT, TEXT, FACTS)
def test_generated_posts_never_lose_a_true_rule(body, title, facts):
    _assert_no_true_rule_is_skipped(Post.from_dict({"id": "g", "body": body, "title": title, **facts}))
