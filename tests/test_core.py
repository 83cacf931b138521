"""The compiled core and its oracle: the flat automaton, read in pure Python and in C, finds what
pyahocorasick finds, in the same order; a damaged buffer is refused, never read past its end."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys

import ahocorasick
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy import Engine
from policy.compiler.automaton import FlatAutomaton, build_automaton
from policy.runtime import core
from policy.text.contacts import contact_table
from policy.text.normalize import DEFAULT_PROFILE, STEPS, Profile, casefold_table, normalize, strip_emoticons, table_for


def compiled_automaton(buffer: bytes):
    if core.CORE is None:
        if os.environ.get("CI") and not os.environ.get(core.PURE_PYTHON_ENV):
            pytest.fail(f"the compiled core is not built in CI: {core.PATH}")
        pytest.skip(f"the compiled core is not here: {core.PATH}")
    return core.CORE.Automaton(buffer)


def pyahocorasick_scan(keys: list[bytes], data: bytes) -> list[tuple[int, int]]:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for number, key in enumerate(keys):
        automaton.add_word(key.decode("latin-1"), number)
    if not keys:
        return []
    automaton.make_automaton()
    return list(automaton.iter(data.decode("latin-1")))


SMALL_ALPHABET = st.sampled_from(["a", "b", "ab", "é", "你", "好", "\x00", "\xff"])
KEYS = st.lists(st.lists(SMALL_ALPHABET, min_size=1, max_size=6).map("".join), min_size=1, max_size=40,
                unique=True).map(lambda keys: [k.encode("utf-8") for k in keys])
TEXTS = st.lists(SMALL_ALPHABET | st.sampled_from(["x", " "]), max_size=80).map(lambda p: "".join(p).encode())


@settings(max_examples=300, deadline=None)
@given(KEYS, TEXTS)
def test_the_flat_automaton_finds_what_pyahocorasick_finds_in_its_order(keys, data):
    buffer = build_automaton(keys)
    expected = pyahocorasick_scan(keys, data)
    assert FlatAutomaton(buffer).scan(data) == expected
    if core.CORE is not None:
        assert core.CORE.Automaton(buffer).scan(data) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=3), min_size=20, max_size=200, unique=True), st.data())
def test_states_with_many_edges_are_searched_right(keys, data):
    """Under a state with more than eight edges the C reader searches them by halves."""
    keys = [b"k" + key for key in keys]  # the state after "k" has an edge for each first byte
    text = b"".join(data.draw(st.lists(st.sampled_from(keys) | st.binary(max_size=2), max_size=40)))
    buffer = build_automaton(keys)
    assert compiled_automaton(buffer).scan(text) == pyahocorasick_scan(keys, text) == FlatAutomaton(buffer).scan(text)


def test_at_one_end_the_longest_key_comes_first():
    keys = [b"b", b"ab", b"cab", b"x"]
    assert FlatAutomaton(build_automaton(keys)).scan(b"cabx") == [(2, 2), (2, 1), (2, 0), (3, 3)]
    assert compiled_automaton(build_automaton(keys)).scan(b"cabx") == [(2, 2), (2, 1), (2, 0), (3, 3)]


def test_the_bundled_conventions_automaton_agrees_on_real_and_generated_text():
    """Every key of the bundled convention, over text made of its own keys, their pieces and noise."""
    engine = Engine.load()
    keys = [key.encode("latin-1") for key in engine.policy.automaton.keys()]
    numbers = {key: engine.policy.automaton.get(key.decode("latin-1")) for key in keys}
    ordered = sorted(keys, key=numbers.__getitem__)
    assert [numbers[k] for k in ordered] == list(range(len(ordered)))
    buffer = build_automaton(ordered)
    flat, compiled = FlatAutomaton(buffer), compiled_automaton(buffer)
    rng = random.Random(20261207)
    pieces = [k.decode("utf-8", "surrogatepass") for k in ordered] + list("的了是我你他，。！ ab12")
    for _ in range(200):
        text = "".join(rng.choice(pieces)[: rng.randint(1, 4)] for _ in range(rng.randint(0, 60)))
        data = text.encode("utf-8", "surrogatepass")
        expected = list(engine.policy.automaton.iter(data.decode("latin-1")))
        assert compiled.scan(data) == expected
        assert flat.scan(data) == expected


def test_a_long_post_is_scanned_whole():
    keys = [b"ab", b"b"]
    data = b"ab" * 500_000  # a megabyte
    found = compiled_automaton(build_automaton(keys)).scan(data)
    assert len(found) == 1_000_000 and found[-2:] == [(999_999, 0), (999_999, 1)]


def damaged(buffer: bytes, word: int, value: int) -> bytes:
    """The buffer with its int32 number ``word`` (after the header) set to ``value``."""
    at = 12 + 4 * word
    return buffer[:at] + struct.pack("<i", value) + buffer[at + 4:]


@pytest.mark.parametrize("how", ["magic", "short", "long", "root", "first", "target", "fail", "output"])
def test_a_damaged_automaton_is_refused_with_what_is_wrong(how):
    keys = [b"he", b"she", b"his", b"hers"]
    buffer = build_automaton(keys)
    states = struct.unpack_from("<i", buffer, 4)[0]
    edges = states - 1
    first, targets = 256, 256 + states + 1 + edges
    fail = targets + edges
    output = fail + 2 * states
    bad = {
        "magic": b"XXXX" + buffer[4:],
        "short": buffer[:-4],
        "long": buffer + b"\0\0\0\0",
        "root": damaged(buffer, ord("h"), states),
        "first": damaged(buffer, first + 1, edges + 5),
        "target": damaged(buffer, targets, -3),
        "fail": damaged(buffer, fail + states - 1, states - 1),  # a link to itself: a scan would loop
        "output": damaged(buffer, output + states - 1, states + 7),
    }[how]
    if how in ("magic", "short", "long"):  # the pure-Python reader checks the frame only
        with pytest.raises(ValueError, match="flat automaton"):
            FlatAutomaton(bad)
    with pytest.raises(ValueError, match="not a valid flat automaton"):
        compiled_automaton(bad)


def test_an_automaton_never_given_a_buffer_refuses_to_scan():
    compiled_automaton(build_automaton([b"a"]))  # skips without the core
    automaton = core.CORE.Automaton.__new__(core.CORE.Automaton)
    with pytest.raises(ValueError, match="never given a buffer"):
        automaton.scan(b"a")


def test_the_path_that_runs_is_named_and_pure_python_can_be_asked_for():
    code = "from policy.runtime.core import PATH; print(PATH)"
    env = {**os.environ, core.PURE_PYTHON_ENV: "1"}
    pure = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert pure.stdout.strip() == "pure Python (POLICY_PURE_PYTHON=1)"
    env.pop(core.PURE_PYTHON_ENV)
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert default.stdout.strip() in ("compiled", "pure Python (the compiled core is not built: reinstall with "
                                                  "a C compiler)")


# ---- the normalization walk: the C table walk gives what str.translate and the run regex give ----

TABLES = {
    "default": table_for(DEFAULT_PROFILE),
    "all": table_for(Profile(frozenset(STEPS))),
    "none": table_for(Profile(frozenset())),
    "no separators, repeats": table_for(Profile(frozenset({"width", "case", "repeats"}))),
    "contacts": contact_table(),
    "casefold": casefold_table(),
}

DISGUISED = st.lists(st.one_of(
    st.sampled_from(list("傻逼你妈的SBsbＳＢ０１２3 .*·丶、，\u200b\u3000ß İ蘇說🐴🐧🈲㊙⒜𝐀аеοɢ①")),
    st.sampled_from(["哈哈哈哈", "111", "aaa", "۱۱۱", "[捂脸]", "/汪汪", "[em]e163[/em]", "／色", "ﬃ"]),
    st.characters(),  # any code point, lone surrogates too
    st.characters(min_codepoint=0x20000),
), max_size=60).map("".join)


def core_normalizer(table):
    compiled_automaton(build_automaton([b"a"]))  # skips without the core
    normalizer = core.normalizer_for(table)
    assert normalizer is not None
    return normalizer


@pytest.mark.parametrize("name", sorted(TABLES))
@settings(max_examples=400, deadline=None)
@given(text=DISGUISED)
def test_the_c_walk_normalizes_as_python_does(name, text):
    table = TABLES[name]
    stripped = strip_emoticons(text) if table.emoticons else text
    assert core_normalizer(table).normalize(stripped) == normalize(text, table)


def test_casefolding_as_a_table_is_str_casefold():
    text = "".join(map(chr, range(0, 0x20000, 7))) + "ßİﬃ\U00010400"
    assert normalize(text, casefold_table()) == text.casefold()
    assert core_normalizer(casefold_table()).normalize(text) == text.casefold()


@settings(max_examples=400, deadline=None)
@given(text=DISGUISED)
def test_one_call_into_c_scans_as_the_pure_python_path_does(text):
    """Normalize, encode and scan in one call: the same UTF-8, hits and keys as normalize, encode
    and pyahocorasick."""
    compiled_automaton(build_automaton([b"a"]))
    policy = bundled_policy()
    pure = core.on_pure_python(policy)
    table = table_for(DEFAULT_PROFILE)
    got = core.scanner_for(policy).scan_text(table, text, {}, None)
    expected = core.scanner_for(pure).scan_text(table, text, {}, None)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got[0], core.hit_pairs(got[1]), got[2]) == expected


def bundled_policy():
    global _BUNDLED
    if _BUNDLED is None:
        _BUNDLED = Engine.load().policy
    return _BUNDLED


_BUNDLED = None


def test_a_megabyte_post_with_many_hits_scans_the_same_on_both_paths():
    compiled_automaton(build_automaton([b"a"]))
    policy = bundled_policy()
    table = table_for(DEFAULT_PROFILE)
    text = ("你个傻逼，" * 10 + "ＡＢ😀 ß\ud800" + "的" * 3) * 7000
    assert len(text) > 350_000
    got = core.scanner_for(policy).scan_text(table, text, {}, None)
    expected = core.scanner_for(core.on_pure_python(policy)).scan_text(table, text, {}, None)
    assert got is not None and expected is not None
    assert got[0] == expected[0] and core.hit_pairs(got[1]) == expected[1] and got[2] == expected[2]


def flat_table(table):
    """The three buffers normalizer_for gives the C walk, rebuilt here to be damaged."""
    from array import array

    low = array("I", [v if isinstance(v, int) else 0xFFFFFFFF if v is None else ord(v) if len(v) == 1 else 0x41
                      for v in table.low])
    return low, array("I"), array("I")


@pytest.mark.parametrize("how", ["short low", "not a code point", "expansion past the pool", "one-char expansion",
                                 "high not sorted", "high inside low", "pool not code points", "odd high"])
def test_a_damaged_table_is_refused(how):
    compiled_automaton(build_automaton([b"a"]))
    from array import array

    low, pool, high = flat_table(table_for(DEFAULT_PROFILE))
    if how == "short low":
        low = low[:-1]
    elif how == "not a code point":
        low[65] = 0x110000
    elif how == "expansion past the pool":
        pool.extend([1, 2])
        low[65] = 0x80000000 | (1 << 4) | 2
    elif how == "one-char expansion":
        pool.extend([1, 2])
        low[65] = 0x80000000 | 1
    elif how == "high not sorted":
        high = array("I", [0x20001, 65, 0x20000, 66])
    elif how == "high inside low":
        high = array("I", [0x41, 65])
    elif how == "pool not code points":
        pool = array("I", [0x110000])
    elif how == "odd high":
        high = array("I", [0x20000])
    with pytest.raises(ValueError, match="not a valid normalization table"):
        core.CORE.Normalizer(low, pool, high, True)


def test_a_normalizer_never_given_tables_refuses_to_work():
    compiled_automaton(build_automaton([b"a"]))
    normalizer = core.CORE.Normalizer.__new__(core.CORE.Normalizer)
    with pytest.raises(ValueError, match="never given its tables"):
        normalizer.normalize("x")
    with pytest.raises(TypeError):
        core_normalizer(table_for(DEFAULT_PROFILE)).normalize(b"bytes")


# ---- the two paths give the same verdicts ----------------------------------------------------------

def verdict_without_id_and_time(verdict) -> dict:
    data = verdict.to_dict()
    data.pop("verdict_id")
    data.pop("checked_at")
    return data


def test_every_rule_example_and_thousands_of_disguised_posts_get_the_same_verdict_on_both_paths():
    """The bundled convention's examples, then posts made of its terms with disguises between and
    around them (separators, full width, traditional characters, Latin and digits): the verdict on
    the compiled core's scan equals the one on pyahocorasick's, byte for byte but id and time."""
    compiled_automaton(build_automaton([b"a"]))  # skips without the core
    compiled = Engine.load()
    pure = Engine(core.on_pure_python(compiled.policy))
    assert type(core.scanner_for(compiled.policy)) is core._Compiled
    assert type(core.scanner_for(pure.policy)) is core._Pyahocorasick
    posts = [{"id": f"e{n}", **{name.text: value for name, value in example.fields}}
             for n, example in enumerate(e for rule in compiled.policy.rules for e in rule.examples)]
    rng = random.Random(7)
    terms = [key.encode("latin-1").decode("utf-8") for key in compiled.policy.automaton.keys()]
    disguises = ["", "", " ", "*", ".", "Ｗ", "·", "丶", "😀", "、", "x", "1", "\u200b"]
    for n in range(3000):
        words = [rng.choice(terms) for _ in range(rng.randint(1, 5))]
        body = "".join(rng.choice(disguises).join(word) + rng.choice(["，", "今天", "的", " ", "ab"]) for word in words)
        if n % 3 == 0:
            body = body.translate({ord(c): ord(c) + 0xFEE0 for c in "abcdefghijklmnopqrstuvwxyz0123456789"})
        posts.append({"id": f"g{n}", "body": body, "title": rng.choice(["", body[:5]])})
    assert len(posts) > 3500
    for post in posts:
        assert verdict_without_id_and_time(compiled.check(post)) == verdict_without_id_and_time(pure.check(post)), post


def test_policy_version_names_the_path(capsys):
    from policy.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip().endswith(f"per-post path: {core.PATH}")
