"""Normalization sees through disguises, and the fast path equals the mapped path."""

from hypothesis import given, settings
from hypothesis import strategies as st

from policy.text.normalize import (
    DEFAULT_PROFILE,
    STEPS,
    Profile,
    _walk,
    normalize,
    normalize_with_map,
    resolve_steps,
    table_for,
)

DEFAULT = table_for(DEFAULT_PROFILE)


def n(text: str, table=DEFAULT) -> str:
    return normalize(text, table)


def test_each_step_undoes_its_disguise():
    assert n("ＳＢ") == "sb"  # width, case
    assert n("傻逼們說話") == "傻逼们说话"  # traditional, character by character
    assert n("什麼著名") == "什么著名"  # 么 and 著 are simplified already: never folded further
    assert n("①⑨９") == "199"  # digits
    assert n("Ⓕ𝐔𝕔🅺") == "fuck"  # enclosed and styled letters
    assert n("你🐴🈲㊙金🌸") == "你马禁秘金花"  # emoji written for words and syllables
    assert n("🫘音 小🍠 补🥚") == "豆音小红薯补蛋"  # platform nicknames: 抖音 through 豆, 小红书 through 红薯
    assert n("⒮⒝⒡⒰⒞⒦") == "sbfuck"  # parenthesized letters (U+249C-24B5) are letters, not symbols
    assert n("саsh") == "cash"  # Cyrillic look-alikes
    assert n("fúck") == "fuck"  # diacritics
    assert n("傻@逼 傻 逼 傻😀逼 傻\u200b逼") == "傻逼傻逼傻逼傻逼"  # separators
    assert n("金[em]e163[/em]花 傻/汪汪逼 傻[捂脸]逼") == "金花傻逼傻逼"  # emoticon codes inside words
    assert n("/色 /色情") == "色情"  # a one-letter code only where no Chinese character follows
    assert n("傻傻傻逼") == "傻逼"  # a run of three or more counts once
    assert n("妈妈") == "妈妈"  # a run of two is left alone
    assert n("138 0000 8000") == "13800008000"  # digits never fold: phone numbers repeat them


def test_numerals_are_off_by_default_and_can_be_turned_on():
    assert n("一起加微信") == "一起加微信"
    with_numerals = table_for(Profile(resolve_steps([("default", True), ("numerals", True)])))
    assert n("壹叁捌零零", with_numerals) == "13800"


def test_steps_switch_off_one_by_one():
    no_separators = table_for(Profile(resolve_steps([("default", True), ("separators", False)])))
    assert n("傻@逼", no_separators) == "傻@逼"
    nothing = table_for(Profile(resolve_steps([("none", True)])))
    assert n("ＳＢ傻@逼們", nothing) == "ＳＢ傻@逼們"
    assert resolve_steps([("all", True)]) == frozenset(STEPS)


def test_the_map_points_every_normalized_character_at_its_original_characters():
    m = normalize_with_map("你是傻 @逼們", DEFAULT)
    assert m.text == "你是傻逼们"
    assert m.original_span(2, 4) == (2, 6)  # 傻 @逼, separators included
    runs = normalize_with_map("傻傻傻逼", DEFAULT)
    assert runs.original_span(0, 2) == (0, 4)


ALPHABET = st.sampled_from(list("傻逼們说話aAｓＳb①9 @.\u200b😀-\n⑩") + ["e\u0301", "🇨🇳", "\U00020000", "\ud800",
                                                                      "傻傻傻", "aaa", "000", "/汪汪", "[捂脸]",
                                                                      "[em]e163[/em]", "/", "[", "]"])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map("".join), st.sets(st.sampled_from(STEPS)))
def test_fast_path_equals_mapped_path(text, steps):
    table = table_for(Profile(frozenset(steps)))
    mapped = normalize_with_map(text, table)
    walked = _walk(text, table)  # the per-character walk: the reference for the C-speed map
    assert (mapped.text, mapped.starts, mapped.ends) == (walked.text, walked.starts, walked.ends)
    assert mapped.text == normalize(text, table)
    # end(i), which the word tests and spans read, without the list of ends being made
    assert [normalize_with_map(text, table).end(i) for i in range(len(walked.text))] == walked.ends
    reusing = normalize_with_map(text, table, normalize(text, table))  # the check's path: text normalized first
    assert (reusing.text, reusing.starts, reusing.ends) == (walked.text, walked.starts, walked.ends)
    assert len(mapped.starts) == len(mapped.ends) == len(mapped.text)
    for start, end in zip(mapped.starts, mapped.ends, strict=False):
        assert 0 <= start < end <= len(text)
    assert mapped.starts == sorted(mapped.starts)
