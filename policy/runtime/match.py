"""Scan a text field with the policy's automaton and turn raw hits into evidence.

Clean path: normalize (one translate), encode, one automaton pass per
normalization profile in use; no hits, nothing more.  Hit path: build the
offset map, then keep the hits that pass whole-word and interspersion tests,
drop those an allow list covers, and keep the leftmost-longest per lexicon.
Every hit carries its span in the ORIGINAL text, separators included.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate, chain
from typing import TYPE_CHECKING

from policy.model.hits import Hit
from policy.runtime.core import hit_pairs, scanner_for
from policy.text.normalize import Mapped, Table, is_word_char, mapped_text, table_for
from policy.text.words import REACH, Segmenter

if TYPE_CHECKING:
    from policy.compiler.compiled import CompiledPolicy
    from policy.compiler.terms import TermEntry


class RawHits:
    """A field's raw automaton hits: per profile with hits, (profile index, normalized text as
    UTF-8, hits, their distinct key numbers), the hits as a scan gives them
    (:data:`policy.runtime.core.RawPass`).  Their spans by lexicon, in normalized characters, are
    worked out once, on first use (:meth:`spans`)."""

    __slots__ = ("passes", "_spans", "_keys")

    def __init__(self, passes: list[tuple[int, bytes, list[tuple[int, int]] | bytes, set[int]]]):
        self.passes = passes
        self._spans: dict[int, list[tuple[int, int, TermEntry]]] | None = None
        self._keys: set[int] | None = None

    def __bool__(self) -> bool:
        return bool(self.passes)

    def keys(self) -> set[int]:
        """The distinct key numbers hit (in any profile)."""
        if self._keys is None:
            if len(self.passes) == 1:
                self._keys = self.passes[0][3]
            else:
                self._keys = set().union(*(keys for *_, keys in self.passes))
        return self._keys

    def spans(self, policy: CompiledPolicy) -> dict[int, list[tuple[int, int, TermEntry]]]:
        """Lexicon -> (normalized start, end, entry) of its raw hits."""
        if self._spans is None:
            spans: dict[int, list[tuple[int, int, TermEntry]]] = {}
            key_entries = policy.key_entries
            single_profile = len(policy.profiles) == 1
            for p_index, encoded, hits, _ in self.passes:
                ascii_text = encoded.isascii()
                end = read = 0  # the characters in encoded[:read]
                for end_byte, key in hit_pairs(hits):
                    entries = key_entries[key]
                    if not entries:
                        continue
                    if ascii_text:
                        end = end_byte + 1
                    elif end_byte >= read:  # hits come by end; a key ends at a character's end
                        end += len(encoded[read:end_byte + 1].decode("utf-8", "surrogatepass"))
                        read = end_byte + 1
                    for entry in entries:
                        if single_profile or entry.profile == p_index:
                            spans.setdefault(entry.lexicon, []).append((end - len(entry.key), end, entry))
            self._spans = spans
        return self._spans


def raw_scan(policy: CompiledPolicy, field: str, text: str, normalized: dict) -> RawHits:
    """The clean path: normalize and run the automaton, nothing more (one call into C on the
    compiled path)."""
    scanner = scanner_for(policy)
    passes: list = []
    if scanner is not None and text:
        for p_index, profile in enumerate(policy.profiles):
            found = scanner.scan_text(table_for(profile), text, normalized, (field, profile))
            if found is not None:
                passes.append((p_index, *found))
    return RawHits(passes)


def raw_signals(policy: CompiledPolicy, field: str, raw: RawHits) -> Iterable[int]:
    """The lexicon signals a field's raw hits set (a superset of what its real hits would:
    enough to pick the rules to run)."""
    tables = policy.key_signals[field]
    if len(tables) == 1:
        return chain.from_iterable(map(tables[0].__getitem__, raw.keys()))
    return chain.from_iterable(tables[p_index][key] for p_index, _, _, keys in raw.passes for key in keys)


def raw_literals(policy: CompiledPolicy, raw: RawHits) -> set[int]:
    """The prefilter literals (of normalized regexes) among the raw hits."""
    literals = policy.key_literals
    return {n for key in raw.keys() for n in literals[key]}


def refine(policy: CompiledPolicy, field: str, text: str, raw: RawHits, mapped: dict,
           dropped: list | None = None, only: frozenset[int] | None = None,
           normalized: dict | None = None) -> dict[int, list[Hit]]:
    """The hit path: real hits by lexicon, with spans in the original text.
    ``only`` limits the work to some lexicons (with the allow lists that can suppress them);
    ``dropped``, when given, receives (hit, reason) for every near miss (``policy explain``);
    ``normalized``, the check's cache of normalized texts, spares the offset map a translate."""
    by_lexicon = raw.spans(policy)
    if only is None:
        spans = [span for found in by_lexicon.values() for span in found]
    else:
        spans = [span for lexicon in only & by_lexicon.keys() for span in by_lexicon[lexicon]]
    return _refine(policy, field, text, spans, mapped, dropped, normalized) if spans else {}


def scan(policy: CompiledPolicy, field: str, text: str, normalized: dict, mapped: dict,
         dropped: list | None = None) -> dict[int, list[Hit]]:
    """Real hits of ``text`` by lexicon index (raw scan, then refine).  ``normalized`` and
    ``mapped`` cache, per (field, profile), the normalized text and its offset map."""
    return refine(policy, field, text, raw_scan(policy, field, text, normalized), mapped, dropped,
                  normalized=normalized)


_SENTENCE_BREAK = re.compile(r"[，。！？；：、,!?;:\n\r\u2028\u2029]")
"""Sentence punctuation ends a word: no term spans it ("他太傻，逼得我…" is not 傻逼)."""


