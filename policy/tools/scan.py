"""Checking a stream of posts: a verdict line for each post, and the tally a scan's summary gives.

The same code runs in ``policy scan`` and in every task of a scan on a cluster, so a shard checked
anywhere gives the lines and counts one process gives for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from policy.engine.pipeline import Engine
from policy.model.lines import PostLine
from policy.model.post import Post, PostError
from policy.model.verdict import Verdict


@dataclass
class ScanTally:
    """What a scan's summary counts."""

    decisions: Counter = field(default_factory=Counter)
    rules: Counter = field(default_factory=Counter)
    bad: int = 0
    already: int = 0
    """Posts a recording scan skipped: recorded before under this policy version."""

    def count(self, verdict: Verdict) -> None:
        self.decisions[verdict.decision] += 1
        self.rules.update(v.rule for v in verdict.violations)

    def merge(self, other: ScanTally) -> None:
        self.decisions.update(other.decisions)
        self.rules.update(other.rules)
        self.bad += other.bad
        self.already += other.already

    def summary(self) -> list[str]:
        total = sum(self.decisions.values())
        lines = [f"{total} posts: " + ", ".join(f"{self.decisions[d]} {d}" for d in ("allow", "review", "reject"))
                 + (f"; {self.already} already recorded under this policy version, skipped" if self.already else "")
                 + (f"; {self.bad} bad line(s) skipped" if self.bad else "")]
        lines += [f"  {count:4d}  {rule}" for rule, count in self.rules.most_common()]
        return lines


def read_post(line: PostLine) -> tuple[Post | None, str | None]:
    """The line's post, or the message saying why it is skipped."""
    name, number, data, problem = line
    try:
        if problem:
            raise PostError(problem)
        return Post.from_dict(data), None
    except PostError as error:
        return None, f"{name}:{number}: skipped: {error}"


def verdict_line(verdict: Verdict, post: Post, fmt: str, text: str | None = None) -> str:
    """The verdict as a scan prints it: its JSON (``text`` when already made), or a human line."""
    if fmt == "json":
        return text if text is not None else verdict.to_json()
    body = (post.text("title") + " | " if post.text("title") else "") + post.text("body")
    body = body.replace("\n", " ")
    if len(body) > 48:
        body = body[:47] + "…"
    why = "; ".join(f"{v.rule} {'、'.join(repr(e.text) for e in v.evidence if e.text)}".strip()
                    for v in verdict.violations)
    return f"{verdict.decision:<6} {verdict.post_id:<8} {body}" + (f"\n       ↳ {why}" if why else "")


@dataclass
class ScanPart:
    """A run of lines checked: the lines to print, the messages for the lines skipped, the tally."""

    lines: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    tally: ScanTally = field(default_factory=ScanTally)


def scan_lines(engine: Engine, lines: Iterable[PostLine], fmt: str) -> ScanPart:
    """Check every post of ``lines``, keeping what a scan prints."""
    part = ScanPart()
    for line in lines:
        post, message = read_post(line)
        if post is None:
            part.tally.bad += 1
            part.messages.append(message or "")
            continue
        verdict = engine.check(post)
        part.tally.count(verdict)
        part.lines.append(verdict_line(verdict, post, fmt))
    return part
