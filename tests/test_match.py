"""The automaton scan against a naive oracle, and the matching rules on examples."""

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policy import Engine, Post
from policy.compiler.conditions import Near
from policy.runtime.evaluate import Context
from policy.text.normalize import DEFAULT_PROFILE, normalize, normalize_with_map, table_for

from .conftest import write_policy

TABLE = table_for(DEFAULT_PROFILE)


def lexicon_engine(tmp_path, terms, options="match substring hits all"):
    quoted = " ".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in terms)
    return Engine.load(write_policy(tmp_path, f"""
        lexicon words {{ terms {quoted} {options} }}
        rule r "r" {{ category spam clause 一.3.8 when body has words }}
    """))


def evidence(engine, text):
    verdict = engine.check(text)
    return sorted((e.start, e.end, e.normalized) for v in verdict.violations for e in v.evidence)


def oracle(terms, text):
    """Every occurrence of every normalized term in the normalized text, by brute force."""
    mapped = normalize_with_map(text, TABLE)
    found = set()
    for key in {normalize(t, TABLE) for t in terms}:
        for i in range(len(mapped.text) - len(key) + 1):
            if mapped.text[i:i + len(key)] == key and not partly_spaced(mapped, i, key):
                found.add((*mapped.original_span(i, i + len(key)), key))
    return sorted(found)


def partly_spaced(mapped, i, key):
    """Letters and digits of a term spaced out in some places but not all ("s ex" is not "sex")."""
    gaps = [mapped.starts[i + j + 1] > mapped.ends[i + j] for j in range(len(key) - 1)
            if key[j].isascii() and key[j].isalnum() and key[j + 1].isascii() and key[j + 1].isalnum()]
    return any(gaps) and not all(gaps)


CHARS = list("傻逼們说话大麻烦abAＢ①1 @.\u200b😀")
TERMS = st.lists(st.lists(st.sampled_from(list("傻逼说话大麻烦abＢ1")), min_size=1, max_size=3).map("".join),
                 min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(terms=TERMS, text=st.lists(st.sampled_from(CHARS), max_size=25).map("".join))
def test_scan_finds_exactly_what_brute_force_finds(tmp_path_factory, terms, text):
    engine = lexicon_engine(tmp_path_factory.mktemp("p"), terms)
    got = evidence(engine, text)
    assert got == oracle(terms, text)
    for start, end, key in got:
        assert 0 <= start < end <= len(text)
        assert normalize(text[start:end], TABLE) == key  # the span covers exactly the evidence


def test_letters_spaced_out_only_in_part_are_not_the_term(tmp_path):
    """Found by the oracle test: ① reads as 1, but "① bb" spaces out only one gap of 1bb."""
    engine = lexicon_engine(tmp_path, ["1bb"])
    assert evidence(engine, "① bb") == []
    assert evidence(engine, "①bb") == [(0, 3, "1bb")]
    assert evidence(engine, "① b b") == [(0, 5, "1bb")]


def test_terms_that_normalize_alike_give_one_hit(tmp_path):
    """Found by the oracle test: 'b' and 'Ｂ' are one term once normalized."""
    engine = lexicon_engine(tmp_path, ["b", "Ｂ"])
    assert evidence(engine, "b") == [(0, 1, "b")]


def test_latin_terms_match_whole_words_only(tmp_path):
    engine = lexicon_engine(tmp_path, ["sex", "sb"], options="")
    assert evidence(engine, "Middlesex") == []
    assert evidence(engine, "this exam") == []  # a space between words is not a disguise
    assert evidence(engine, "测试sex") == [(2, 5, "sex")]
    assert evidence(engine, "s.e.x") == [(0, 5, "sex")]  # every letter spaced out
    assert evidence(engine, "her boss's ex") == []  # some letters spaced, some not
    assert evidence(engine, "s.b.c") == []  # part of a longer spaced-out word
    assert evidence(engine, "你个ＳＢ") == [(2, 4, "sb")]


def test_sentence_punctuation_ends_a_word(tmp_path):
    engine = lexicon_engine(tmp_path, ["傻逼"], options="")
    assert evidence(engine, "他太傻，逼得我只能自己上") == []
    assert evidence(engine, "他太傻\n逼得我") == []
    assert evidence(engine, "你个傻.逼") == [(2, 5, "傻逼")]  # a symbol inside a word is still a disguise


def test_leftmost_longest_or_all_hits(tmp_path):
    longest = lexicon_engine(tmp_path / "a", ["大麻", "大麻烦"], options="")
    assert evidence(longest, "大麻烦") == [(0, 3, "大麻烦")]
    every = lexicon_engine(tmp_path / "b", ["大麻", "大麻烦"], options="hits all")
    assert evidence(every, "大麻烦") == [(0, 2, "大麻"), (0, 3, "大麻烦")]


def test_an_allow_list_suppresses_the_deny_hits_it_covers(make_engine):
    engine = make_engine("""
        lexicon drugs { terms "大麻" "黄片" }
        allow harmless { terms "大麻烦" "三黄片" suppresses drugs }
        rule r "r" { category spam clause 一.3.8 when body has drugs }
    """)
    assert engine.check("这事真是个大麻烦").decision == "allow"
    assert engine.check("三黄片是一种中药").decision == "allow"
    assert engine.check("出售大麻").decision == "reject"
    assert engine.check("大麻烦，顺便卖大麻").violations[0].evidence[0].start == 7


def test_lexicons_with_different_normalization_share_one_automaton(make_engine):
    engine = make_engine("""
        lexicon strict { terms "傻逼" normalize none }
        lexicon loose { terms "脑残" }
        rule a "a" { category unfriendly clause 一.2.6 when body has strict }
        rule b "b" { category unfriendly clause 一.2.6 when body has loose }
    """)
    assert len(engine.policy.profiles) == 2
    assert engine.check("傻@逼").decision == "allow"
    assert engine.check("傻逼").rules == ["a"]
    assert engine.check("脑@残").rules == ["b"]


NEAR_ENGINE = Engine.load(write_policy(Path(tempfile.mkdtemp()), """
    lexicon a { terms "骗子" "骗" "小偷" match substring hits all }
    lexicon b { terms "河南" "河南人" "人" match substring hits all }
    rule r "r" { category spam clause 一.3.8 when body has a near b within 2 or body has b near b within 1 }
"""))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["骗子", "小偷", "河南人", "人", "好", "，", "的的"]), max_size=30).map("".join))
def test_near_pairs_are_exactly_the_pairs_within_the_distance(text):
    policy = NEAR_ENGINE.policy
    ctx = Context(policy, Post.of(text), 0.05)
    NEAR_ENGINE.scan_signals(ctx)
    for first, second, within in ((0, 1, 2), (1, 1, 1), (0, 1, 0)):
        near = Near("body", first, None, second, None, within)
        firsts = ctx.lexicon_hits("body", near.first, None)
        seconds = ctx.lexicon_hits("body", near.second, None)
        naive = [(a, b) for a in firsts for b in seconds
                 if a is not b and max(b.start - a.end, a.start - b.end, 0) <= near.within]
        assert near.pairs(ctx) == naive


