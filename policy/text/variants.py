"""Term expansions: the spellings people use for a term, matched as the term itself.

A lexicon opts in with ``expand TABLE, …``: each term also matches

- its variants from the policy's ``variants`` tables: a character replaced by a listed homophone
  (傻逼 -> 煞笔, 傻比), its split form (娼 -> 女昌) or a look-alike, at most
  :data:`MAX_SUBSTITUTIONS` characters at a time;
- with ``pinyin``, its toneless pinyin (shabi, also written sha bi), and one character's syllable
  in place of the character (代fa; in a two-character term only the last, like initials);
- with ``initials``, the first letters of its syllables when it has three or more (nmsl, cnm:
  two letters are too often something else), and a character's initial in place of the
  character (傻b; in a two-character term only the last: j人 is not 贱人).

A variant is matched under the lexicon's normalization like any term, and reported as the term
it stands for (``term`` 傻逼, ``normalized`` 煞笔).  The compiler drops variants that are
ordinary words or lie inside one (:mod:`policy.words`): a guess at a disguise must not turn an
ordinary word into a hit.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from policy.text.normalize import is_word_char

BUILTIN = ("pinyin", "initials")
"""Expansions that need no table."""
MAX_SUBSTITUTIONS = 2
"""Characters of a term replaced at once by table variants (more would match too much); one
character of the term always stays as written (出声 is no 畜生: with both characters replaced a
variant is a guess at a sound, not a disguise of the term; 煞笔 and the like are terms of their
own where a lexicon wants them)."""
MIN_PINYIN = 2
"""Syllables a term needs before its pinyin stands for it (bi, cao alone are ordinary Latin)."""
MAX_VARIANTS = 64
"""Variants kept per term, fewest substitutions first."""
MIN_INITIALS = 3
"""Syllables a term needs before its initials alone stand for it."""

Table = Mapping[str, Sequence[str]]
"""A character -> the strings written in its place."""


def parse_table(text: str) -> tuple[dict[str, tuple[str, ...]], list[tuple[int, str]]]:
    """A variants file: ``CHARACTER<TAB>variant variant …`` a line, ``#`` comments.  Returns the
    table and (line number, problem) for each line that is not of that shape."""
    table: dict[str, list[str]] = {}
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        content = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        if not content.strip():
            continue
        head, tab, rest = content.partition("\t")
        head = head.strip()
        if not tab or len(head) != 1 or not rest.split():
            problems.append((number, "a variants line is one character, a TAB, then its variants separated by spaces"))
            continue
        entry = table.setdefault(head, [])
        entry.extend(v for v in rest.split() if v != head and v not in entry)
    return {ch: tuple(vs) for ch, vs in table.items()}, problems


def _is_han(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" and ("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")


def _syllables(key: str) -> list[str] | None:
    """The toneless pinyin of each character of an all-Han key, or None."""
    if not key or not all(_is_han(ch) for ch in key):
        return None
    from pypinyin import Style, lazy_pinyin  # only policies that expand need it

    syllables = lazy_pinyin(key, style=Style.NORMAL, errors="ignore")
    return syllables if len(syllables) == len(key) and all(s.isascii() and s.isalpha() for s in syllables) else None


def expand(key: str, tables: Sequence[Table], pinyin: bool, initials: bool,
           normalize: Callable[[str], str]) -> list[tuple[str, tuple[int, ...]]]:
    """The variants of a term's ``key`` (its normalized text): (variant key, the Latin pairs it
    writes apart, which a post may write apart or together: sha bi).  ``normalize`` is the
    lexicon's normalization; table variants go through it."""
    syllables = _syllables(key) if pinyin or initials else None
    out: dict[str, tuple[int, ...]] = {}

    def add(parts: Sequence[str], substituted: Sequence[bool]) -> None:
        """A variant made of ``parts`` (one per character of the key)."""
        text, free, previous = "", [], None
        for part, changed in zip(parts, substituted, strict=True):
            if text and part and is_word_char(text[-1]) and is_word_char(part[0]) and (changed or previous):
                free.append(len(text) - 1)
            text += part
            previous = changed
        if text and text != key and text not in out:
            out[text] = tuple(free)

    if syllables is not None and pinyin and len(key) >= MIN_PINYIN:
        add(syllables, [True] * len(key))
    if syllables is not None and initials and len(key) >= MIN_INITIALS:
        add([s[0] for s in syllables], [False] * len(key))  # initials are one word: n m s l or nmsl
    options: list[list[str]] = []
    for i, ch in enumerate(key):
        found: dict[str, None] = {}
        for table in tables:
            for variant in table.get(ch, ()):
                normalized = normalize(variant)
                if normalized and normalized != ch:
                    found[normalized] = None
        if syllables is not None and (len(key) >= MIN_INITIALS or i == len(key) - 1):
            if pinyin:
                found[syllables[i]] = None  # 代fa, 傻bi: one syllable spelled out
            if initials:
                found[syllables[i][0]] = None  # 傻b, s全家; but not j人 for 贱人 (J人 is a personality type)
        options.append(list(found))
    for count in range(1, min(MAX_SUBSTITUTIONS, len(key) - 1) + 1):
        for positions in itertools.combinations([i for i, o in enumerate(options) if o], count):
            for choice in itertools.product(*(options[i] for i in positions)):
                if len(out) >= MAX_VARIANTS:
                    return list(out.items())
                parts = list(key)
                for i, variant in zip(positions, choice, strict=True):
                    parts[i] = variant
                if len(key) < MIN_INITIALS and all(part.isascii() for part in parts):
                    continue  # sb for 傻逼: two letters alone are too often something else
                add(parts, [i in positions for i in range(len(key))])
    return list(out.items())
