"""A rule's condition, compiled: a tree of nodes that test themselves against one post's facts.

The compiler builds the tree (:mod:`policy.compiler.compile`); the runtime's
:class:`policy.runtime.evaluate.Context` is what it is tested against.  A node needs only what
:class:`Facts` describes, so the compiled form does not depend on the runtime that runs it.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Protocol

from policy.model.hits import ContactHit, FactHit, Hit, RegexHit
from policy.model.post import Post


class Facts(Protocol):
    """What a condition reads about the post being checked (found lazily, once per check)."""

    post: Post

    def lexicon_hits(self, name: str, lexicon: int, tags: frozenset[str] | None) -> list[Hit]: ...

    def regex_hits(self, name: str, index: int, normalized: bool, pattern: str) -> list[RegexHit]: ...

    def contacts(self, name: str) -> list[ContactHit]: ...


_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
        "!=": operator.ne}


def compare(op: str, actual: float, value: float) -> bool:
    return _OPS[op](actual, value)


class Node:
    def test(self, ctx: Facts) -> bool:
        raise NotImplementedError

    def collect(self, ctx: Facts, out: list) -> None:
        """Evidence of a true node (called only when ``test`` is true)."""


@dataclass(frozen=True)
class AnyOf(Node):
    items: tuple[Node, ...]

    def test(self, ctx: Facts) -> bool:
        for item in self.items:  # a loop, not any(<generator>): this runs for every candidate rule
            if item.test(ctx):
                return True
        return False

    def collect(self, ctx: Facts, out: list) -> None:
        for item in self.items:
            if item.test(ctx):
                item.collect(ctx, out)


@dataclass(frozen=True)
class AllOf(Node):
    items: tuple[Node, ...]

    def test(self, ctx: Facts) -> bool:
        for item in self.items:
            if not item.test(ctx):
                return False
        return True

    def collect(self, ctx: Facts, out: list) -> None:
        for item in self.items:
            item.collect(ctx, out)


@dataclass(frozen=True)
class Not(Node):
    item: Node

    def test(self, ctx: Facts) -> bool:
        return not self.item.test(ctx)


@dataclass(frozen=True)
class Has(Node):
    field: str
    lexicon: int
    tags: frozenset[str] | None

    def test(self, ctx: Facts) -> bool:
        return bool(ctx.lexicon_hits(self.field, self.lexicon, self.tags))

    def collect(self, ctx: Facts, out: list) -> None:
        out.extend(ctx.lexicon_hits(self.field, self.lexicon, self.tags))


@dataclass(frozen=True)
class Near(Node):
    field: str
    first: int
    first_tags: frozenset[str] | None
    second: int
    second_tags: frozenset[str] | None
    within: int

    def pairs(self, ctx: Facts) -> list[tuple[Hit, Hit]]:
        firsts = ctx.lexicon_hits(self.field, self.first, self.first_tags)
        if not firsts:
            return []
        seconds = ctx.lexicon_hits(self.field, self.second, self.second_tags)
        if not seconds:
            return []
        # Hits come sorted by start: only seconds starting in a window around each first can pair.
        starts = [b.start for b in seconds]
        longest = max(b.end - b.start for b in seconds)
        within = self.within
        found = []
        for a in firsts:
            low = bisect_left(starts, a.start - within - longest)
            high = bisect_right(starts, a.end + within)
            found.extend((a, b) for b in seconds[low:high]
                         if b is not a and max(b.start - a.end, a.start - b.end, 0) <= within)
        return found

    def test(self, ctx: Facts) -> bool:
        return bool(self.pairs(ctx))

    def collect(self, ctx: Facts, out: list) -> None:
        for a, b in self.pairs(ctx):
            out.extend((a, b))


@dataclass(frozen=True)
class CountHits(Node):
    field: str
    lexicon: int
    tags: frozenset[str] | None
    op: str
    value: float
    distinct: bool

    def count(self, ctx: Facts) -> int:
        hits = ctx.lexicon_hits(self.field, self.lexicon, self.tags)
        return len({h.key for h in hits}) if self.distinct else len(hits)

    def test(self, ctx: Facts) -> bool:
        return _OPS[self.op](self.count(ctx), self.value)

    def collect(self, ctx: Facts, out: list) -> None:
        out.extend(ctx.lexicon_hits(self.field, self.lexicon, self.tags))


@dataclass(frozen=True)
class Matches(Node):
    field: str
    regex: int
    normalized: bool
    pattern: str

    def test(self, ctx: Facts) -> bool:
        return bool(ctx.regex_hits(self.field, self.regex, self.normalized, self.pattern))

    def collect(self, ctx: Facts, out: list) -> None:
        out.extend(ctx.regex_hits(self.field, self.regex, self.normalized, self.pattern))


@dataclass(frozen=True)
class CountMatches(Node):
    field: str
    regex: int
    normalized: bool
    pattern: str
    op: str
    value: float

    def test(self, ctx: Facts) -> bool:
        return _OPS[self.op](len(ctx.regex_hits(self.field, self.regex, self.normalized, self.pattern)), self.value)

    def collect(self, ctx: Facts, out: list) -> None:
        out.extend(ctx.regex_hits(self.field, self.regex, self.normalized, self.pattern))


@dataclass(frozen=True)
class Contacts(Node):
    field: str
    kinds: frozenset[str] | None
    """Only contacts of these kinds count (None: every kind)."""
    op: str
    value: float

    def found(self, ctx: Facts) -> list[ContactHit]:
        found = ctx.contacts(self.field)
        return found if self.kinds is None else [c for c in found if c.kind in self.kinds]

    def count(self, ctx: Facts) -> int:
        """Distinct contacts: the same WeChat id written three times is one contact."""
        return len({(c.kind, c.value) for c in self.found(ctx)})

    def test(self, ctx: Facts) -> bool:
        return _OPS[self.op](self.count(ctx), self.value)

    def collect(self, ctx: Facts, out: list) -> None:
        out.extend(self.found(ctx))


@dataclass(frozen=True)
class Length(Node):
    field: str
    op: str
    value: float

    def test(self, ctx: Facts) -> bool:
        return _OPS[self.op](len(ctx.post.text(self.field)), self.value)


@dataclass(frozen=True)
class Compare(Node):
    field: str
    op: str
    value: float

    def test(self, ctx: Facts) -> bool:
        actual = ctx.post.fact(self.field)
        return actual is not None and _OPS[self.op](actual, self.value)

    def collect(self, ctx: Facts, out: list) -> None:
        out.append(FactHit(self.field, ctx.post.fact(self.field)))


@dataclass(frozen=True)
class Flag(Node):
    field: str

    def test(self, ctx: Facts) -> bool:
        return ctx.post.fact(self.field) is True

    def collect(self, ctx: Facts, out: list) -> None:
        out.append(FactHit(self.field, True))
