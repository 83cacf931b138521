"""Measure a policy on labelled posts: precision, recall, F1 and false alarms.

Pure: the command line reads the files and feeds (label, verdict) pairs in.
A label maps to the *targets* it should be flagged in: categories (``--map 博彩=illegal``)
or rule tags (``--map 欺诈=tag:fraud``), or to none when it marks a harmless post
(``--map 0=-``).  A post counts as flagged when an enforced rule fired (decision review or
reject).

A :class:`Split` holds back part of the posts (by a seeded hash of the post id, so a post keeps
its part whatever the order of the files): the author tunes on the rest and reads the held-back
part's figures only, to see whether the rules generalize or were fitted to the posts they saw.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from policy.model.verdict import ALLOW, REJECT, Verdict

HARMLESS = "-"
TAG = "tag:"
"""A target that names a rule tag rather than a category."""
NOTHING = "—"
"""The confusion table's column for posts no enforced rule flagged."""


@dataclass(frozen=True)
class Split:
    """Which posts are held back: a share (``holdout``) or one of ``folds`` folds (``fold``, from 1)."""

    seed: int = 0
    holdout: float | None = None
    folds: int | None = None
    fold: int | None = None

    def __post_init__(self) -> None:
        if (self.holdout is None) == (self.folds is None):
            raise ValueError("a split holds back a share (holdout) or a fold of k folds, not both")
        if self.holdout is not None and not 0 < self.holdout < 1:
            raise ValueError(f"the held-back share must lie between 0 and 1, not {self.holdout:g}")
        if self.folds is not None and (self.folds < 2 or self.fold is None or not 1 <= self.fold <= self.folds):
            raise ValueError(f"--fold must be one of 1..{self.folds} of at least 2 folds")

    def position(self, post_id: str) -> float:
        """The post's place in [0, 1), the same for the same seed and id on every machine."""
        digest = hashlib.sha256(f"{self.seed}\0{post_id}".encode("utf-8", "surrogatepass")).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def held_back(self, post_id: str) -> bool:
        place = self.position(post_id)
        if self.holdout is not None:
            return place < self.holdout
        assert self.folds is not None and self.fold is not None
        return int(place * self.folds) == self.fold - 1

    def describe(self) -> str:
        if self.holdout is not None:
            return f"{self.holdout * 100:g}% held back (seed {self.seed})"
        return f"fold {self.fold} of {self.folds} held back (seed {self.seed})"

    def as_dict(self) -> dict:
        return {"seed": self.seed, "holdout": self.holdout, "folds": self.folds, "fold": self.fold}


def resolve_targets(mapping: dict[str, frozenset[str]], categories: Iterable[str],
                    rule_tags: Iterable[str]) -> dict[str, frozenset[str]]:
    """Targets as the report counts them: a category by its name, a rule tag as ``tag:NAME``.  A bare
    name is a category when the policy has one of that name, else a tag some rule carries.
    Raises ValueError naming a target that is neither."""
    categories, rule_tags = set(categories), set(rule_tags)
    resolved: dict[str, frozenset[str]] = {}
    for label, targets in mapping.items():
        out = set()
        for target in targets:
            if target == "*" or target in categories:
                out.add(target)
            elif target.startswith(TAG) and target[len(TAG):] in rule_tags:
                out.add(target)
            elif not target.startswith(TAG) and target in rule_tags:
                out.add(TAG + target)
            else:
                name = target[len(TAG):] if target.startswith(TAG) else target
                raise ValueError(f"--map {label}={target}: the policy has no category"
                                 f"{'' if target.startswith(TAG) else ' or rule tag'} named {name!r} "
                                 f"(categories: {', '.join(sorted(categories))})")
        resolved[label] = frozenset(out)
    return resolved


def parse_mapping(items: list[str]) -> dict[str, frozenset[str]]:
    """``["1=unfriendly", "0=-", "黑产广告=spam,fraud"]`` -> label -> categories."""
    mapping: dict[str, frozenset[str]] = {}
    for item in items:
        label, sep, target = item.partition("=")
        if not sep or not label or not target:
            raise ValueError(f"--map takes LABEL=CATEGORY[,CATEGORY] or LABEL=-, not {item!r}")
        mapping[label] = frozenset() if target == HARMLESS else frozenset(t for t in target.split(",") if t)
    return mapping


DEFAULT_MAPPING = {"1": frozenset({"*"}), "true": frozenset({"*"}), "0": frozenset(), "false": frozenset()}
"""Without --map: 1/true is harmful (any category), 0/false harmless."""


@dataclass
class Sample:
    post_id: str
    label: str
    text: str
    rules: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if not p or not r:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)


@dataclass
class RuleScore:
    """What one rule flagged: posts, of them harmful, harmful in the rule's own targets, harmless."""

    fired: int = 0
    harmful: int = 0
    on_target: int = 0
    harmless: int = 0
    rejected: int = 0

    @property
    def precision(self) -> float | None:
        """The share of its flags on harmful posts (of the labels given: the set's mix of harmful
        and harmless posts sets how far this stands for a platform's real stream)."""
        return self.harmful / self.fired if self.fired else None

    def as_dict(self) -> dict:
        return {"fired": self.fired, "harmful": self.harmful, "on_target": self.on_target,
                "harmless": self.harmless, "rejected": self.rejected, "precision": self.precision}


