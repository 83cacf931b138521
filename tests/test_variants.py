"""Term expansions (homophones, split characters, pinyin, initials) and word boundaries from the
dictionary: what they match, what they must not, and that evidence stays in the original text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import Engine
from policy.engine import build
from policy.lang import syntax as s
from policy.model.post import Post
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for
from policy.text.variants import MAX_VARIANTS, expand, parse_table
from policy.tools.explain import explain, render

from .conftest import write_policy

SOUNDS = "傻\t煞 沙\n逼\t笔 比 b\n妈\t马\n你\t尼 泥\n死\t四 司\n操\t草 艹\n娼\t女昌\n"

RULES = """
variants sounds "谐音与拆字" { file "sounds.txt" }
lexicon abuse { terms "傻逼" "你妈死了" "操你妈" expand sounds, pinyin, initials }
lexicon porn { terms "足交" "白粉" "娼妓" expand sounds boundaries dictionary }
rule unfriendly.abuse "谩骂" { category unfriendly clause 一.2.6 when body has abuse }
rule spam.porn "色情" { category spam clause 一.3.8 when body has porn }
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    return Engine.load(write_policy(tmp_path_factory.mktemp("variants"), RULES, {"sounds.txt": SOUNDS}))


def norm(text: str) -> str:
    return normalize(text, table_for(DEFAULT_PROFILE))


def test_a_term_expands_to_its_homophones_pinyin_and_initials():
    table, problems = parse_table(SOUNDS)
    assert problems == []
    found = dict(expand("你妈死了", [table], True, True, norm))
    assert {"nimasile", "nmsl", "你马死了", "尼妈死了", "你马四了"} <= found.keys()
    assert "尼马四了" not in found  # at most two characters replaced at once
    assert found["nimasile"] == (1, 3, 5)  # the syllables may be written apart: ni ma si le
    two = dict(expand("傻逼", [table], True, True, norm))
    assert "sb" not in two  # two letters are too often something else
    assert "煞笔" not in two and "傻b" in two  # one character always stays as written (出声 is no 畜生)
    assert len(expand("你妈死了你妈死了", [table], True, True, norm)) <= MAX_VARIANTS
    assert "傻bi" in two and "shab" not in two and "sha逼" not in two  # one syllable spelled out: the last of two
    assert "代fa" in dict(expand("代发", [], True, False, norm))
    assert "代fa" not in dict(expand("代发", [], False, True, norm))  # spelled syllables come with pinyin


@pytest.mark.parametrize("text, evidence", [
    ("你是煞逼吧", "煞逼"), ("你是傻比吧", "傻比"), ("你是shabi", "shabi"), ("你是 sha bi", "sha bi"),
    ("傻b了吧", "傻b"), ("nmsl", "nmsl"), ("你🐴死了", "你🐴死了"), ("你妈四了", "你妈四了"), ("草你妈", "草你妈"),
    ("煞 @ 逼", "煞 @ 逼"),
])
def test_a_disguised_term_is_found_and_reported_as_the_term_at_its_original_characters(engine, text, evidence):
    verdict = engine.check(text)
    assert verdict.decision == "reject", text
    hit = verdict.violations[0].evidence[0]
    assert hit.text == evidence
    assert hit.term in ("傻逼", "你妈死了", "操你妈")


@pytest.mark.parametrize("text", ["沙比例失调", "这个比例不对", "满足交通规则", "蛋白粉补充营养", "漂白粉消毒",
                                  "尼罗河", "你妈妈做的饭真好吃"])
def test_a_term_or_variant_inside_or_across_an_ordinary_word_is_no_hit(engine, text):
    assert engine.check(text).decision == "allow", engine.check(text).to_json()


@pytest.mark.parametrize("text", ["喜欢足交", "卖白粉的被抓了", "女昌妓", "你就是个煞逼"])
def test_the_same_terms_stand_where_they_are_words_of_their_own(engine, text):
    assert engine.check(text).decision == "reject", text


def test_explain_names_the_ordinary_word_that_took_the_hit(engine):
    text = render(explain(engine, "spam.porn", Post.of("满足交通规则")))
    assert "near miss 「足交」 at 1–3, term '足交': part of the ordinary word 「满足」" in text


DISGUISES = st.sampled_from(["煞逼", "傻比", "傻b", "shabi", "你马死了", "nmsl", "草你妈"])
FILLER = st.text("今天天气很好我们去公园玩吧，。", max_size=10)


@settings(max_examples=200, deadline=None)
@given(FILLER, DISGUISES, FILLER)
def test_evidence_of_a_variant_is_the_disguise_as_written(engine, before, disguise, after):
    text = before + " " + disguise + " " + after
    verdict = engine.check(text)
    found = [e for v in verdict.violations for e in v.evidence if e.kind == "lexicon"]
    assert found, text
    for e in found:
        assert text[e.start:e.end] == e.text
        assert e.normalized == norm(e.text) or e.normalized.replace(" ", "") == norm(e.text)


def _ordinary_words() -> list[str]:
    """An ordinary word list independent of the dictionary the engine uses (jieba's): pypinyin's
    phrase dictionary, 47k words."""
    from pypinyin.phrases_dict import phrases_dict

    return sorted(phrases_dict)


def test_no_variant_of_the_bundled_convention_matches_inside_an_ordinary_word():
    """Homophones match disguises, not the ordinary words that share their sound: over the 47k
    words of a word list other than the dictionary the engine uses, no hit of a variant."""
    built = build()
    expanded = {d.name.text for f in built.files for d in f.decls if isinstance(d, s.Lexicon) and d.expand}
    if not expanded:
        pytest.skip("no lexicon of the bundled convention expands its terms")
    engine = Engine(built.compiled)
    misfires = []
    for word in _ordinary_words():
        for v in engine.check(word).violations:
            misfires += [(word, v.rule, e.term, e.normalized) for e in v.evidence
                         if e.kind == "lexicon" and e.lexicon in expanded and e.normalized != norm(e.term)]
    assert misfires == []
