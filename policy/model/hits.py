"""Hits: where a post matched a lexicon term, a regex or a contact, or which fact a condition read.

The runtime finds them, conditions collect them, and the engine turns them into a verdict's
:class:`policy.model.verdict.Evidence`.  Tuples, because posts make many and evidence hashes them."""

from __future__ import annotations

from typing import Any, NamedTuple


class RegexHit(NamedTuple):
    """A regex match in a field, spanning original characters (tuples, like :class:`Hit`)."""

    field: str
    start: int
    end: int
    pattern: str
    normalized: bool


class ContactHit(NamedTuple):
    """A contact in a field (:mod:`policy.contacts`), spanning original characters."""

    field: str
    kind: str
    value: str
    start: int
    end: int


class FactHit(NamedTuple):
    field: str
    value: Any


class Hit(NamedTuple):
    """A real hit: a term of a lexicon in a field, with its span in the original text.  A tuple
    (not a dataclass) because posts make many and evidence hashes them: both run in C."""

    field: str
    lexicon: int
    term: str
    key: str
    tags: frozenset[str]
    start: int
    end: int