@dataclass
class Report:
    rule_targets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Rule id -> the tags its violations count for (as ``tag:NAME``), besides its category."""
    mapped: frozenset[str] = frozenset()
    """The targets some label maps to: only these tags are scored."""
    posts: int = 0
    categories: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    any_harm: Score = field(default_factory=Score)
    """Harmful vs harmless, whatever the category."""
    labels: Counter = field(default_factory=Counter)
    labels_flagged: Counter = field(default_factory=Counter)
    labels_in_category: Counter = field(default_factory=Counter)
    harmless: int = 0
    harmless_flagged: int = 0
    harmless_rejected: int = 0
    false_alarm_rules: Counter = field(default_factory=Counter)
    false_alarm_samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    miss_samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    samples: int = 5
    confusion: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    """Label -> how many of its posts each category flagged (:data:`NOTHING`: none did)."""
    rules: dict[str, RuleScore] = field(default_factory=lambda: defaultdict(RuleScore))
    harmful_rejected: int = 0
    """Harmful posts the engine rejected: decided without a human."""
    harmful_rejected_held: int = 0
    """... of which the sanction still waits for a reviewer (a hold of the ladder)."""
    harmful_reviewed: int = 0
    """Harmful posts flagged for review only: a human decides."""

    def targets(self, rule: str, category: str) -> frozenset[str]:
        """A violation's targets: its category, and the tags of its rule that some label maps to."""
        tags = self.rule_targets.get(rule)
        return frozenset({category} | (tags & self.mapped)) if tags else frozenset({category})

    def add(self, label: str, wanted: frozenset[str], verdict: Verdict, text: str) -> None:
        self.posts += 1
        flagged = verdict.decision != ALLOW and bool(verdict.violations)
        got = {t for v in verdict.violations for t in self.targets(v.rule, v.category)}
        harmful = bool(wanted)
        self.labels[label] += 1
        row = self.confusion[label]
        if flagged:
            self.labels_flagged[label] += 1
            row.update({v.category for v in verdict.violations})
        else:
            row[NOTHING] += 1
        rejected = verdict.decision == REJECT
        for v in verdict.violations if flagged else ():
            score = self.rules[v.rule]
            score.fired += 1
            score.harmful += harmful
            score.harmless += not harmful
            score.on_target += harmful and ("*" in wanted or not self.targets(v.rule, v.category).isdisjoint(wanted))
            score.rejected += v.action == REJECT
        if harmful and flagged:
            if rejected:
                self.harmful_rejected += 1
                sanction = verdict.sanction
                self.harmful_rejected_held += sanction is not None and sanction.status == "pending_review"
            else:
                self.harmful_reviewed += 1
        any_category = "*" in wanted
        if harmful and (any_category and flagged or got & wanted):
            self.labels_in_category[label] += 1
        if harmful:
            if flagged:
                self.any_harm.tp += 1
            else:
                self.any_harm.fn += 1
                if len(self.miss_samples[label]) < self.samples:
                    self.miss_samples[label].append(Sample(verdict.post_id, label, text))
        else:
            self.harmless += 1
            if flagged:
                self.any_harm.fp += 1
                self.harmless_flagged += 1
                self.harmless_rejected += verdict.decision == "reject"
                for v in verdict.violations:
                    self.false_alarm_rules[v.rule] += 1
                    if len(self.false_alarm_samples[v.rule]) < self.samples:
                        self.false_alarm_samples[v.rule].append(Sample(
                            verdict.post_id, label, text, (v.rule,),
                            tuple(e.text or f"{e.field}={e.value}" for e in v.evidence)))
        if any_category:
            return
        for category in wanted | got:
            score = self.categories[category]
            if category in wanted and category in got:
                score.tp += 1
            elif category in wanted:
                score.fn += 1
            else:
                score.fp += 1

    def as_dict(self) -> dict:
        def score(s: Score) -> dict:
            return {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": s.precision, "recall": s.recall, "f1": s.f1}

        return {
            "posts": self.posts,
            "harmful_vs_harmless": score(self.any_harm),
            "harmless": self.harmless,
            "harmless_flagged": self.harmless_flagged,
            "harmless_flagged_share": self.harmless_flagged / self.harmless if self.harmless else None,
            "harmless_rejected": self.harmless_rejected,
            "categories": {c: score(s) for c, s in sorted(self.categories.items())},
            "labels": {label: {"posts": n, "flagged": self.labels_flagged[label],
                               "flagged_in_mapped_category": self.labels_in_category[label]}
                       for label, n in sorted(self.labels.items())},
            "false_alarms_by_rule": dict(self.false_alarm_rules.most_common()),
            "confusion": {label: dict(sorted(row.items())) for label, row in sorted(self.confusion.items())},
            "rules": {rule: s.as_dict() for rule, s in sorted(self.rules.items())},
            "harmful_decided": {"rejected": self.harmful_rejected, "rejected_sanction_held": self.harmful_rejected_held,
                                "reviewed": self.harmful_reviewed, "flagged": self.any_harm.tp,
                                "posts": self.any_harm.tp + self.any_harm.fn},
        }


def _pct(value: float | None) -> str:
    return "   —  " if value is None else f"{value * 100:5.1f}%"


def render(report: Report, mapping: dict[str, frozenset[str]], samples: bool = True) -> str:
    """The report as text; without ``samples`` (the held-back part) only figures, no posts."""
    out = [f"{report.posts} posts"]
    if report.harmless:
        share = report.harmless_flagged / report.harmless
        out.append(f"harmless posts flagged: {report.harmless_flagged} of {report.harmless} ({share * 100:.2f}%), "
                   f"{report.harmless_rejected} of them rejected")
    a = report.any_harm
    if a.tp + a.fn:
        out.append(f"harmful vs harmless, any category: precision {_pct(a.precision)}  recall {_pct(a.recall)}  "
                   f"F1 {_pct(a.f1)}")
    if report.categories:
        out.append("")
        out.append(f"{'category':<16} {'precision':>9} {'recall':>8} {'F1':>8}   tp / fp / fn")
        for category, s in sorted(report.categories.items()):
            out.append(f"{category:<16} {_pct(s.precision):>9} {_pct(s.recall):>8} {_pct(s.f1):>8}   "
                       f"{s.tp} / {s.fp} / {s.fn}")
        out.append("  (precision counts every post not labelled with the category as a false positive)")
    out.append("")
    out.append(f"{'label':<12} {'posts':>6} {'flagged':>8} {'in its category':>16}")
    for label, n in sorted(report.labels.items()):
        wanted = mapping.get(label, frozenset())
        in_cat = f"{report.labels_in_category[label] / n * 100:5.1f}%" if wanted else "  —"
        out.append(f"{label:<12} {n:>6} {report.labels_flagged[label] / n * 100:7.1f}% {in_cat:>16}"
                   + ("" if wanted else "   (harmless)"))
    harmful = report.any_harm.tp + report.any_harm.fn
    if harmful:
        out.append("")
        out.append(f"harmful posts decided without a human (rejected): {report.harmful_rejected} of {harmful} "
                   f"({report.harmful_rejected / harmful * 100:.1f}%; the sanction of {report.harmful_rejected_held} "
                   f"of them still waits for a reviewer); sent to review: {report.harmful_reviewed} "
                   f"({report.harmful_reviewed / harmful * 100:.1f}%)")
    out.extend(_confusion_lines(report))
    out.extend(_rule_lines(report))
    if report.false_alarm_rules:
        out.append("")
        out.append("false alarms on harmless posts, by rule:")
        for rule, count in report.false_alarm_rules.most_common():
            out.append(f"  {count:5d}  {rule}")
            for sample in report.false_alarm_samples[rule] if samples else ():
                out.append(f"         {sample.post_id}: {_clip(sample.text)}   ← {'、'.join(sample.evidence)}")
    if report.miss_samples and samples:
        out.append("")
        out.append("missed harmful posts, by label:")
        for label, samples in sorted(report.miss_samples.items()):
            missed = report.labels[label] - report.labels_flagged[label]
            out.append(f"  {label}: {missed} missed")
            for sample in samples:
                out.append(f"         {sample.post_id}: {_clip(sample.text)}")
    return "\n".join(out)


def _confusion_lines(report: Report) -> list[str]:
    """Which category flagged the posts of each label (a post counts once per category)."""
    if not report.confusion:
        return []
    columns = sorted({c for row in report.confusion.values() for c in row if c != NOTHING}) + [NOTHING]
    width = max(len(c) for c in columns) + 1
    lines = ["", "which categories flagged each label (posts; a post flagged by two categories counts in both):",
             f"  {'label':<12}" + "".join(f"{c:>{width}}" for c in columns)]
    for label, row in sorted(report.confusion.items()):
        lines.append(f"  {label:<12}" + "".join(f"{row.get(c, 0):>{width}}" for c in columns))
    return lines


def _rule_lines(report: Report) -> list[str]:
    """Per rule: how often it flagged, how often on a harmful post (its precision on this set), on
    a post of its own target, on a harmless post, and its action."""
    if not report.rules:
        return []
    lines = ["", "per rule (flagged posts; precision = share of them harmful; the last figure: share of all "
                 "harmless posts it flagged):",
             f"  {'rule':<44} {'flagged':>7} {'harmful':>8} {'on target':>9} {'harmless':>8} {'precision':>9} "
             f"{'of harmless':>11}  action"]
    for rule, s in sorted(report.rules.items(), key=lambda item: (-item[1].fired, item[0])):
        action = "reject" if s.rejected else "review"
        rate = f"{s.harmless / report.harmless * 100:10.2f}%" if report.harmless else f"{'—':>11}"
        lines.append(f"  {rule:<44} {s.fired:>7} {s.harmful:>8} {s.on_target:>9} {s.harmless:>8} "
                     f"{_pct(s.precision):>9} {rate}  {action}")
    return lines


def _clip(text: str, width: int = 70) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
