"""Disguises the engine sees through, and the evasions found while measuring on held-out posts.

Each defect found by measurement has its own test here; the mechanisms behind them (normalization
steps, term expansions, word boundaries, contacts) have their property tests beside their modules.
"""

import pytest

from policy import Engine
from policy.model.post import Post
from policy.tools.explain import explain, render

POLICY = """
clause 一 "总则"
category c "类别" { clause 一 severity 1 }
lexicon phrases { terms "only fans" "roxy-man.ru" "distributed super computing" "sex" }
rule c.phrase "词组" { category c clause 一 when body has phrases }
"""


@pytest.fixture(scope="module")
def bundled() -> Engine:
    return Engine.load()


@pytest.fixture(scope="module")
def phrases(tmp_path_factory) -> Engine:
    folder = tmp_path_factory.mktemp("phrases")
    (folder / "main.policy").write_text(POLICY, encoding="utf-8")
    return Engine.load(folder)


def test_parenthesized_letters_are_letters_not_symbols(bundled):
    # ⒮⒝ (U+24AE, U+249D) were deleted as symbols, so the post passed while ⓢⓑ was rejected
    assert bundled.check("你是ⓢⓑ").decision == "reject"
    verdict = bundled.check("你是⒮⒝")
    assert verdict.decision == "reject"
    assert verdict.violations[0].evidence[0].text == "⒮⒝"


@pytest.mark.parametrize("text", ["only fans", "onlyfans", "ONLY-FANS", "o n l y f a n s", "去 roxy-man.ru 看",
                                  "roxyman.ru", "distributed super computing", "distributed supercomputing"])
def test_a_term_written_with_spaces_or_punctuation_matches_its_own_text(phrases, text):
    verdict = phrases.check(text)
    assert verdict.decision == "reject", text
    assert verdict.violations[0].evidence[0].text.replace(" ", "") in text.replace(" ", "")


@pytest.mark.parametrize("text", ["on ly fans", "onlyfansclub", "s ex", "roxy-man.rus"])
def test_the_gaps_a_term_does_not_write_still_follow_the_whole_word_rules(phrases, text):
    assert phrases.check(text).decision == "allow", text


def test_an_emoticon_code_inside_a_word_is_a_separator(bundled):
    verdict = bundled.check("快来玩炸金[em]e163[/em]花，稳赚")
    hits = [e for v in verdict.violations for e in v.evidence if e.kind == "lexicon"]
    assert any(e.text == "炸金[em]e163[/em]花" and e.term == "炸金花" for e in hits), verdict.to_json()


def test_an_emoticon_code_is_not_read_as_a_short_domain(bundled):
    # after normalization "[em]e163[/em]vip" read as the host "eme163em" + "vip" to the gambling link regex
    assert bundled.check("我是[em]e163[/em]vip会员，今天签到了").decision == "allow"
    assert bundled.check("我是[em]e163[/em]vip会员[em]e400823[/em]").decision == "allow"



@pytest.mark.parametrize("text, rule, term, word", [
    ("这个方案能满足交通需求", "porn.explicit", "足交", "满足"),
    ("蛋白粉每天吃30克就够了", "illegal.drugs.trade", "白粉", "蛋白"),
    ("印度支那半岛的历史", "illegal.political.insult", "支那", "印度支那"),
])
def test_a_term_across_or_inside_an_ordinary_word_does_not_fire(bundled, text, rule, term, word):
    # these rejected or queued innocent posts; the lexicons now ask the dictionary for word boundaries
    assert bundled.check(text).decision == "allow"
    reasons = render(explain(bundled, rule, Post.of(text)))
    assert f"term '{term}': part of the ordinary word 「{word}」" in reasons


@pytest.mark.parametrize("text", ["喜欢足交的私我", "卖白粉，一克三百", "支那人就是这样"])
def test_the_same_terms_still_fire_as_words_of_their_own(bundled, text):
    assert bundled.check(text).decision != "allow"


@pytest.mark.parametrize("text", ["黄油饼干烤十五分钟就好", "商场里的老虎机玩具，孩子玩了一下午", "她在学木琴"])
def test_ordinary_words_that_are_also_slang_need_a_second_signal(bundled, text):
    assert bundled.check(text).decision == "allow"
