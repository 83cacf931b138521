"""The compiled policy's shape: what the compiler produces and the runtime, the ladder and the
ledger read.  Immutable once built; pickled by the engine's cache."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from policy.compiler import conditions as cond
from policy.compiler.prefilter import Requirement
from policy.compiler.terms import TermTable
from policy.compiler.trigger import Index, KeySignals, Triggers
from policy.lang import syntax as s
from policy.text.normalize import Profile
from policy.text.words import Segmenter


@dataclass(frozen=True)
class CompiledLexicon:
    index: int
    name: str
    title: str
    is_allow: bool
    profile: int
    whole_words: bool
    all_hits: bool
    suppresses: frozenset[int] | None


@dataclass(frozen=True)
class CompiledStep:
    name: str
    title: str
    action: str  # "mute" | "ban"
    days: int | None  # None: permanent
    permanent: bool


@dataclass(frozen=True)
class CompiledFactor:
    name: str
    title: str
    raises: int
    tags: frozenset[str]
    condition: cond.Node | None


@dataclass(frozen=True)
class CompiledLadder:
    title: str
    clauses: tuple[tuple[str, str], ...]
    steps: tuple[CompiledStep, ...]
    starts: dict[int, int]
    """Severity -> index of the starting step."""
    escalate_days: float | None
    expire_days: float | None
    factors: tuple[CompiledFactor, ...]
    holds: tuple[tuple[str, str, cond.Node], ...]
    confirms: tuple[tuple[int, cond.Node], ...]


@dataclass(frozen=True)
class Prefilter:
    """Regex literals, found with the same kind of automaton as lexicon terms.

    A regex with required literals (see :mod:`policy.prefilter`) runs only on a field
    where all the literals of one of its alternatives are present; that is also a
    trigger signal of the rules that read it."""

    original: ahocorasick.Automaton | None
    """The literals of regexes on the original text, case-folded, as UTF-8 bytes spelled as
    latin-1; value: its signal.  (Normalized regexes' literals are in the main automaton.)"""
    literals: tuple[Requirement | None, ...]
    """Per regex: literal sets one of which every match contains (None: always run)."""
    fields: tuple[str, ...]
    """Text fields some prefiltered regex reads."""
    regexes: Index
    """Which regexes may match, from the literals the automata found."""
    windows: tuple[tuple[frozenset[int], int, int] | None, ...] = ()
    """Per regex that may run on windows around its literals: (the rarest literal of each of its
    alternatives, the longest a match can be, how far past a match it may look); None: it runs
    on the whole text."""
    literal_texts: tuple[str, ...] = ()
    """Per literal number, the literal as the automata look for it (case-folded for the
    original text)."""
    flat_original: bytes = b""
    """``original`` as a flat buffer, the same numbers (:mod:`policy.compiler.automaton`)."""


@dataclass(frozen=True)
class CompiledBrake:
    watch_days: float
    share: float
    """Percent of the posts checked since the rule changed."""
    minimum: int


@dataclass(frozen=True)
class CompiledRule:
    index: int
    id: str
    title: str
    category: str
    category_title: str
    clauses: tuple[tuple[str, str], ...]
    severity: int
    mode: str
    action: str
    tags: tuple[str, ...]
    condition: cond.Node
    explain: str
    source: tuple[str, int]
    examples: tuple[s.Example, ...]
    sanction_step: int | None = None
    fingerprint: str = ""
    """A hash of what decides this rule's matches: its text and the terms of the lexicons
    it reads.  The ledger watches a rule whose fingerprint it first saw recently."""


@dataclass
class CompiledPolicy:
    name: str
    version: str
    profiles: tuple[Profile, ...]
    lexicons: tuple[CompiledLexicon, ...]
    rules: tuple[CompiledRule, ...]
    automaton: ahocorasick.Automaton | None
    """Every term of every lexicon, and the literals of normalized regexes, as UTF-8 bytes spelled
    as latin-1; value: a key number."""
    key_entries: TermTable
    """Key number -> the term entries it stands for (one per lexicon holding it)."""
    key_literals: tuple[tuple[int, ...], ...]
    """Key number -> the prefilter literals (normalized regexes) it stands for."""
    regexes: tuple
    prefilter: Prefilter
    scanned_fields: tuple[str, ...]
    triggers: Triggers
    clauses: dict[str, str]
    categories: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Category name -> (title, the clauses it covers)."""
    lexicon_index: dict[str, int] = field(default_factory=dict)
    ladder: CompiledLadder | None = None
    refine_sets: dict[int, frozenset[int]] = field(default_factory=dict)
    """Lexicon -> itself and the allow lists that can suppress it: what refining its hits needs."""
    sources: dict[str, str] = field(default_factory=dict)
    """Every rule and term file by path inside the policy: what the ledger keeps per version."""
    brake: CompiledBrake | None = None
    segmenter: Segmenter | None = None
    """The frequent words, when some hits must stand as words of their own (:mod:`policy.words`)."""
    flat_automaton: bytes = b""
    """``automaton`` as one flat buffer, the same key numbers (:mod:`policy.compiler.automaton`):
    what the compiled core scans."""

    def __getstate__(self) -> dict:
        """What pickles: not the caches a process keeps on the policy (``_runtime_`` names, such as
        the compiled core's scanner, which is made again from the flat buffer where it is needed)."""
        self.automaton  # noqa: B018 - a deferred automaton is loaded: it pickles with the rest
        return {name: value for name, value in self.__dict__.items() if not name.startswith("_runtime_")}

    def defer_automaton(self, load: Callable[[], ahocorasick.Automaton | None]) -> None:
        """Leave ``automaton`` out until something reads it, then ``load()`` it: the compiled core
        scans ``flat_automaton`` and never reads it, and unpickling a large one is most of a cached
        load (:mod:`policy.engine.cache`)."""
        del self.__dict__["automaton"]
        self.__dict__["_runtime_automaton_loader"] = load

    def __getattr__(self, name: str) -> Any:
        """Only for an attribute not set: a deferred ``automaton`` (see :meth:`defer_automaton`)."""
        load = self.__dict__.get("_runtime_automaton_loader") if name == "automaton" else None
        if load is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        automaton = self.__dict__["automaton"] = load()
        del self.__dict__["_runtime_automaton_loader"]
        return automaton

    @functools.cached_property
    def rule_by_id(self) -> dict[str, CompiledRule]:
        return {rule.id: rule for rule in self.rules}

    @functools.cached_property
    def key_signals(self) -> dict[str, tuple[KeySignals, ...]]:
        """Text field -> per profile, the lexicon signals of each automaton key (see
        :class:`policy.trigger.KeySignals`)."""
        single = len(self.profiles) == 1
        return {name: tuple(KeySignals(by_lexicon, self.key_entries, None if single else p)
                            for p in range(len(self.profiles)))
                for name, by_lexicon in self.triggers.lexicon_signals.items()}
