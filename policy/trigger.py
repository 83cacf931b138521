"""Triggers: which rules can possibly be true for a post, decided from cheap signals.

A *signal* is one bit that the engine sets before evaluating any rule:

- a lexicon has a raw automaton hit in a text field;
- a regex could match a text field (one of its required literals is there, see
  :mod:`policy.prefilter`);
- a fact is present, or is non-zero / true (a text field is non-empty).

Each rule's condition is reduced, at compile time, to a *trigger*: alternatives of
signal sets, one of which must be wholly present for the condition to be true
(a disjunctive normal form over signals, with ``not`` read as "no requirement").
``has group near generalizer and has generalizer near stereotype or has slur``
needs {group, generalizer, stereotype} or {slur}.  A trigger is only ever weaker
than its condition (when the form would grow past :data:`MAX_ALTERNATIVES`, a part
is dropped, never strengthened), so skipping a rule whose trigger is unmet never
changes a verdict.  The engine evaluates a rule's condition only when its trigger
is met, and finds the rules to test through the rarest signal of each alternative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import evaluate as ev
from . import fields as F

MAX_ALTERNATIVES = 16
"""Alternatives kept per condition; beyond this a part of the condition is ignored."""

Alternatives = list[frozenset]
"""Sets of signal keys; the condition can be true only when one set is wholly present."""

_ANYTHING: Alternatives = [frozenset()]


@dataclass(frozen=True)
class Triggers:
    lexicon_bits: dict[str, tuple[int, ...]]
    """Text field -> per lexicon index, its signal bit (0: no rule needs it)."""
    regex_bits: dict[str, dict[int, int]]
    """Text field -> regex index -> the bit set when one of the regex's literals is in the field."""
    fact_bits: tuple[tuple[str, bool, int, int], ...]
    """(field, is a text field, bit when present, bit when non-zero / true / non-empty) for the
    fields rules need."""
    rules: tuple[tuple[int, ...], ...]
    """Per rule, its alternatives as bit masks; a mask of 0 means the rule is always evaluated."""
    always: tuple[int, ...]
    """Rules with an empty alternative: evaluated on every post."""
    by_bit: dict[int, tuple[int, ...]]
    """A bit -> the rules one of whose alternatives is indexed on it (its rarest signal)."""

    def candidates(self, present: int) -> list[int]:
        """The rules whose trigger the present signals meet, in rule order."""
        found = set(self.always)
        by_bit = self.by_bit
        rest = present
        while rest:
            low = rest & -rest
            found.update(by_bit.get(low, ()))
            rest ^= low
        masks = self.rules
        return [i for i in sorted(found) if any((m & present) == m for m in masks[i])]


def build_triggers(conditions: Sequence[ev.Node], lexicon_count: int, regex_gated: Sequence[bool],
                   rarity: Callable[[tuple], tuple]) -> Triggers:
    """Triggers for compiled conditions.  ``regex_gated[i]``: regex i has required literals;
    ``rarity(key)`` orders signal keys from common to rare (used to pick the index bit)."""
    keys: dict[tuple, int] = {}
    rule_alternatives = [_alternatives(c, regex_gated) for c in conditions]
    for alternatives in rule_alternatives:
        for alternative in alternatives:
            for key in sorted(alternative):
                keys.setdefault(key, 1 << len(keys))

    lexicon_bits: dict[str, list[int]] = {}
    regex_bits: dict[str, dict[int, int]] = {}
    facts: dict[str, list[int]] = {}
    for key, bit in keys.items():
        kind, name, what = key
        if kind == "lexicon":
            lexicon_bits.setdefault(name, [0] * lexicon_count)[what] = bit
        elif kind == "regex":
            regex_bits.setdefault(name, {})[what] = bit
        else:
            facts.setdefault(name, [0, 0])[0 if what == "present" else 1] = bit

    masks: list[tuple[int, ...]] = []
    always: list[int] = []
    by_bit: dict[int, list[int]] = {}
    for index, alternatives in enumerate(rule_alternatives):
        masks.append(tuple(sum(keys[k] for k in alternative) for alternative in alternatives))
        for alternative in alternatives:
            if not alternative:
                always.append(index)
                break
        else:
            for alternative in alternatives:
                rarest = max(sorted(alternative), key=rarity)
                rules = by_bit.setdefault(keys[rarest], [])
                if index not in rules:
                    rules.append(index)
    return Triggers(
        lexicon_bits={name: tuple(bits) for name, bits in lexicon_bits.items()},
        regex_bits=regex_bits,
        fact_bits=tuple((name, F.kind_of(name) == F.TEXT, bits[0], bits[1]) for name, bits in sorted(facts.items())),
        rules=tuple(masks), always=tuple(always), by_bit={b: tuple(r) for b, r in by_bit.items()},
    )


