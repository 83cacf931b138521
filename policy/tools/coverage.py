"""Which clauses of the convention the rules enforce, and how well they are exemplified.

The clauses that need a rule are the leaves of the clause tree under each
category's clause (for the bundled convention: the 55 items of section 一).
"""

from __future__ import annotations

from dataclasses import dataclass

from policy.compiler.compiled import CompiledPolicy


@dataclass(frozen=True)
class RuleExamples:
    rule: str
    violates: int
    allows: int


@dataclass(frozen=True)
class ClauseCoverage:
    clause: str
    text: str
    rules: tuple[RuleExamples, ...]


def enforceable_clauses(policy: CompiledPolicy, category_clauses: list[str]) -> list[str]:
    ids = list(policy.clauses)
    leaves = [c for c in ids if not any(other.startswith(c + ".") for other in ids)]
    return [c for c in leaves if any(c == root or c.startswith(root + ".") for root in category_clauses)]


def coverage(policy: CompiledPolicy) -> list[ClauseCoverage]:
    category_clauses = [c for _, clauses in policy.categories.values() for c in clauses]
    rules_by_clause: dict[str, list[RuleExamples]] = {}
    for rule in policy.rules:
        counts = RuleExamples(rule.id, sum(e.violates for e in rule.examples),
                              sum(not e.violates for e in rule.examples))
        for clause_id, _ in rule.clauses:
            rules_by_clause.setdefault(clause_id, []).append(counts)
    found = [ClauseCoverage(c, policy.clauses[c], tuple(rules_by_clause.get(c, ())))
             for c in enforceable_clauses(policy, category_clauses)]
    return sorted(found, key=lambda c: _clause_order(c.clause))


def _clause_order(clause: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in clause.split("."))
