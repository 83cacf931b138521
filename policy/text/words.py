"""Ordinary words: where a term's characters belong to other words of the language.

Chinese has no spaces, so a term can sit inside or across ordinary words: 足交 in 满足交通
(满足|交通), 白粉 in 蛋白粉, 支那 in 印度支那, a homophone variant 沙比 of 傻逼 in 沙比例.  A
dictionary with word frequencies (jieba's, 349k words, MIT-licensed, read from the installed
package; nothing is downloaded) tells which reading a text prefers, the way a segmenter does:
the most probable split into words, a word's probability its frequency.

A hit that must stand as a word of its own (every hit of a lexicon with ``boundaries
dictionary``, and every variant a term expansion made, :mod:`policy.variants`) is tested on the
hit path only: the normalized text a few characters around it is split, once as it prefers and
once with the hit kept whole; when the free split wins, a word of it crosses the hit's edge or
contains it, and the hit is dropped (``policy explain`` names the word).  Hits of terms that
share a sentence with nothing else cost nothing more.  The compiled policy carries the
frequent words (:class:`Segmenter`) in a flat form that unpickles in microseconds.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

MIN_FREQUENCY = 5
"""Dictionary entries rarer than this are left out: jieba lists many names and phrases at 3."""
CONTEXT_FREQUENCY = 20
"""A word must be at least this frequent to cross a hit or to drop a variant (single characters
are kept whatever their frequency: every split needs them)."""
TERM_FREQUENCY = 100
"""What a term counts as in a split when the dictionary knows it less (or not at all): a term is a
word the policy author expects in posts, about as common as a word of middling frequency."""
MAX_WORD = 8
"""The longest word a split considers."""
REACH = 4
"""Characters on each side of a hit that a split considers (a word crossing the hit's edge reaches
at most this far past it; longer ones are rare enough to ignore)."""


class DictionaryError(RuntimeError):
    """The dictionary file cannot be found or read (the installation is broken)."""


def dictionary_path() -> Path:
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise DictionaryError("the word dictionary comes with the 'jieba' package, which is not installed")
    return Path(spec.origin).parent / "dict.txt"


@dataclass(frozen=True)
class Dictionary:
    freq: dict[str, int]
    total: int
    digest: str
    """A hash of the dictionary file: part of the version of a policy that reads it."""


@functools.cache
def dictionary() -> Dictionary:
    path = dictionary_path()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DictionaryError(f"cannot read the word dictionary {path}: {error.strerror}") from None
    freq: dict[str, int] = {}
    for line in data.decode("utf-8").splitlines():
        word, _, rest = line.partition(" ")
        count = int(rest.split(" ", 1)[0]) if rest else 0
        if count >= MIN_FREQUENCY:
            freq[word.lower()] = max(count, freq.get(word.lower(), 0))
    return Dictionary(freq, sum(freq.values()), hashlib.sha256(data).hexdigest()[:16])


class Segmenter:
    """The frequent words and their log probabilities, and the test of a hit against them.

    Pickled as one joined string and an array (a dict of 80k words would take 20 ms to
    unpickle); the dict is built on the first test, on the hit path."""

    def __init__(self, words: str, logp: array, total: int):
        self.words = words
        self.logp = logp
        self.total = total
        self._table: dict[str, float] | None = None
        self.unseen = math.log(1 / total)
        """A character the dictionary lacks counts as seen once."""
        self.term_logp = math.log(TERM_FREQUENCY / total)

    @classmethod
    def from_dictionary(cls, d: Dictionary) -> Segmenter:
        kept = sorted(w for w, f in d.freq.items() if (f >= CONTEXT_FREQUENCY or len(w) == 1) and "\n" not in w)
        return cls("\n".join(kept), array("f", (math.log(d.freq[w] / d.total) for w in kept)), d.total)

    def __reduce__(self):
        return (Segmenter, (self.words, self.logp, self.total))

    def table(self) -> dict[str, float]:
        if self._table is None:
            self._table = dict(zip(self.words.split("\n"), self.logp, strict=True))
        return self._table

    def _best(self, text: str, table: dict[str, float]) -> tuple[float, list[str]]:
        n = len(text)
        score = [0.0] * (n + 1)
        step = [1] * (n + 1)
        for i in range(n - 1, -1, -1):
            top, length = table.get(text[i], self.unseen) + score[i + 1], 1
            for j in range(i + 2, min(n, i + MAX_WORD) + 1):
                p = table.get(text[i:j])
                if p is not None and p + score[j] > top:
                    top, length = p + score[j], j - i
            score[i], step[i] = top, length
        words, i = [], 0
        while i < n:
            words.append(text[i:i + step[i]])
            i += step[i]
        return score[0], words

    def crossing_word(self, text: str, start: int, end: int, low: int, high: int) -> str | None:
        """The word of the most probable split of ``text[low:high]`` that crosses an edge of the
        hit ``text[start:end]`` or contains it, when that split beats every split keeping the hit
        whole (the hit counting as a word of :data:`TERM_FREQUENCY`, or as its own words); else None."""
        table = self.table()
        window = text[low:high]
        a, b = start - low, end - low
        free, words = self._best(window, table)
        term = text[start:end]
        inside = max(table.get(term, -math.inf), self.term_logp, self._best(term, table)[0])
        kept = self._best(window[:a], table)[0] + inside + self._best(window[b:], table)[0]
        if free <= kept:
            return None
        at = 0
        for word in words:
            if at < b and at + len(word) > a and (at < a or at + len(word) > b):
                return word
            at += len(word)
        return None


@functools.cache
def segmenter() -> Segmenter:
    return Segmenter.from_dictionary(dictionary())


@functools.lru_cache(maxsize=1)
def _frequent_words() -> tuple[str, ...]:
    """The words at least :data:`CONTEXT_FREQUENCY` frequent, most frequent first."""
    d = dictionary()
    ranked = sorted(((f, w) for w, f in d.freq.items() if f >= CONTEXT_FREQUENCY), key=lambda fw: (-fw[0], fw[1]))
    return tuple(w for _, w in ranked)


def _containing(keys: Iterable[str]) -> dict[str, list[str]]:
    """Per key, the frequent words that contain it and are longer, most frequent first."""
    automaton = ahocorasick.Automaton()
    for key in keys:
        automaton.add_word(key, key)
    found: dict[str, list[str]] = {}
    if not len(automaton):
        return found
    automaton.make_automaton()
    for word in _frequent_words():
        for _, key in automaton.iter(word):
            if key != word and word not in found.get(key, ()):
                found.setdefault(key, []).append(word)
    return found


def ordinary(keys: Iterable[str]) -> set[str]:
    """The keys that are frequent ordinary words or lie inside one (variants that would misfire)."""
    d = dictionary()
    keys = set(keys)
    inside = _containing(keys)
    return {k for k in keys if d.freq.get(k, 0) >= CONTEXT_FREQUENCY or k in inside}