def present_facts(triggers: Triggers, fact: Callable[[str], object], text: Callable[[str], str]) -> int:
    """The fact signals a post sets (text fields count as non-zero when non-empty)."""
    bits = 0
    for name, is_text, present_bit, nonzero_bit in triggers.fact_bits:
        value = text(name) if is_text else fact(name)
        if value is not None:
            bits |= present_bit
            if value:
                bits |= nonzero_bit
    return bits


def _alternatives(node: ev.Node, regex_gated: Sequence[bool]) -> Alternatives:
    """Signal sets one of which must be present for ``node`` to be true (see the module doc)."""
    if isinstance(node, ev.AllOf):
        parts = sorted((_alternatives(item, regex_gated) for item in node.items), key=len)
        result = _ANYTHING
        for part in parts:
            product = _minimal([a | b for a in result for b in part])
            if len(product) <= MAX_ALTERNATIVES:
                result = product  # else: ignore this part; the trigger only gets weaker
        return result
    if isinstance(node, ev.AnyOf):
        union: Alternatives = []
        for item in node.items:
            union.extend(_alternatives(item, regex_gated))
        union = _minimal(union)
        return union if len(union) <= MAX_ALTERNATIVES else _ANYTHING
    if isinstance(node, ev.Has):
        return [frozenset({("lexicon", node.field, node.lexicon)})]
    if isinstance(node, ev.Near):
        return [frozenset({("lexicon", node.field, node.first), ("lexicon", node.field, node.second)})]
    if isinstance(node, ev.CountHits):
        return [frozenset({("lexicon", node.field, node.lexicon)})] if _zero_fails(node.op, node.value) \
            else _ANYTHING
    if isinstance(node, (ev.Matches, ev.CountMatches)):
        needs_match = isinstance(node, ev.Matches) or _zero_fails(node.op, node.value)
        return [frozenset({("regex", node.field, node.regex)})] if needs_match and regex_gated[node.regex] \
            else _ANYTHING
    if isinstance(node, ev.Length):
        return [frozenset({("fact", node.field, "nonzero")})] if _zero_fails(node.op, node.value) else _ANYTHING
    if isinstance(node, ev.Compare):
        if _zero_fails(node.op, node.value):
            return [frozenset({("fact", node.field, "nonzero")})]
        # A missing fact makes every comparison false; counted facts are never missing.
        return _ANYTHING if node.field in F.COUNTED_FACTS else [frozenset({("fact", node.field, "present")})]
    if isinstance(node, ev.Flag):
        return [frozenset({("fact", node.field, "nonzero")})]
    return _ANYTHING  # not: true when its operand is false, which needs nothing


def _zero_fails(op: str, value: float) -> bool:
    """Whether a count, length or value of 0 (or false) fails ``op value``."""
    return not ev.compare(op, 0, value)


def _minimal(alternatives: Alternatives) -> Alternatives:
    """Without duplicates and without any set that contains another (it adds nothing)."""
    unique = sorted(set(alternatives), key=lambda a: (len(a), sorted(a)))
    kept: Alternatives = []
    for alternative in unique:
        if not any(other <= alternative for other in kept):
            kept.append(alternative)
    return kept
