"""The formatter: golden layouts, and on any policy it keeps the meaning and every comment and is idempotent.

Regenerate the golden files after a deliberate change with ``UPDATE_GOLDEN=1 pytest tests/test_format.py``
and read every changed ``.expected`` file before keeping it.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy.lang import format as fmt
from policy.lang.diagnostics import _display_width
from policy.lang.format import FormatError, FormatInternalError, comment_texts, format_source
from policy.lang.parse import parse

HERE = Path(__file__).parent / "format"
CASES = sorted(p.stem for p in HERE.glob("*.policy"))
CONVENTIONS = sorted((Path(__file__).parent.parent / "conventions").glob("*.policy"))


def assert_formats_well(text: str) -> str:
    """Meaning kept, comments kept in order, idempotent; returns the formatted text."""
    out = format_source(text)
    before, _ = parse(text)
    after, problems = parse(out)
    assert [p for p in problems if p.is_error] == []
    assert after.decls == before.decls
    assert comment_texts(out) == comment_texts(text)
    assert format_source(out) == out
    return out


# ---- golden files -----------------------------------------------------------------------------------------------


def test_there_are_golden_cases():
    assert len(CASES) >= 4


@pytest.mark.parametrize("case", CASES)
def test_layout_matches_golden_file(case):
    source = (HERE / f"{case}.policy").read_text(encoding="utf-8")
    output = format_source(source)
    golden = HERE / f"{case}.expected"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_golden_inputs_keep_meaning_and_comments(case):
    assert_formats_well((HERE / f"{case}.policy").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES)
def test_golden_outputs_are_already_formatted(case):
    expected = (HERE / f"{case}.expected").read_text(encoding="utf-8")
    assert format_source(expected) == expected


# ---- the real policy (read only) ------------------------------------------------------------------------------


def test_the_conventions_are_there():
    assert CONVENTIONS


@pytest.mark.parametrize("path", CONVENTIONS, ids=lambda p: p.name)
def test_conventions_keep_meaning_and_comments_and_are_idempotent(path):
    out = assert_formats_well(path.read_text(encoding="utf-8"))
    for line in out.splitlines():
        assert line == line.rstrip()
        stripped = line.lstrip()
        if stripped.startswith("terms ") and stripped.count('" ') > 1:  # more than one term on the line
            assert _display_width(line.split("  #")[0]) <= fmt.WIDTH


# ---- specific behaviour -------------------------------------------------------------------------------------------


def when(condition: str) -> str:
    return format_source(f'rule r "t" {{ when {condition} }}').splitlines()[1].strip()


@pytest.mark.parametrize("source, printed", [
    ("(a or b) or c", "when (a or b) or c"),
    ("a or (b or c)", "when a or (b or c)"),
    ("a or b or c", "when a or b or c"),
    ("(a and b) or c", "when a and b or c"),
    ("a and (b or c)", "when a and (b or c)"),
    ("(a and b) and c", "when (a and b) and c"),
    ("not (a)", "when not a"),
    ("((a))", "when a"),
    ("not (a and b)", "when not (a and b)"),
    ("(not a) and b", "when not a and b"),
    ("not not (a or b)", "when not not (a or b)"),
    ("count ( body has x [ a,b ] ) >= 2", "when count(body has x[a, b]) >= 2"),
    ("body matches  normalized  /a b/i", "when body matches normalized /a b/i"),
])
def test_parentheses_where_the_tree_has_a_group(source, printed):
    assert when(source) == printed


def test_strings_get_the_fewest_escapes():
    out = format_source('clause a "\\u4e00 \\"q\\" \\/ back\\\\slash\\ttab\\nline \\u0001"')
    assert out == 'clause a "一 \\"q\\" / back\\\\slash\\ttab\\nline \\u0001"\n'


def test_numbers_and_regexes_as_written():
    out = format_source('rule r "t" { severity 2 when links >= 1.50 and body matches /[a-z]{2,}\\/x/ims }')
    assert "links >= 1.50 and body matches /[a-z]{2,}\\/x/ims" in out


def test_wide_characters_count_two_columns_when_splitting_terms():
    terms = " ".join(f'"{"词" * 4}{i:02}"' for i in range(30))
    out = format_source(f"lexicon l {{ terms {terms} }}")
    lines = out.splitlines()[1:-1]
    assert len(lines) > 3 and all(line.startswith("  terms ") for line in lines)
    assert all(_display_width(line) <= fmt.WIDTH for line in lines)
    assert max(_display_width(line) for line in lines) > fmt.WIDTH - 12  # filled, not one term a line


def test_a_run_of_one_line_declarations_stays_together_others_are_set_apart():
    out = format_source('clause a "x"\nclause a.b "y"\ncategory c "t" { }\ncategory d "u" { }\nclause b "z"\n'
                        'rule r "t" { severity 1 }\nrule s "u" { severity 1 }')
    assert out == ('clause a "x"\nclause a.b "y"\n\ncategory c "t" { }\ncategory d "u" { }\n\nclause b "z"\n\n'
                   'rule r "t" {\n  severity 1\n}\n\nrule s "u" {\n  severity 1\n}\n')


def test_empty_and_comment_only_files():
    assert format_source("") == ""
    assert format_source("  \n\n") == ""
    assert format_source("\n\n# one\n\n\n# two   \n") == "# one\n\n# two\n"


def test_comments_at_the_end_of_a_line_block_and_file():
    source = 'rule r "t" { # head\n  mode enforce # end\n  # last\n} # brace\n# file end\n'
    assert format_source(source) == ('rule r "t" {  # head\n  mode enforce  # end\n  # last\n}  # brace\n'
                                     "# file end\n")


@pytest.mark.parametrize("bad", [
    'rule r "t" { when }',                      # syntax error
    'clause a "bad \\q escape"',                # E004
    'rule r "t" { mode a mode b }',             # E204
    'rule r "t" { when ' + "(" * 50 + "a" + ")" * 50 + " }",  # E601
])
def test_text_with_errors_is_not_formatted(bad):
    with pytest.raises(FormatError) as raised:
        format_source(bad)
    assert raised.value.diagnostics and all(d.is_error for d in raised.value.diagnostics)


def test_a_formatter_bug_that_changes_meaning_is_caught(monkeypatch):
    monkeypatch.setattr(fmt, "_needs_parens", lambda node, parent: False)
    with pytest.raises(FormatInternalError):
        format_source('rule r "t" { when (a or b) or c }')


def test_a_formatter_bug_that_drops_a_comment_is_caught(monkeypatch):
    monkeypatch.setattr(fmt._Printer, "place", lambda self, comments: None)
    with pytest.raises(FormatInternalError):
        format_source('clause a "x"  # note\n')


# ---- random policies ------------------------------------------------------------------------------------------------

NAMES = ["body", "title", "author.name", "a", "x", "一.2.6", "spam.contact", "mute_1d"]
TEXT = st.text(st.sampled_from(list('ab 傻逼一"\\\n\t{}#/') + ["\u0001"]), max_size=8)


def literal(value: str, use_unicode: bool) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\t":
            out.append("\\n" if ch == "\n" else "\\t")
        elif use_unicode and ch == "一" or ch == "\u0001":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@st.composite
def strings(draw):
    return [literal(draw(TEXT), draw(st.booleans()))]


@st.composite
def names(draw):
    return [draw(st.sampled_from(NAMES))]


@st.composite
def name_lists(draw):
    items = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
    return " , ".join(items).split(" ")


@st.composite
def lexrefs(draw):
    tokens = [draw(st.sampled_from(["x", "insults", "y", "a_rather_long_lexicon_name_to_fill_lines"]))]
    tags = draw(st.lists(st.sampled_from(["a", "b", "strong"]), max_size=2))
    if tags:
        tokens += ["["] + " , ".join(tags).split(" ") + ["]"]
    return tokens


REGEXES = ["/a+/", "/[“\"]x/i", "/a\\/b#c/ms"]
CMPS = [">=", "<=", "==", "!=", ">", "<"]


@st.composite
def predicates(draw):
    field = draw(st.sampled_from(["body", "title"]))
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return [field, "has"] + draw(lexrefs())
    if kind == 1:
        return [field, "has"] + draw(lexrefs()) + ["near"] + draw(lexrefs()) + ["within", "3"]
    if kind == 2:
        return [field, "matches"] + draw(st.sampled_from([[], ["normalized"]])) + [draw(st.sampled_from(REGEXES))]
    if kind == 3:
        return [draw(st.sampled_from(["count", "distinct"])), "(", field, "has"] + draw(lexrefs()) + [
            ")", draw(st.sampled_from(CMPS)), "2"]
    if kind == 4:
        return ["count", "(", field, "matches", draw(st.sampled_from(REGEXES)), ")", ">=", "1.5"]
    if kind == 5:
        return ["length", "(", field, ")", "<", "30"]
    if kind == 6:
        return ["links", draw(st.sampled_from(CMPS)), "1"]
    return [draw(st.sampled_from(["author.protected", "target.minor"]))]


def conditions():
    def extend(inner):
        return st.one_of(
            st.lists(inner, min_size=2, max_size=4).map(lambda ops: sum(([op] for op in ops), [])).flatmap(
                lambda ops: st.sampled_from(["or", "and"]).map(lambda w: join_ops(ops, w))),
            inner.map(lambda c: ["not"] + c),
            inner.map(lambda c: ["("] + c + [")"]),
        )
    return st.recursive(predicates(), extend, max_leaves=8)


def join_ops(ops, word):
    out = []
    for i, op in enumerate(ops):
        out += ([word] if i else []) + op
    return out


def examples():
    field = st.tuples(st.sampled_from(["title", "body", "links", "author.verified"]),
                      st.one_of(strings(), st.just(["3"]), st.just(["true"]), st.just(["false"])))
    return st.one_of(strings(), st.lists(field, max_size=3).map(
        lambda fs: ["{"] + [t for name, value in fs for t in [name] + value] + ["}"]))


@st.composite
def rules(draw):
    optional = {
        "category": lambda: ["category"] + draw(names()),
        "clause": lambda: ["clause"] + draw(name_lists()),
        "severity": lambda: ["severity", "2"],
        "mode": lambda: ["mode", "enforce"],
        "action": lambda: ["action", "review"],
        "when": lambda: ["when"] + draw(conditions()),
        "explain": lambda: ["explain"] + draw(strings()),
        "sanction": lambda: ["sanction", "mute_1d"],
    }
    chosen = draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=len(optional)))
    settings_ = [optional[k]() for k in chosen]
    settings_ += [["tags"] + draw(st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2))
                  for _ in range(draw(st.integers(0, 1)))]
    settings_ += [[draw(st.sampled_from(["violates", "allows"]))] + draw(examples())
                  for _ in range(draw(st.integers(0, 2)))]
    settings_ = draw(st.permutations(settings_))
    return ["rule", draw(st.sampled_from(["r", "spam.contact"]))] + draw(strings()) + ["{"] + sum(
        settings_, []) + ["}"]


@st.composite
def lexicons(draw):
    word = draw(st.sampled_from(["lexicon", "allow"]))
    tokens = [word, "l"] + draw(st.sampled_from([[], ['"标题"']])) + ["{"]
    for _ in range(draw(st.integers(0, 2))):
        tokens.append("terms")
        for _ in range(draw(st.integers(1, 25))):
            tokens += draw(strings())
            tags = draw(st.lists(st.sampled_from(["a", "b"]), max_size=2))
            if tags:
                tokens += ["["] + " , ".join(tags).split(" ") + ["]"]
    if draw(st.booleans()):
        tokens += ["normalize", "default", "-", "repeats"]
    if draw(st.booleans()):
        tokens += ["file", '"lexicons/x.txt"']
    if word == "allow" and draw(st.booleans()):
        tokens += ["suppresses"] + draw(name_lists())
    return tokens + ["}"]


@st.composite
def ladders(draw):
    tokens = ["ladder", '"违规处罚"', "{", "step", "mute_1d", '"禁言"', "mute", "1", "day"]
    if draw(st.booleans()):
        tokens += ["start", "severity", "1", "at", "mute_1d", "escalate", "within", "180", "days"]
    if draw(st.booleans()):
        tokens += ["factor", "minors", '"未成年"', "raises", "1"] + draw(st.sampled_from(
            [[], ["tags", "a"]])) + ["when"] + draw(conditions())
    if draw(st.booleans()):
        tokens += ["hold", "h", '"复核"', "when"] + draw(conditions())
    if draw(st.booleans()):
        tokens += ["confirm", "2", "when"] + draw(conditions())
    return tokens + ["}"]


def declarations():
    small = st.one_of(
        st.tuples(names(), strings()).map(lambda t: ["clause"] + t[0] + t[1]),
        st.just(["category", "c", '"分类"', "{", "severity", "2", "}"]),
        st.just(["category", "c", '"分类"', "{", "}"]),
        st.just(["convention", '"公约"', "{", "version", '"1"', "}"]),
    )
    return st.one_of(small, rules(), lexicons(), ladders())


SEPARATORS = [" ", " ", " ", "  ", "\n", "\n", "\n\n", "\n   ", "\t", " #C\n", "\n#C\n", "\n\n#C\n\n", "#C\n"]


@st.composite
def policies(draw):
    tokens = sum(draw(st.lists(declarations(), max_size=4)), [])
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    parts = [seps[0]]
    for token, sep in zip(tokens, seps[1:], strict=True):
        parts += [token, sep]
    text = "".join(parts)
    count = iter(range(10_000))
    return "".join(f"# c{next(count)}" if piece == "#C" else piece for piece in _split_markers(text))


def _split_markers(text):
    pieces = text.split("#C")
    for i, piece in enumerate(pieces):
        if i:
            yield "#C"
        yield piece


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies())
def test_random_policies_keep_meaning_and_comments_and_are_idempotent(text):
    _, problems = parse(text)
    if any(p.is_error for p in problems):
        return  # only texts that parse are formatted
    assert_formats_well(text)


def test_settings_the_printer_does_not_know_are_printed_from_the_grammar():
    out = format_source('brake "紧急制动" { watch 7 days share 5   minimum 50 }')
    assert out == 'brake "紧急制动" {\n  watch 7 days\n  share 5\n  minimum 50\n}\n'
