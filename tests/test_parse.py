"""The parser: typed trees that ignore spans in equality, and no exception but its own."""

import random
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policy.lang import syntax as s
from policy.lang.check import check
from policy.lang.parse import MAX_DEPTH, parse
from policy.lang.resources import bundled_convention


def test_a_rule_parses_into_typed_nodes():
    tree, problems = parse('rule r "标题" { category c clause 一.2.6 when body has abuse[strong] and not links > 2 }')
    assert problems == []
    (rule,) = tree.decls
    assert isinstance(rule, s.Rule)
    assert rule.clauses == (s.Name("一.2.6"),)
    assert rule.when == s.AllOf((
        s.Has(s.Name("body"), s.LexRef(s.Name("abuse"), (s.Name("strong"),))),
        s.Not(s.Compare(s.Name("links"), ">", 2.0)),
    ))


def test_spans_point_at_the_source_but_do_not_affect_equality():
    first, _ = parse('rule r "t" { when body has x }')
    second, _ = parse('\n\n  rule r "t" {\n    when   body has x\n  }')
    assert first.decls == second.decls
    assert (first.decls[0].span.line, second.decls[0].span.line) == (1, 3)
    assert second.decls[0].when.span.line == 4


def test_strings_understand_escapes():
    tree, problems = parse(r'clause 一 "a \"quoted\" word\n\u4e00"')
    assert problems == []
    assert tree.decls[0].text == 'a "quoted" word\n一'
    _, problems = parse(r'clause 一 "bad \q escape"')
    assert [p.code for p in problems] == ["E004"]


def test_any_nesting_depth_is_refused_without_recursion_error():
    for depth in (MAX_DEPTH + 1, 5_000, 200_000):
        text = 'rule r "t" { when ' + "(" * depth + "body has x" + ")" * depth + " }"
        _, problems = parse(text)
        assert [p.code for p in problems] == ["E601"]
        _, problems = parse('rule r "t" { when ' + "not " * depth + "author.protected }")
        assert [p.code for p in problems] == ["E601"]


TOKENS = ['rule', 'lexicon', 'allow', 'category', 'clause', 'convention', '{', '}', '(', ')', '[', ']', ',', 'when',
          'has', 'and', 'or', 'not', 'near', 'within', 'count', 'distinct', 'matches', 'normalized', 'length',
          'terms', 'file', 'tags', 'normalize', '-', 'match', 'hits', 'suppresses', 'violates', 'allows',
          'explain', 'severity', 'mode', 'action', '"傻逼"', '"x{evidence}"', '"unterminated', '/a+/i', '/(/',
          '一.2.6', 'body', 'author.protected', 'links', '>=', '==', '3', '1.5', '\n', '#c\n', 'true', '@', '"\\q"']


def fragments():
    return st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)


def assert_only_own_diagnostics(text):
    tree, problems = parse(text, "fuzz.policy")  # raises nothing but its own diagnostics
    assert all(p.code[0] in "EW" and p.span.path == "fuzz.policy" for p in problems)
    check([tree], {})  # the checker copes with whatever parsed


@settings(max_examples=300, deadline=None)
@given(fragments())
def test_grammar_aware_fuzz(text):
    assert_only_own_diagnostics(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_fuzz(text):
    assert_only_own_diagnostics(text)


def test_mutations_of_the_bundled_rule_files():
    sources = [p.read_text(encoding="utf-8") for p in sorted(Path(bundled_convention()).glob("*.policy"))]
    rng = random.Random(20261122)
    for _ in range(150):
        text = rng.choice(sources)
        chars = list(text)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.4:
                del chars[at:at + rng.randint(1, 20)]
            elif action < 0.8:
                chars.insert(at, rng.choice(TOKENS + list('{}()"/\\#')))
            else:
                chars[at] = rng.choice("{}()\"/ \n")
        assert_only_own_diagnostics("".join(chars))


def test_numbers_too_large_for_a_float_are_refused_not_raised():
    """Found by tests/test_fuzz_rules.py: int(float('9' * 400 + '.5')) and int('9' * 5000) raised."""
    for text in ('brake "b" { minimum ' + "9" * 400 + ".5 }", 'brake "b" { minimum ' + "9" * 5_000 + " }",
                 'rule r "t" { when count(body has x) >= ' + "9" * 400 + " }",
                 'rule r "t" { severity ' + "9" * 5_000 + " }"):
        tree, problems = parse(text)
        assert [p.code for p in problems] == ["E005"]
        assert "too large" in problems[0].message
        check([tree], {})
    _, problems = parse('brake "b" { minimum ' + "9" * 308 + " }")  # large, but a number
    assert problems == []


def test_recovery_is_linear_in_the_number_of_broken_declarations():
    """Each piece used to be parsed behind a blanked copy of everything before it: 16,000 broken
    declarations took two minutes."""
    text = 'rule r "t" { when }\n' * 20_000
    began = time.perf_counter()
    _, problems = parse(text)
    assert len(problems) == 20_000
    assert time.perf_counter() - began < 15
    assert [(p.span.line, p.span.column, p.span.start) for p in problems[-2:]] == [
        (19_999, 19, 19_998 * 20 + 18), (20_000, 19, 19_999 * 20 + 18)]


def test_recovered_declarations_keep_their_place_in_the_file():
    text = 'clause 一 "x"\nrule broken {\n\n# note\nrule r "t" {\n  when body has x\n}\n'
    tree, problems = parse(text)
    assert [p.code for p in problems] == ["E001"]
    rule = tree.decls[-1]
    assert (rule.span.line, rule.span.column, rule.span.start) == (5, 1, text.index('rule r'))
    assert (rule.when.span.line, rule.when.span.column) == (6, 8)
    assert text[rule.when.span.start:rule.when.span.end] == "body has x"