def _neighbour_is_word(ch: str, table: Table) -> bool:
    return any(is_word_char(c) for c in table.lookup(ch))


def _word_test_failure(entry: TermEntry, a: int, b: int, m: Mapped, text: str, table: Table,
                       segmenter: Segmenter | None = None) -> str | None:
    """Why a raw hit is not a real one, or None when it is."""
    start, end = m.starts[a], m.end(b - 1)
    if b - a > 1 and _SENTENCE_BREAK.search(text, start, end):
        return "spans sentence punctuation"
    if entry.bounded and segmenter is not None and not entry.key.isascii():
        word = _ordinary_word(a, b, m, text, segmenter)
        if word is not None:
            return f"part of the ordinary word 「{word}」"
    if entry.word_start and start > 0 and _neighbour_is_word(text[start - 1], table):
        return "not a whole word (a letter or digit before it)"
    if entry.word_end and end < len(text) and _neighbour_is_word(text[end], table):
        return "not a whole word (a letter or digit after it)"
    if not entry.latin_pairs:
        return None
    gaps = [m.starts[a + i + 1] > m.end(a + i) for i in entry.latin_pairs if i not in entry.spaced]
    if not any(gaps):
        return None
    if not all(gaps):
        return "letters only partly spaced out"  # "s ex" is not "sex"
    # Spaced-out letters ("s.b.c"): the hit must not be part of a longer spaced-out word.
    if entry.word_start and a > 0 and is_word_char(m.text[a - 1]) and not text[m.end(a - 1):start].isspace():
        return "part of a longer spaced-out word"
    if entry.word_end and b < len(m.text) and is_word_char(m.text[b]) and not text[end:m.starts[b]].isspace():
        return "part of a longer spaced-out word"
    return None


def _refine(policy: CompiledPolicy, field: str, text: str, raw, mapped: dict,
            dropped: list | None, normalized: dict | None) -> dict[int, list[Hit]]:
    deny: list[Hit] = []
    allow: list[tuple[int, int, int]] = []
    for a, b, entry in raw:
        table = table_for(policy.profiles[entry.profile])
        m = mapped_text(text, table, mapped, (field, policy.profiles[entry.profile]), normalized)
        failure = _word_test_failure(entry, a, b, m, text, table, policy.segmenter)
        start, end = m.original_span(a, b)
        if failure is not None:
            if dropped is not None:
                dropped.append((Hit(field, entry.lexicon, entry.text, entry.key, entry.tags, start, end), failure))
            continue
        if policy.lexicons[entry.lexicon].is_allow:
            allow.append((start, end, entry.lexicon))
        else:
            deny.append(Hit(field, entry.lexicon, entry.text, entry.key, entry.tags, start, end))
    if allow:
        covers = _Covers(allow, policy)
        kept = []
        for hit in deny:
            by = covers.suppressor(hit)
            if by is None:
                kept.append(hit)
            elif dropped is not None:
                dropped.append((hit, f"inside a hit of allow list '{policy.lexicons[by].name}'"))
        deny = kept
    by_lexicon: dict[int, list[Hit]] = {}
    for hit in sorted(deny, key=lambda h: (h.lexicon, h.start, -(h.end - h.start), h.key)):
        by_lexicon.setdefault(hit.lexicon, []).append(hit)
    for index, hits in by_lexicon.items():
        if not policy.lexicons[index].all_hits:
            by_lexicon[index] = _leftmost_longest(hits)
            if dropped is not None:
                dropped.extend((h, "overlapped by a longer hit of its lexicon") for h in hits
                               if h not in by_lexicon[index])
    return by_lexicon


def _ordinary_word(a: int, b: int, m: Mapped, text: str, segmenter: Segmenter) -> str | None:
    """The ordinary word that crosses or contains the hit ``m.text[a:b]``, splitting the text
    around it (up to :data:`policy.words.REACH` characters, never past sentence punctuation)."""
    low = a
    while low > max(0, a - REACH) and not _SENTENCE_BREAK.search(text, m.end(low - 1), m.starts[low]):
        low -= 1
    high = b
    while high < min(len(m.text), b + REACH) and not _SENTENCE_BREAK.search(text, m.end(high - 1), m.starts[high]):
        high += 1
    if low == a and high == b:
        return None
    return segmenter.crossing_word(m.text, a, b, low, high)


class _Covers:
    """Allow-list hits, per allow list sorted by start with the furthest end reached so far,
    so whether one covers a hit is a binary search (posts can have many thousands of hits)."""

    def __init__(self, allow: list[tuple[int, int, int]], policy: CompiledPolicy):
        self.policy = policy
        spans: dict[int, list[tuple[int, int]]] = {}
        for start, end, lexicon in allow:
            spans.setdefault(lexicon, []).append((start, end))
        self.lists = []
        for lexicon in sorted(spans):
            ordered = sorted(spans[lexicon])
            self.lists.append((lexicon, [s for s, _ in ordered], list(accumulate((e for _, e in ordered), max))))

    def suppressor(self, hit: Hit) -> int | None:
        """The first allow list (by declaration) with a hit covering ``hit``, if any."""
        for lexicon, starts, reach in self.lists:
            covers = self.policy.lexicons[lexicon].suppresses
            if covers is not None and hit.lexicon not in covers:
                continue
            before = bisect_right(starts, hit.start) - 1  # the allow hits starting at or before it
            if before >= 0 and reach[before] >= hit.end:
                return lexicon
        return None


def _leftmost_longest(hits: list[Hit]) -> list[Hit]:
    kept: list[Hit] = []
    reach = -1
    for hit in hits:  # sorted by start, then longest first
        if hit.start >= reach:
            kept.append(hit)
            reach = hit.end
    return kept
