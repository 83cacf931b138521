"""The term table: what each automaton key stands for, kept compact so a cached policy loads fast.

The automaton's value for a key is a key number.  :class:`TermTable` maps it to the
:class:`TermEntry` tuple of that key (one entry per lexicon holding the term).  It stores
columns (one joined string of keys, integer arrays, a few shared tag sets) and builds a
key's entries on first use, so unpickling a 64k-term policy costs a few arrays, not 64k
objects.  It is a ``dict`` underneath: a key seen before is a C-speed lookup.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from policy.text.normalize import is_word_char


@dataclass(frozen=True)
class TermEntry:
    """What the automaton found: one term of one lexicon."""

    lexicon: int
    profile: int
    text: str
    key: str
    tags: frozenset[str]
    word_start: bool
    word_end: bool
    latin_pairs: tuple[int, ...]
    """Positions i in the key where key[i] and key[i+1] are both Latin/digits."""
    bounded: bool = False
    """A hit must stand as a word of its own in the text (a variant, or a lexicon with
    ``boundaries dictionary``): see :mod:`policy.words`."""
    spaced: tuple[int, ...] = ()
    """The latin pairs the term itself writes apart (``only fans``, ``roxy-man.ru``): a post may
    write them apart or together, so a gap there never counts as a partly spaced-out word."""


@dataclass(frozen=True)
class TermColumns:
    keys: str
    """Every key (normalized term), joined; key k is ``keys[key_starts[k]:key_starts[k + 1]]``."""
    key_starts: array
    rows: array
    """The rows of key k are ``rows[k]`` to ``rows[k + 1] - 1``: one per lexicon holding it."""
    lexicon: array
    tags: array
    """Per row, an index into ``tag_sets``."""
    tag_sets: tuple[frozenset[str], ...]
    texts: dict[int, str]
    """Per row, the term as written, where it differs from its key."""
    spaced: dict[int, tuple[int, ...]]
    """Per row, the key's latin pairs the term writes apart (see :attr:`TermEntry.spaced`), where any."""
    profiles: tuple[int, ...]
    """Per lexicon, its normalization profile."""
    whole_words: tuple[bool, ...]
    """Per lexicon, whether Latin terms match whole words only."""
    bounded: tuple[bool, ...] = ()
    """Per lexicon, whether its hits must stand as words of their own."""
    variants: frozenset[int] = frozenset()
    """The rows that are variants of a term (their hits must stand as words of their own)."""


class TermTable(dict):
    """Key number -> tuple of TermEntry, built from :class:`TermColumns` on first use."""

    def __init__(self, columns: TermColumns):
        super().__init__()
        self.columns = columns

    def __missing__(self, number: int) -> tuple[TermEntry, ...]:
        c = self.columns
        key = c.keys[c.key_starts[number]:c.key_starts[number + 1]]
        entries = tuple(_entry(c, row, key) for row in range(c.rows[number], c.rows[number + 1]))
        self[number] = entries  # a race builds the same value twice, harmlessly
        return entries

    def __reduce__(self):
        return (TermTable, (self.columns,))  # the columns only, never the built entries


def _entry(c: TermColumns, row: int, key: str) -> TermEntry:
    lexicon = c.lexicon[row]
    whole = c.whole_words[lexicon]
    return TermEntry(
        lexicon=lexicon, profile=c.profiles[lexicon], text=c.texts.get(row, key), key=key,
        tags=c.tag_sets[c.tags[row]],
        word_start=whole and is_word_char(key[0]), word_end=whole and is_word_char(key[-1]),
        latin_pairs=tuple(j for j in range(len(key) - 1) if is_word_char(key[j]) and is_word_char(key[j + 1])),
        spaced=c.spaced.get(row, ()),
        bounded=row in c.variants or (lexicon < len(c.bounded) and c.bounded[lexicon]),
    )


def build_table(keys: list[str], rows: Iterable[Sequence[tuple[int, str, frozenset[str], tuple[int, ...], bool]]],
                profiles: tuple[int, ...], whole_words: tuple[bool, ...], bounded: tuple[bool, ...] = ()) -> TermTable:
    """``rows[k]``: (lexicon, text, tags, spaced latin pairs, is a variant) of each lexicon holding key k."""
    key_starts = array("I", [0])
    row_starts = array("I", [0])
    lexicon_column = array("I")
    tag_column = array("I")
    tag_index: dict[frozenset[str], int] = {}
    texts: dict[int, str] = {}
    spaced: dict[int, tuple[int, ...]] = {}
    variants: set[int] = set()
    for key, key_rows in zip(keys, rows, strict=True):
        key_starts.append(key_starts[-1] + len(key))
        for lexicon, text, tags, gaps, variant in key_rows:
            if variant:
                variants.add(len(lexicon_column))
            if text != key:
                texts[len(lexicon_column)] = text
            if gaps:
                spaced[len(lexicon_column)] = gaps
            lexicon_column.append(lexicon)
            tag_column.append(tag_index.setdefault(tags, len(tag_index)))
        row_starts.append(len(lexicon_column))
    return TermTable(TermColumns("".join(keys), key_starts, row_starts, lexicon_column, tag_column,
                                 tuple(tag_index), texts, spaced, profiles, whole_words, bounded, frozenset(variants)))