COVER_ENGINE = Engine.load(write_policy(Path(tempfile.mkdtemp()), """
    lexicon drugs { terms "大麻" "麻" match substring hits all normalize default -repeats }
    lexicon abuse { terms "傻" match substring hits all normalize default -repeats }
    allow harmless { terms "大麻烦" "麻烦" suppresses drugs normalize default -repeats }
    allow everything { terms "傻大麻" normalize default -repeats }
    rule r "r" { category spam clause 一.3.8 when body has drugs or body has abuse }
"""))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["大麻烦", "大麻", "麻烦", "傻", "傻大麻", "麻", "好"]), max_size=25).map("".join))
def test_allow_lists_suppress_exactly_the_hits_one_of_their_hits_covers(text):
    """The binary search over allow hits agrees with testing every occurrence of every allow term."""
    allow = [(text.find(term, i), len(term), covers) for term, covers in
             (("大麻烦", {"drugs"}), ("麻烦", {"drugs"}), ("傻大麻", None)) for i in range(len(text))
             if text.find(term, i) == i]
    for violation in COVER_ENGINE.check(text).violations:
        for e in violation.evidence:
            assert not any(start <= e.start and e.end <= start + size and (covers is None or e.lexicon in covers)
                           for start, size, covers in allow), (text, e)
    deny = [(i, len(term), lexicon) for term, lexicon in (("大麻", "drugs"), ("麻", "drugs"), ("傻", "abuse"))
            for i in range(len(text)) if text.startswith(term, i)]
    unsuppressed = [d for d in deny if not any(start <= d[0] and d[0] + d[1] <= start + size and (
        covers is None or d[2] in covers) for start, size, covers in allow)]
    found = {(e.start, e.end) for v in COVER_ENGINE.check(text).violations for e in v.evidence}
    assert found == {(i, i + size) for i, size, _ in unsuppressed}
