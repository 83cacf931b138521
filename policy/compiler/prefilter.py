"""Literal prefilters for regexes: skip a regex when its text cannot match.

From a pattern's structure we derive a set of literal strings such that every
match contains at least one of them (``(微信|vx)号?\\d{6}`` needs 微信 or vx).
A post containing none of them cannot match, and a substring test in C is far
cheaper than running the regex.  When no such set can be proven (a pattern
that starts with a class, or syntax only the ``regex`` module reads), the regex
always runs: the prefilter only ever skips work, never changes a result.
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

MAX_ALTERNATIVES = 256
"""Alternatives kept per regex; a part that would make more is ignored (the filter weakens)."""
MAX_CLASS = 64
"""A character class of at most this many characters counts as a set of literals."""
MAX_STRINGS = 64
"""The most strings an exact run (``加[vV微]`` is 加v, 加V, 加微) may stand for."""
MAX_SINGLE_CHARACTERS = 8
"""A run of one character from a wider class of common characters (``[0-9]``, ``[a-z]``,
``[一二三四五六七八九十]``) is too common to be worth requiring."""

Requirement = list[frozenset[str]]
"""Alternatives of literal sets: every match contains all the literals of one alternative."""

_UNICODE_PROPERTY = re.compile(r"((?<!\\)(?:\\\\)*)\\[pP]\{[^}]*\}")
_INLINE_IGNORECASE = re.compile(r"\(\?[a-zA-Z]*i[a-zA-Z-]*[:)]")


def needs_casefold(pattern: str, flags: str) -> bool:
    """Whether matches may differ in case from the pattern's literals (flag i, or (?i) inside)."""
    return "i" in flags or bool(_INLINE_IGNORECASE.search(pattern))


def required_literals(pattern: str, flags: str = "") -> Requirement | None:
    """Literal sets one of which every match contains in full, or None when none can be proven.

    ``(微信|vx)号?\\d{6}`` gives [{vx}, {微信}]; ``[0-9]+(元|块)(一|每)单`` gives
    [{元, 一单}, {元, 每单}, {块, 一单}, {块, 每单}].  Runs of literals, small classes and
    alternations of them are read as one set of strings.  When :func:`needs_casefold`,
    the literals are case-folded: compare them with the case-folded text."""
    parsed = _parse(pattern, flags)
    if parsed is None:  # syntax only the regex module reads: no prefilter
        return None
    zero_width = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}
    repeats = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)

    def exact(op, av) -> set[str] | None:
        """The strings one element matches, when they are few and known."""
        if op == sre.LITERAL:
            return {chr(av)}
        if op == sre.IN:
            chars: set[str] = set()
            for kind, value in av:
                if kind == sre.LITERAL:
                    chars.add(chr(value))
                elif kind == sre.RANGE and value[1] - value[0] < MAX_CLASS:
                    chars.update(chr(c) for c in range(value[0], value[1] + 1))
                else:
                    return None  # a negated class, a category (\\d, \\w) or a wide range
            return chars if 0 < len(chars) <= MAX_CLASS else None
        if op == sre.SUBPATTERN:
            return exact_sequence(av[3])
        if op == sre.ATOMIC_GROUP:
            return exact_sequence(av)
        if op == sre.BRANCH:
            out: set[str] = set()
            for alternative in av[1]:
                got = exact_sequence(alternative)
                if got is None:
                    return None
                out |= got
            return out if len(out) <= MAX_STRINGS else None
        return None

    def exact_sequence(items) -> set[str] | None:
        strings = {""}
        for op, av in items:
            if op in zero_width:
                continue
            got = exact(op, av)
            if got is None or len(strings) * len(got) > MAX_STRINGS:
                return None
            strings = {a + b for a in strings for b in got}
        return strings

    def element(op, av) -> Requirement:
        if op == sre.SUBPATTERN:
            return sequence(av[3])
        if op == sre.ATOMIC_GROUP:
            return sequence(av)
        if op == sre.BRANCH:
            union: Requirement = []
            for alternative in av[1]:
                union.extend(sequence(alternative))
            union = _minimal(union)
            return union if len(union) <= MAX_ALTERNATIVES else [frozenset()]
        if op in repeats and av[0] >= 1:
            return sequence(av[2])
        return [frozenset()]  # anything else may match without any literal

    def sequence(items) -> Requirement:
        parts: list[Requirement] = []
        run = {""}

        def flush() -> None:
            nonlocal run
            weak = len(run) > MAX_SINGLE_CHARACTERS and all(len(string) == 1 for string in run) \
                and any(_common(string) for string in run)
            if run != {""} and not weak:
                parts.append([frozenset({string}) for string in run])
            run = {""}

        for op, av in items:
            if op in zero_width:
                continue  # matches no character: the strings around it still touch
            got = exact(op, av)
            if got is not None and len(run) * len(got) <= MAX_STRINGS:
                run = {a + b for a in run for b in got}
                continue
            flush()
            if got is not None:
                run = set(got)
            else:
                parts.append(element(op, av))
        flush()
        return _all_of(parts)

    try:
        found = sequence(parsed)
    except RecursionError:
        return None
    if not found or any(not alternative for alternative in found) or any("" in a for a in found):
        return None
    if needs_casefold(pattern, flags):
        found = [frozenset(literal.casefold() for literal in a) for a in found]
    return _minimal(found)


