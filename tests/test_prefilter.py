"""Regex prefilters only ever skip work: whenever a regex matches, all the literals of one of its
alternatives are there."""

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.compiler.prefilter import literal_rarity, needs_casefold, required_literals

ATOMS = ["微信", "vx", "加", "q", "Q", "[0-9]", r"\d", ".", "[a-z]", "x", "傻", "逼", r"\s", "[加q]", r"\p{Han}",
         "[a-c]", "(?<!x)", "(?=q)", "[微薇]",
         "[^傻]"]


@st.composite
def patterns(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 4 if depth < 2 else 1))
        if kind <= 1:
            parts.append(draw(st.sampled_from(ATOMS)))
        elif kind == 2:
            parts.append("(" + "|".join(draw(st.lists(patterns(depth + 1), min_size=1, max_size=3))) + ")")
        elif kind == 3:
            parts.append("(?:" + draw(patterns(depth + 1)) + ")" + draw(st.sampled_from(["?", "*", "+", "{1,2}"])))
        else:
            parts.append(draw(st.sampled_from(ATOMS)) + draw(st.sampled_from(["?", "*", "+"])))
    return "".join(parts)


TEXT = st.lists(st.sampled_from(list("微信vxVX加qQ傻逼 x0123a!") + ["微信", "傻逼"]), max_size=20).map("".join)


@settings(max_examples=600, deadline=None)
@given(patterns(), st.sampled_from(["", "i"]), TEXT)
def test_a_matching_text_always_contains_a_required_literal(pattern, flags, text):
    literals = required_literals(pattern, flags)
    compiled = regex.compile(pattern, regex.I if flags else 0)
    if literals is None or not compiled.search(text):
        return
    hay = text.casefold() if needs_casefold(pattern, flags) else text
    assert any(all(literal in hay for literal in alternative) for alternative in literals), (pattern, literals, text)


def alternatives(pattern: str, flags: str = "") -> list[set[str]] | None:
    found = required_literals(pattern, flags)
    return None if found is None else sorted((set(a) for a in found), key=sorted)


def test_what_the_prefilter_extracts():
    assert alternatives(r"(微信|vx)号?\d{6}") == [{"vx"}, {"微信"}]
    assert alternatives(r"(?:你|您)(是|个)傻逼") == [{"你个傻逼"}, {"你是傻逼"}, {"您个傻逼"}, {"您是傻逼"}]
    assert alternatives(r"[a-z]+") is None  # nothing is required: always run
    assert alternatives(r"\p{Han}+x") == [{"x"}]  # \p{…} reads as a class
    assert alternatives(r"\\p{Han}") == [{"\\p{Han}"}]  # an escaped backslash, then literal text
    assert alternatives(r"[0-9]{4}[.。点](top|vip)") == [{".top"}, {".vip"}, {"。top"}, {"。vip"}, {"点top"}, {"点vip"}]
    assert alternatives("QQ", "i") == [{"qq"}]
    assert needs_casefold("(?i)qq", "") and needs_casefold("a(?i:b)", "")


def test_separate_literals_are_all_required():
    assert alternatives(r"[0-9]+(元|块)[0-9]+(一|每)单") == [
        {"一单", "元"}, {"一单", "块"}, {"每单", "元"}, {"每单", "块"}]
    assert alternatives(r"日入\d+|微信.{0,3}\d") == [{"微信"}, {"日入"}]
    assert alternatives(r"(?<![0-9])91(?![0-9])") == [{"91"}]  # lookarounds match no character
    assert alternatives(r"[Ⓐ-Ⓒ]{2,}") == [{"Ⓐ"}, {"Ⓑ"}, {"Ⓒ"}]  # a small range of rare characters
    assert alternatives(r"x?y*") is None  # everything optional



def test_a_regex_is_indexed_on_its_rarest_literal():
    """The index wakes a regex through one literal of each alternative; a character most posts
    carry (的, 你, 。) would wake it on nearly every post, an emoji or a longer literal seldom."""
    assert [c for c in "的你。.5ａ" if literal_rarity(c) > 0] == []
    assert literal_rarity("🐴") == 1 < literal_rarity("一单") == 2
    assert max(["你", "🐴", "的"], key=literal_rarity) == "🐴"
