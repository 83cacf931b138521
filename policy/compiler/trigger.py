"""Triggers: which rules can possibly be true for a post, decided from cheap signals.

A *signal* is a small number that the engine notes before evaluating any rule:

- a lexicon has a raw automaton hit in a text field;
- a regex could match a text field (all the literals of one of its alternatives
  are there, see :mod:`policy.prefilter`);
- a fact is present, or is non-zero / true (a text field is non-empty).

Each rule's condition is reduced, at compile time, to a *trigger*: alternatives of
signal sets, one of which must be wholly present for the condition to be true
(a disjunctive normal form over signals, with ``not`` read as "no requirement").
``has group near generalizer and has generalizer near stereotype or has slur``
needs {group, generalizer, stereotype} or {slur}.  A trigger is only ever weaker
than its condition (when the form would grow past :data:`MAX_ALTERNATIVES`, a part
is dropped, never strengthened), so skipping a rule whose trigger is unmet never
changes a verdict.  An :class:`Index` finds the rules to test through the rarest
signal of each alternative; the same index finds the regexes worth running from
the literals present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policy.compiler import conditions as cond
from policy.model import fields as F
from policy.model.post import Post

if TYPE_CHECKING:
    from policy.compiler.terms import TermEntry

MAX_ALTERNATIVES = 16
"""Alternatives kept per condition; beyond this a part of the condition is ignored."""

Alternatives = list[frozenset]
"""Sets of signal keys; the condition can be true only when one set is wholly present."""

_ANYTHING: Alternatives = [frozenset()]


@dataclass(frozen=True)
class Index:
    """Items (rules, regexes), each with alternatives of required signals, found from the
    signals present.  An item is indexed on the rarest signal of each alternative, so a post
    wakes only the items one of whose rare signals it carries; those are then tested in full."""

    alternatives: tuple[tuple[frozenset[int], ...], ...]
    """Per item, the signal sets one of which must be present; an empty set: always a candidate."""
    always: tuple[int, ...]
    alone: dict[int, frozenset[int]]
    """A signal -> the items one of whose alternatives is that signal alone: present, they are
    candidates without a test (most regexes need one literal of several)."""
    by_signal: dict[int, tuple[tuple[int, frozenset[int]], ...]]
    """A signal -> (item, alternative) for the other alternatives whose rarest signal it is."""
    indexed: frozenset[int]
    """The signals some alternative is indexed on."""

    def candidate_set(self, present: set[int]) -> set[int]:
        """The items one of whose alternatives is wholly present."""
        found = set(self.always)
        alone, by_signal = self.alone, self.by_signal
        for signal in self.indexed & present:
            items = alone.get(signal)
            if items is not None:
                found |= items
            for item, alternative in by_signal.get(signal, ()):
                if alternative <= present:
                    found.add(item)
        return found

    def candidates(self, present: set[int]) -> list[int]:
        """The items one of whose alternatives is wholly present, in item order."""
        return sorted(self.candidate_set(present))

    @classmethod
    def build(cls, alternatives: Sequence[Sequence[frozenset[int]]], rarity: Callable[[int], tuple]) -> Index:
        always: list[int] = []
        alone: dict[int, set[int]] = {}
        by_signal: dict[int, list[tuple[int, frozenset[int]]]] = {}
        for item, sets in enumerate(alternatives):
            if any(not signals for signals in sets):
                always.append(item)
                continue
            for signals in sets:
                if len(signals) == 1:
                    alone.setdefault(next(iter(signals)), set()).add(item)
                else:
                    by_signal.setdefault(max(sorted(signals), key=rarity), []).append((item, signals))
        return cls(tuple(tuple(sets) for sets in alternatives), tuple(always),
                   {s: frozenset(items) for s, items in alone.items()},
                   {s: tuple(entries) for s, entries in by_signal.items()}, frozenset(alone) | frozenset(by_signal))


@dataclass(frozen=True)
class Triggers:
    lexicon_signals: dict[str, dict[int, tuple[tuple[frozenset[str] | None, int], ...]]]
    """Text field -> lexicon index -> (tags, signal): the signal is present when the field has a
    raw hit of a term of the lexicon with one of the tags (any term when None).  Only the
    lexicons and tags rules need."""
    regex_signals: dict[str, dict[int, int]]
    """Text field -> regex index -> the signal that the regex may match the field."""
    fact_signals: dict[str, tuple[int | None, int | None]]
    """Field -> (signal when present, signal when non-zero / true / non-empty), for the fields
    rules need."""
    fact_names: frozenset[str]
    is_text: dict[str, bool]
    rules: Index

    def candidates(self, present: set[int]) -> list[int]:
        """The rules whose trigger the present signals meet, in rule order."""
        return self.rules.candidates(present)


class KeySignals(dict):
    """Automaton key number -> the lexicon signals a raw hit of it sets, for one text field and
    one profile's pass: the signal of (lexicon, tags) when the key is a term of the lexicon with
    one of the tags (any term when the tags are None).  Worked out per key on first use, from the
    term table, so a cached policy loads no per-key table; a seen key is a dict lookup."""

    def __init__(self, by_lexicon: dict[int, tuple[tuple[frozenset[str] | None, int], ...]],
                 key_entries: Mapping[int, Sequence[TermEntry]], profile: int | None):
        super().__init__()
        self.by_lexicon = by_lexicon
        self.key_entries = key_entries
        self.profile = profile
        """Only the entries of this profile count (None: the policy has one profile)."""

    def __missing__(self, key: int) -> tuple[int, ...]:
        signals = []
        for entry in self.key_entries[key]:
            if self.profile is None or entry.profile == self.profile:
                for tags, signal in self.by_lexicon.get(entry.lexicon, ()):
                    if tags is None or not tags.isdisjoint(entry.tags):
                        signals.append(signal)
        found = self[key] = tuple(signals)  # a race works out the same value twice, harmlessly
        return found

    def __reduce__(self):
        return (KeySignals, (self.by_lexicon, self.key_entries, self.profile))  # never the worked-out keys


def build_triggers(conditions: Sequence[cond.Node], regex_gated: Sequence[bool],
                   rarity: Callable[[tuple], tuple]) -> Triggers:
    """Triggers for compiled conditions.  ``regex_gated[i]``: regex i may be skipped on some
    posts (it has required literals); ``rarity(key)`` orders signal keys from common to rare."""
    numbers: dict[tuple, int] = {}
    rule_alternatives = [_alternatives(c, regex_gated) for c in conditions]
    for alternatives in rule_alternatives:
        for alternative in alternatives:
            for key in sorted(alternative):
                numbers.setdefault(key, len(numbers))
    lexicon_signals: dict[str, dict[int, list[tuple[frozenset[str] | None, int]]]] = {}
    regex_signals: dict[str, dict[int, int]] = {}
    facts: dict[str, list[int | None]] = {}
    for key, number in numbers.items():
        kind, name, what = key
        if kind == "lexicon":
            lexicon, tags = what
            lexicon_signals.setdefault(name, {}).setdefault(lexicon, []).append((frozenset(tags) or None, number))
        elif kind == "regex":
            regex_signals.setdefault(name, {})[what] = number
        else:
            facts.setdefault(name, [None, None])[0 if what == "present" else 1] = number
    key_of = {number: key for key, number in numbers.items()}
    return Triggers(
        lexicon_signals={name: {lexicon: tuple(pairs) for lexicon, pairs in by_lexicon.items()}
                         for name, by_lexicon in lexicon_signals.items()},
        regex_signals=regex_signals,
        fact_signals={name: (present, nonzero) for name, (present, nonzero) in sorted(facts.items())},
        fact_names=frozenset(facts), is_text={name: F.kind_of(name) == F.TEXT for name in facts},
        rules=Index.build([[frozenset(numbers[k] for k in a) for a in alternatives]
                           for alternatives in rule_alternatives], lambda n: (rarity(key_of[n]), -n)),
    )


def present_facts(triggers: Triggers, post: Post) -> set[int]:
    """The fact signals a post sets (text fields count as non-zero when non-empty)."""
    present: set[int] = set()
    for name in triggers.fact_names & (post.facts.keys() | post.texts.keys() | _COUNTED):
        value = post.text(name) if triggers.is_text[name] else post.fact(name)
        if value is not None:
            when_present, when_nonzero = triggers.fact_signals[name]
            if when_present is not None:
                present.add(when_present)
            if value and when_nonzero is not None:
                present.add(when_nonzero)
    return present


_COUNTED = frozenset(F.COUNTED_FACTS)


def _alternatives(node: cond.Node, regex_gated: Sequence[bool]) -> Alternatives:
    """Signal sets one of which must be present for ``node`` to be true (see the module doc)."""
    if isinstance(node, cond.AllOf):
        parts = sorted((_alternatives(item, regex_gated) for item in node.items), key=len)
        result = _ANYTHING
        for part in parts:
            product = _minimal([a | b for a in result for b in part])
            if len(product) <= MAX_ALTERNATIVES:
                result = product  # else: ignore this part; the trigger only gets weaker
        return result
    if isinstance(node, cond.AnyOf):
        union: Alternatives = []
        for item in node.items:
            union.extend(_alternatives(item, regex_gated))
        union = _minimal(union)
        return union if len(union) <= MAX_ALTERNATIVES else _ANYTHING
    if isinstance(node, cond.Has):
        return [frozenset({_lexicon_key(node.field, node.lexicon, node.tags)})]
    if isinstance(node, cond.Near):
        return [frozenset({_lexicon_key(node.field, node.first, node.first_tags),
                           _lexicon_key(node.field, node.second, node.second_tags)})]
    if isinstance(node, cond.CountHits):
        return [frozenset({_lexicon_key(node.field, node.lexicon, node.tags)})] \
            if _zero_fails(node.op, node.value) else _ANYTHING
    if isinstance(node, (cond.Matches, cond.CountMatches)):
        needs_match = isinstance(node, cond.Matches) or _zero_fails(node.op, node.value)
        return [frozenset({("regex", node.field, node.regex)})] if needs_match and regex_gated[node.regex] \
            else _ANYTHING
    if isinstance(node, cond.Length):
        return [frozenset({("fact", node.field, "nonzero")})] if _zero_fails(node.op, node.value) else _ANYTHING
    if isinstance(node, cond.Compare):
        if _zero_fails(node.op, node.value):
            return [frozenset({("fact", node.field, "nonzero")})]
        # A missing fact makes every comparison false; counted facts are never missing.
        return _ANYTHING if node.field in F.COUNTED_FACTS else [frozenset({("fact", node.field, "present")})]
    if isinstance(node, cond.Flag):
        return [frozenset({("fact", node.field, "nonzero")})]
    if isinstance(node, cond.Contacts):
        return _ANYTHING  # no cheap signal: contacts are looked for when a rule reads them
    return _ANYTHING  # not: true when its operand is false, which needs nothing


def _lexicon_key(field: str, lexicon: int, tags: frozenset[str] | None) -> tuple:
    """The signal of a raw hit of the lexicon in the field, of a term with one of the tags (any
    term when None).  Tags as a sorted tuple, () for any, so that keys sort."""
    return ("lexicon", field, (lexicon, tuple(sorted(tags)) if tags else ()))


def _zero_fails(op: str, value: float) -> bool:
    """Whether a count, length or value of 0 (or false) fails ``op value``."""
    return not cond.compare(op, 0, value)


def _minimal(alternatives: Alternatives) -> Alternatives:
    """Without duplicates and without any set that contains another (it adds nothing)."""
    unique = sorted(set(alternatives), key=lambda a: (len(a), sorted(a)))
    kept: Alternatives = []
    for alternative in unique:
        if not any(other <= alternative for other in kept):
            kept.append(alternative)
    return kept
