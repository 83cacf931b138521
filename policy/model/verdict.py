"""The verdict: what the engine decided about a post, and why.

Serialized by :meth:`Verdict.to_json` with a fixed key order, so the same policy
and post give byte-identical JSON apart from ``verdict_id`` and ``checked_at``.
The schema is documented in the README (``schema: "policy-verdict/1"``).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from policy.model.sanction import Sanction

SCHEMA = "policy-verdict/1"

_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(json_text: str) -> str:
    """JSON text with lone surrogates written as escapes: a post can carry them (as JSON escapes),
    and UTF-8 (a file, a pipe, SQLite) cannot hold them."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text) if _SURROGATE.search(json_text) \
        else json_text

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Made once (``json.dumps`` with options builds an encoder every call)."""

ALLOW, REVIEW, REJECT = "allow", "review", "reject"


class Evidence(NamedTuple):
    """One piece of what made a rule fire.  A named tuple, like the hits it comes from: a post
    that fires makes several, and building one costs a third of a frozen dataclass."""

    field: str
    kind: str  # "lexicon" | "regex" | "contact" | "fact"
    start: int | None = None
    end: int | None = None
    text: str | None = None
    lexicon: str | None = None
    term: str | None = None
    normalized: str | None = None
    tags: tuple[str, ...] = ()
    pattern: str | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "kind": self.kind}
        if self.kind == "fact":
            out["value"] = self.value
            return out
        out.update(start=self.start, end=self.end, text=self.text)
        if self.kind == "contact":
            out.update(contact=self.term, value=self.value)
        elif self.kind == "lexicon":
            out.update(lexicon=self.lexicon, term=self.term, normalized=self.normalized, tags=list(self.tags))
        else:
            out.update(pattern=self.pattern, normalized=bool(self.normalized))
        return out


class Violation(NamedTuple):
    """A rule that fired, with its evidence and explanation (a named tuple, as :class:`Evidence`)."""

    rule: str
    title: str
    category: str
    category_title: str
    clauses: tuple[tuple[str, str], ...]
    severity: int
    mode: str
    action: str
    explanation: str
    evidence: tuple[Evidence, ...]
    source: tuple[str, int]
    evidence_total: int = 0
    """How many pieces of evidence there were; ``evidence`` keeps the first of them (by
    position) up to the engine's ``max_evidence``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "category": self.category,
            "category_title": self.category_title,
            "clauses": [{"id": cid, "text": text} for cid, text in self.clauses],
            "severity": self.severity,
            "mode": self.mode,
            "action": self.action,
            "explanation": self.explanation,
            "evidence": [e.to_dict() for e in self.evidence],
            "evidence_total": self.evidence_total,
            "source": {"path": self.source[0], "line": self.source[1]},
        }


class Verdict(NamedTuple):
    """What the engine decided about a post, and why (a named tuple, as :class:`Evidence`: every
    check makes one; ``verdict._replace(sanction=...)`` gives a changed copy)."""

    verdict_id: str
    post_id: str
    user_id: str | None
    checked_at: str
    policy_name: str
    policy_version: str
    decision: str
    violations: tuple[Violation, ...]
    shadow: tuple[Violation, ...]
    warnings: tuple[str, ...]
    sanction: Sanction | None = None

    @property
    def rules(self) -> list[str]:
        return [v.rule for v in self.violations]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "verdict_id": self.verdict_id,
            "post_id": self.post_id,
            "user_id": self.user_id,
            "checked_at": self.checked_at,
            "policy": {"name": self.policy_name, "version": self.policy_version},
            "decision": self.decision,
            "sanction": self.sanction.to_dict() if self.sanction else None,
            "violations": [v.to_dict() for v in self.violations],
            "shadow": [v.to_dict() for v in self.shadow],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Read back what ``to_dict`` wrote (the ledger stores verdicts as JSON)."""
        def violation(v: dict[str, Any]) -> Violation:
            evidence = tuple(Evidence(
                e["field"], e["kind"], e.get("start"), e.get("end"), e.get("text"), e.get("lexicon"),
                e.get("term", e.get("contact")),
                e.get("normalized"), tuple(e.get("tags", ())), e.get("pattern"), e.get("value"),
            ) for e in v["evidence"])
            return Violation(v["rule"], v["title"], v["category"], v["category_title"],
                             tuple((c["id"], c["text"]) for c in v["clauses"]), v["severity"], v["mode"], v["action"],
                             v["explanation"], evidence, (v["source"]["path"], v["source"]["line"]),
                             v.get("evidence_total", len(evidence)))

        return cls(
            verdict_id=data["verdict_id"], post_id=data["post_id"], user_id=data["user_id"],
            checked_at=data["checked_at"], policy_name=data["policy"]["name"],
            policy_version=data["policy"]["version"], decision=data["decision"],
            violations=tuple(violation(v) for v in data["violations"]),
            shadow=tuple(violation(v) for v in data["shadow"]), warnings=tuple(data["warnings"]),
            sanction=Sanction.from_dict(data["sanction"]) if data.get("sanction") else None,
        )

    def to_json(self, indent: int | None = None) -> str:
        if indent:
            return escape_surrogates(json.dumps(self.to_dict(), ensure_ascii=False, indent=indent))
        return escape_surrogates(_COMPACT.encode(self.to_dict()))
