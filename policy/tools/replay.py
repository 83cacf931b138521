"""Replay a stream of posts against an old and a new policy: what would the change do?

Work is split into chunks of lines checked in worker processes, one per core;
each worker loads both policies once and sends back only counts and a few
samples, so memory stays flat however long the stream.
"""

from __future__ import annotations

import json
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from policy.engine.pipeline import Engine
from policy.model.post import Post, PostError

CHUNK = 2000


@dataclass
class Change:
    post_id: str
    text: str
    old: str
    new: str
    old_rules: tuple[str, ...]
    new_rules: tuple[str, ...]


@dataclass
class ReplayReport:
    old_version: str = ""
    new_version: str = ""
    posts: int = 0
    bad_lines: int = 0
    transitions: Counter = field(default_factory=Counter)
    """(old decision, new decision) -> posts."""
    rules_old: Counter = field(default_factory=Counter)
    rules_new: Counter = field(default_factory=Counter)
    gained: Counter = field(default_factory=Counter)
    """Rule -> posts it fires on under the new policy only."""
    lost: Counter = field(default_factory=Counter)
    categories_old: Counter = field(default_factory=Counter)
    categories_new: Counter = field(default_factory=Counter)
    samples: dict[str, list[Change]] = field(default_factory=dict)
    """'+rule' / '-rule' -> a few posts where the rule started / stopped firing."""
    precision: dict[str, dict] = field(default_factory=dict)
    """Changed rule -> what reviewers decided about its past sanctions (from the ledger)."""

    @property
    def changed(self) -> int:
        return sum(n for (old, new), n in self.transitions.items() if old != new)

    def merge(self, other: ReplayReport, limit: int) -> None:
        self.posts += other.posts
        self.bad_lines += other.bad_lines
        for name in ("transitions", "rules_old", "rules_new", "gained", "lost", "categories_old", "categories_new"):
            getattr(self, name).update(getattr(other, name))
        for key, items in other.samples.items():
            kept = self.samples.setdefault(key, [])
            kept.extend(items[: max(limit - len(kept), 0)])

    def as_dict(self) -> dict:
        return {
            "old_version": self.old_version, "new_version": self.new_version, "posts": self.posts,
            "bad_lines": self.bad_lines, "changed": self.changed,
            "transitions": {f"{o}->{n}": c for (o, n), c in sorted(self.transitions.items())},
            "rules": {r: {"old": self.rules_old[r], "new": self.rules_new[r], "gained": self.gained[r],
                          "lost": self.lost[r], "precision": self.precision.get(r)}
                      for r in sorted(set(self.rules_old) | set(self.rules_new))},
            "categories": {c: {"old": self.categories_old[c], "new": self.categories_new[c]}
                           for c in sorted(set(self.categories_old) | set(self.categories_new))},
            "samples": {k: [c.__dict__ for c in v] for k, v in sorted(self.samples.items())},
        }


def replay_lines(old: Engine, new: Engine, lines: Iterable[str], samples: int) -> ReplayReport:
    """Check each JSON line with both engines (one process)."""
    report = ReplayReport(old.version, new.version)
    for line in lines:
        if not line.strip():
            continue
        try:
            post = Post.from_dict(json.loads(line))
        except (json.JSONDecodeError, PostError):
            report.bad_lines += 1
            continue
        _compare(report, old, new, post, samples)
    return report


def _compare(report: ReplayReport, old: Engine, new: Engine, post: Post, samples: int) -> None:
    before, after = old.check(post), new.check(post)
    report.posts += 1
    report.transitions[(before.decision, after.decision)] += 1
    old_rules = {v.rule for v in before.violations}
    new_rules = {v.rule for v in after.violations}
    report.rules_old.update(old_rules)
    report.rules_new.update(new_rules)
    report.categories_old.update({v.category for v in before.violations})
    report.categories_new.update({v.category for v in after.violations})
    for rule in new_rules - old_rules:
        report.gained[rule] += 1
        _sample(report, "+" + rule, post, before, after, samples)
    for rule in old_rules - new_rules:
        report.lost[rule] += 1
        _sample(report, "-" + rule, post, before, after, samples)


def _sample(report: ReplayReport, key: str, post: Post, before, after, samples: int) -> None:
    kept = report.samples.setdefault(key, [])
    if len(kept) < samples:
        text = (post.text("title") + " " + post.text("body")).strip()
        kept.append(Change(post.id, text[:200], before.decision, after.decision,
                           tuple(v.rule for v in before.violations), tuple(v.rule for v in after.violations)))


# ---- running on every core --------------------------------------------------------------------

_ENGINES: tuple[Engine, Engine] | None = None


def _init(old_path: str, new_path: str, cache_dir: str | None) -> None:
    global _ENGINES
    _ENGINES = (Engine.load(old_path, cache_dir=cache_dir), Engine.load(new_path, cache_dir=cache_dir))


def _work(job: tuple[list[str], int]) -> ReplayReport:
    assert _ENGINES is not None
    lines, samples = job
    return replay_lines(*_ENGINES, lines, samples)


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def replay(old_path: str | Path, new_path: str | Path, lines: Iterable[str], samples: int = 5,
           workers: int | None = None, cache_dir: str | None = None,
           progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Replay ``lines`` (JSON posts) against both policies, on ``workers`` processes (default: every core)."""
    workers = workers or os.cpu_count() or 1
    old, new = Engine.load(old_path, cache_dir=cache_dir), Engine.load(new_path, cache_dir=cache_dir)
    report = ReplayReport(old.version, new.version)
    if workers == 1:
        for chunk in _chunks(lines, CHUNK):
            report.merge(replay_lines(old, new, chunk, samples), samples)
            if progress:
                progress(report.posts + report.bad_lines)
        return report
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(str(old_path), str(new_path), cache_dir)) as pool:
        pending: deque = deque()
        for chunk in _chunks(lines, CHUNK):
            pending.append(pool.submit(_work, (chunk, samples)))
            if len(pending) >= 2 * workers:  # a few chunks in flight: memory stays flat
                _collect(report, pending.popleft().result(), samples, progress)
        while pending:  # in submission order: samples are the earliest posts
            _collect(report, pending.popleft().result(), samples, progress)
    return report


def _collect(report: ReplayReport, part: ReplayReport, samples: int, progress: Callable[[int], None] | None) -> None:
    report.merge(part, samples)
    if progress:
        progress(report.posts + report.bad_lines)
