"""What the ladder decides and the ledger records: a user's strikes and the sanction a verdict leads to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ACTIVE, PENDING, SHADOW = "active", "pending_review", "shadow"


@dataclass(frozen=True)
class Strike:
    """A violation that counts against a user's standing."""

    post_id: str
    verdict_id: str
    rule: str
    severity: int
    at: datetime


@dataclass(frozen=True)
class Sanction:
    step: str
    title: str
    action: str
    days: int | None
    permanent: bool
    level: int
    """1 for the lightest step."""
    rule: str
    severity: int
    strikes_counted: int
    counted_posts: tuple[str, ...]
    factors: tuple[tuple[str, str, int], ...]
    holds: tuple[tuple[str, str], ...]
    reviewers_needed: int
    status: str
    path: tuple[str, ...]
    """How the ladder reached the step, one line a move."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "title": self.title, "action": self.action, "days": self.days,
            "permanent": self.permanent, "level": self.level, "rule": self.rule, "severity": self.severity,
            "strikes_counted": self.strikes_counted, "counted_posts": list(self.counted_posts),
            "factors": [{"name": n, "title": t, "raises": r} for n, t, r in self.factors],
            "holds": [{"name": n, "reason": r} for n, r in self.holds],
            "reviewers_needed": self.reviewers_needed, "status": self.status, "path": list(self.path),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sanction:
        return cls(
            step=data["step"], title=data["title"], action=data["action"], days=data["days"],
            permanent=data["permanent"], level=data["level"], rule=data["rule"], severity=data["severity"],
            strikes_counted=data["strikes_counted"], counted_posts=tuple(data["counted_posts"]),
            factors=tuple((f["name"], f["title"], f["raises"]) for f in data["factors"]),
            holds=tuple((h["name"], h["reason"]) for h in data["holds"]),
            reviewers_needed=data["reviewers_needed"], status=data["status"], path=tuple(data["path"]),
        )
