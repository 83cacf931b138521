"""The typed syntax tree of a policy file: frozen dataclasses, each with its span.

Spans are excluded from equality, so two trees that say the same thing compare
equal wherever they were written (the formatter's meaning-preservation test
relies on this).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from policy.lang.diagnostics import NO_SPAN, Span


@dataclass(frozen=True)
class Node:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Name(Node):
    """A reference or declaration name, kept with its own span for precise carets."""

    text: str


# ---- conditions ---------------------------------------------------------------


@dataclass(frozen=True)
class LexRef(Node):
    lexicon: Name
    tags: tuple[Name, ...] = ()


@dataclass(frozen=True)
class Regex(Node):
    pattern: str
    flags: str = ""
    normalized: bool = False


@dataclass(frozen=True)
class AnyOf(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class AllOf(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Expr


@dataclass(frozen=True)
class Has(Node):
    field: Name
    lex: LexRef


@dataclass(frozen=True)
class Near(Node):
    field: Name
    first: LexRef
    second: LexRef
    within: int


@dataclass(frozen=True)
class Matches(Node):
    field: Name
    regex: Regex


@dataclass(frozen=True)
class CountHits(Node):
    """``count(f has L) op n``, or with ``distinct`` the number of distinct terms."""

    field: Name
    lex: LexRef
    op: str
    value: float
    distinct: bool = False


@dataclass(frozen=True)
class CountMatches(Node):
    field: Name
    regex: Regex
    op: str
    value: float


@dataclass(frozen=True)
class Contacts(Node):
    """``contacts(f) op n`` or ``contacts(f)[wechat, qq] op n``: the distinct contacts in a field
    (of those kinds), found in any disguise (:mod:`policy.contacts`)."""

    field: Name
    kinds: tuple[Name, ...]
    op: str
    value: float


@dataclass(frozen=True)
class Length(Node):
    field: Name
    op: str
    value: float


@dataclass(frozen=True)
class Compare(Node):
    field: Name
    op: str
    value: float


@dataclass(frozen=True)
class Flag(Node):
    field: Name


Expr = AnyOf | AllOf | Not | Has | Near | Matches | CountHits | CountMatches | Contacts | Length | Compare | Flag


def predicates(expr: Expr) -> Iterator[Expr]:
    """The tests a condition is built from (everything but and/or/not), without recursion."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (AnyOf, AllOf)):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            yield node


# ---- declarations ---------------------------------------------------------------


@dataclass(frozen=True)
class Convention(Node):
    title: str
    version: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Clause(Node):
    id: Name
    text: str


@dataclass(frozen=True)
class Category(Node):
    name: Name
    title: str
    clauses: tuple[Name, ...] = ()
    severity: int | None = None


@dataclass(frozen=True)
class Term(Node):
    text: str
    tags: tuple[Name, ...] = ()


@dataclass(frozen=True)
class TermFile(Node):
    path: str


@dataclass(frozen=True)
class NormStep(Node):
    name: str
    enabled: bool = True


@dataclass(frozen=True)
class Lexicon(Node):
    """A deny lexicon (``lexicon``) or an allow list (``allow``)."""

    name: Name
    title: str | None = None
    is_allow: bool = False
    terms: tuple[Term, ...] = ()
    files: tuple[TermFile, ...] = ()
    tags: tuple[Name, ...] = ()
    normalize: tuple[NormStep, ...] | None = None
    match: Name | None = None
    hits: Name | None = None
    suppresses: tuple[Name, ...] | None = None
    expand: tuple[Name, ...] = ()
    """Variants tables (and ``pinyin``, ``initials``) whose variants of each term match too."""
    boundaries: Name | None = None
    """``dictionary``: a hit inside or across an ordinary word of the dictionary is not a hit."""


@dataclass(frozen=True)
class Variants(Node):
    """A table of character variants (homophones, split characters, look-alikes) in term files."""

    name: Name
    title: str | None = None
    files: tuple[TermFile, ...] = ()


@dataclass(frozen=True)
class Example(Node):
    """A post inside a rule that the rule must flag (``violates``) or leave alone."""

    violates: bool
    fields: tuple[tuple[Name, str | float | bool], ...]


@dataclass(frozen=True)
class Rule(Node):
    id: Name
    title: str
    category: Name | None = None
    clauses: tuple[Name, ...] = ()
    severity: int | None = None
    tags: tuple[Name, ...] = ()
    mode: Name | None = None
    action: Name | None = None
    when: Expr | None = None
    explain: str | None = None
    examples: tuple[Example, ...] = ()
    sanction: Name | None = None
    """A step of the ladder this rule sanctions at directly, instead of by severity."""


@dataclass(frozen=True)
class Step(Node):
    name: Name
    title: str
    action: Name
    days: float | None = None
    duration_word: Name | None = None
    """``permanent`` (or a misspelling the checker reports)."""


@dataclass(frozen=True)
class LadderStart(Node):
    severity: int
    step: Name


@dataclass(frozen=True)
class Window(Node):
    amount: float
    unit: Name


@dataclass(frozen=True)
class Factor(Node):
    name: Name
    title: str
    raises: int
    tags: tuple[Name, ...] = ()
    when: Expr | None = None


@dataclass(frozen=True)
class Hold(Node):
    name: Name
    reason: str
    when: Expr


@dataclass(frozen=True)
class Confirm(Node):
    reviewers: int
    when: Expr


@dataclass(frozen=True)
class Ladder(Node):
    title: str
    clauses: tuple[Name, ...] = ()
    steps: tuple[Step, ...] = ()
    starts: tuple[LadderStart, ...] = ()
    escalate: Window | None = None
    expire: Window | None = None
    factors: tuple[Factor, ...] = ()
    holds: tuple[Hold, ...] = ()
    confirms: tuple[Confirm, ...] = ()


@dataclass(frozen=True)
class Brake(Node):
    title: str
    watch: Window | None = None
    share: float | None = None
    """Percent of the posts checked since the rule changed."""
    minimum: int | None = None


Decl = Convention | Clause | Category | Lexicon | Variants | Rule | Ladder | Brake


@dataclass(frozen=True)
class PolicyFile(Node):
    path: str
    decls: tuple[Decl, ...]