def _parse(pattern: str, flags: str):
    """The pattern as the ``re`` parser reads it, for analysis only (\\p{Han}, syntax of the
    regex module, reads as a class, one character wide); None when ``re`` cannot read it."""
    try:
        parse_flags = sum({"i": sre.SRE_FLAG_IGNORECASE, "m": sre.SRE_FLAG_MULTILINE, "s": sre.SRE_FLAG_DOTALL,
                           "x": sre.SRE_FLAG_VERBOSE}[f] for f in set(flags))
        return sre_parse.parse(_UNICODE_PROPERTY.sub(r"\1\\w", pattern), parse_flags)
    except Exception:
        return None


MAX_WINDOW_WIDTH = 1000
"""A pattern whose matches may be longer than this runs over the whole text."""


def match_width(pattern: str, flags: str = "") -> tuple[int, int] | None:
    """(the longest a match can be, how far past a match the pattern may look), in characters,
    or None when either is unbounded or unknown.  Lookarounds take no width but look ahead;
    ``\\b`` and ``$`` look one character further, so the second figure is always at least 1.

    A regex with these bounds can run on windows of the text around its required literals
    (:meth:`policy.evaluate.Context.regex_hits`) and find what it finds in the whole text."""
    parsed = _parse(pattern, flags)
    if parsed is None:
        return None
    try:
        width = parsed.getwidth()[1]
        ahead = 1 + sum(sre_parse.SubPattern(parsed.state, sub).getwidth()[1] for sub in _lookaheads(parsed.data))
    except (RecursionError, Exception):
        return None
    return (width, ahead) if width <= MAX_WINDOW_WIDTH and ahead <= MAX_WINDOW_WIDTH else None


def _lookaheads(items) -> list:
    """The bodies of every lookahead in a parsed pattern, nested ones included."""
    found = []
    for op, av in items:
        if op in (sre.ASSERT, sre.ASSERT_NOT) and av[0] == 1:
            found.append(av[1].data if hasattr(av[1], "data") else av[1])
        for part in av if isinstance(av, (tuple, list)) else ():
            if isinstance(part, sre_parse.SubPattern):
                found.extend(_lookaheads(part.data))
            elif isinstance(part, list):  # a branch's alternatives
                for alternative in part:
                    if isinstance(alternative, sre_parse.SubPattern):
                        found.extend(_lookaheads(alternative.data))
    return found


def _common(ch: str) -> bool:
    """A Latin letter, a digit or a common Chinese character."""
    return (ch.isascii() and ch.isalnum()) or "\u4e00" <= ch <= "\u9fff"


def _is_weak(literal: str) -> bool:
    """One character most posts carry: ASCII, a Chinese character, CJK or full-width punctuation
    (的, 。, ., 5).  A regex is better indexed on any other of its literals."""
    return len(literal) == 1 and (literal.isascii() or _common(literal) or "\u3000" <= literal <= "\u303f"
                                  or "\uff00" <= literal <= "\uffef")


def literal_rarity(literal: str) -> int:
    """How unlikely a post is to contain the literal, for choosing what to index on: a weak
    character least, then by length (an emoji counts one, 一单 two)."""
    return 0 if _is_weak(literal) else len(literal)


def _all_of(parts: list[Requirement]) -> Requirement:
    """Every part must hold: the product of their alternatives, smallest parts first; a part
    that would make more than MAX_ALTERNATIVES is left out (the requirement only weakens)."""
    result: Requirement = [frozenset()]
    for part in sorted(parts, key=len):
        if len(result) * len(part) > MAX_ALTERNATIVES * 4:
            continue  # too many to even try
        product = _minimal([a | b for a in result for b in part])
        if len(product) <= MAX_ALTERNATIVES:
            result = product
    return result


def _minimal(alternatives: Requirement) -> Requirement:
    """Without duplicates and without any set that contains another (it adds nothing)."""
    unique = sorted(set(alternatives), key=lambda a: (len(a), sorted(a)))
    kept: Requirement = []
    for alternative in unique:
        if not any(other <= alternative for other in kept):
            kept.append(alternative)
    return kept
