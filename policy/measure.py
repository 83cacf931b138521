"""Measure a policy on labelled posts: precision, recall, F1 and false alarms.

Pure: the command line reads the files and feeds (label, verdict) pairs in.
A label maps to the categories it should be flagged in (``--map 博彩=illegal``),
or to none when it marks a harmless post (``--map 0=-``).  A post counts as
flagged when an enforced rule fired (decision review or reject).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .verdict import ALLOW, Verdict

HARMLESS = "-"


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
class Report:
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

    def add(self, label: str, wanted: frozenset[str], verdict: Verdict, text: str) -> None:
        self.posts += 1
        flagged = verdict.decision != ALLOW and bool(verdict.violations)
        got = {v.category for v in verdict.violations}
        harmful = bool(wanted)
        self.labels[label] += 1
        if flagged:
            self.labels_flagged[label] += 1
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
        }


def _pct(value: float | None) -> str:
    return "   —  " if value is None else f"{value * 100:5.1f}%"


def render(report: Report, mapping: dict[str, frozenset[str]]) -> str:
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
    if report.false_alarm_rules:
        out.append("")
        out.append("false alarms on harmless posts, by rule:")
        for rule, count in report.false_alarm_rules.most_common():
            out.append(f"  {count:5d}  {rule}")
            for sample in report.false_alarm_samples[rule]:
                out.append(f"         {sample.post_id}: {_clip(sample.text)}   ← {'、'.join(sample.evidence)}")
    if report.miss_samples:
        out.append("")
        out.append("missed harmful posts, by label:")
        for label, samples in sorted(report.miss_samples.items()):
            missed = report.labels[label] - report.labels_flagged[label]
            out.append(f"  {label}: {missed} missed")
            for sample in samples:
                out.append(f"         {sample.post_id}: {_clip(sample.text)}")
    return "\n".join(out)


def _clip(text: str, width: int = 70) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
