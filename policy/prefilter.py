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

MIN_LENGTH = 1
MAX_ALTERNATIVES = 64


_UNICODE_PROPERTY = re.compile(r"((?<!\\)(?:\\\\)*)\\[pP]\{[^}]*\}")
MAX_CLASS = 16
_INLINE_IGNORECASE = re.compile(r"\(\?[a-zA-Z]*i[a-zA-Z-]*[:)]")


def needs_casefold(pattern: str, flags: str) -> bool:
    """Whether matches may differ in case from the pattern's literals (flag i, or (?i) inside)."""
    return "i" in flags or bool(_INLINE_IGNORECASE.search(pattern))


def required_literals(pattern: str, flags: str = "") -> tuple[str, ...] | None:
    """Literals one of which every match contains, or None when none can be proven.

    When :func:`needs_casefold`, the literals are case-folded: compare them with the
    case-folded text."""
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser as sre_parse  # type: ignore[attr-defined]

        parse_flags = sum({"i": sre.SRE_FLAG_IGNORECASE, "m": sre.SRE_FLAG_MULTILINE, "s": sre.SRE_FLAG_DOTALL,
                           "x": sre.SRE_FLAG_VERBOSE}[f] for f in set(flags))
        # for analysis only: \p{Han} (regex-module syntax) reads as a class, which yields no literal
        parsed = sre_parse.parse(_UNICODE_PROPERTY.sub(r"\1\\w", pattern), parse_flags)
    except Exception:  # syntax only the regex module reads: no prefilter
        return None
    ignore_case = needs_casefold(pattern, flags)

    def sequence(items) -> frozenset[str] | None:
        """The best required set of a sequence: literal runs or one element's set."""
        best: frozenset[str] | None = None
        run: list[str] = []

        def consider(candidate: frozenset[str] | None) -> None:
            nonlocal best
            if candidate and _better(candidate, best):
                best = candidate

        for op, av in items:
            if op == sre.LITERAL:
                run.append(chr(av))
                continue
            if run:
                consider(frozenset({"".join(run)}))
                run = []
            consider(element(op, av))
        if run:
            consider(frozenset({"".join(run)}))
        return best

    def element(op, av) -> frozenset[str] | None:
        if op == sre.SUBPATTERN:
            return sequence(av[3])
        if op == sre.BRANCH:
            out: set[str] = set()
            for alternative in av[1]:
                got = sequence(alternative)
                if not got:
                    return None
                out |= got
            return frozenset(out) if len(out) <= MAX_ALTERNATIVES else None
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            return sequence(av[2])
        if op == sre.ATOMIC_GROUP:
            return sequence(av)
        if op == sre.IN and av and all(item[0] == sre.LITERAL for item in av) and len(av) <= MAX_CLASS:
            return frozenset(chr(item[1]) for item in av)  # a small class of characters: one of them
        return None

    try:
        found = sequence(parsed)
    except RecursionError:
        return None
    if not found or any(len(lit) < MIN_LENGTH for lit in found):
        return None
    if ignore_case:
        found = frozenset(lit.casefold() for lit in found)
    return tuple(sorted(found))


def _better(candidate: frozenset[str], best: frozenset[str] | None) -> bool:
    """Prefer sets whose shortest literal is longer (rarer), then fewer alternatives."""
    if best is None:
        return True
    key = (min(len(x) for x in candidate), -len(candidate))
    return key > (min(len(x) for x in best), -len(best))
