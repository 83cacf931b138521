"""The engine: load a policy once, then check posts inline.

    engine = Engine.load()                 # the bundled convention
    verdict = engine.check({"id": "p1", "body": "你就是个傻逼"})
    verdict.decision                       # "reject"

``Engine`` holds an immutable :class:`CompiledPolicy`; ``check`` keeps all of
its state in a per-call context, so one engine serves many threads.
"""

from __future__ import annotations

import functools
import os
import random
import string
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from policy.compiler.build import Built, build
from policy.compiler.compiled import CompiledPolicy, CompiledRule
from policy.compiler.trigger import present_facts
from policy.engine.cache import _cache_key, _load_cached, _store_cached
from policy.lang.diagnostics import PolicyError
from policy.lang.resources import bundled_convention
from policy.lang.sources import SourceError, read_policy_files
from policy.model.hits import ContactHit, FactHit, Hit, RegexHit
from policy.model.post import Post, PostError
from policy.model.sanction import Strike
from policy.model.verdict import ALLOW, REJECT, REVIEW, Evidence, Verdict, Violation
from policy.runtime.evaluate import Context
from policy.runtime.match import raw_signals
from policy.sanction.ladder import decide

DEFAULT_REGEX_TIMEOUT = 0.05
"""Seconds one regex may spend on one field of one post before it is cut off."""

DEFAULT_MAX_CHARS = 200_000
"""Posts longer than this (all text fields together) go to review unscanned."""

DEFAULT_REGEX_BUDGET = 0.25
"""Seconds all regexes together may spend on one post; past it, the rest count as timed out."""

DEFAULT_MAX_EVIDENCE = 100
"""Evidence kept per violation (the first by position); ``evidence_total`` gives the count."""


# ---- the on-disk cache ---------------------------------------------------------------


# ---- the engine ---------------------------------------------------------------------------

class Engine:
    def __init__(self, policy: CompiledPolicy, regex_timeout: float = DEFAULT_REGEX_TIMEOUT,
                 max_chars: int = DEFAULT_MAX_CHARS, regex_budget: float = DEFAULT_REGEX_BUDGET,
                 max_evidence: int = DEFAULT_MAX_EVIDENCE):
        self.policy = policy
        self.regex_timeout = regex_timeout
        self.max_chars = max_chars
        self.regex_budget = regex_budget
        self.max_evidence = max_evidence

    @classmethod
    def load(cls, path: str | Path | None = None, cache_dir: str | Path | None = None, **options: Any) -> Engine:
        """Load a policy folder or file (the bundled convention by default).

        With ``cache_dir``, a compiled policy is reused while its rule files and
        term files are unchanged.  Raises PolicyError (with every diagnostic) when
        the policy has errors and SourceError when it cannot be read.
        """
        if cache_dir is not None:
            sources = read_policy_files(path if path is not None else bundled_convention())
            cache_file = Path(cache_dir) / f"{_cache_key(sources)}.pickle"
            cached = _load_cached(cache_file)
            if cached is not None:
                return cls(cached, **options)
        built = build(path)
        if built.compiled is None:
            raise PolicyError(built.diagnostics, built.texts)
        if cache_dir is not None:
            _store_cached(cache_file, built)
        return cls(built.compiled, **options)

    @property
    def version(self) -> str:
        return self.policy.version

    def check(self, post: Post | dict | str, *, checked_at: datetime | None = None,
              history: Sequence[Strike] = ()) -> Verdict:
        """Check one post.  Accepts a Post, the pipeline's dict, or a bare body text.

        ``history`` is the author's prior strikes (the ledger supplies them); with
        a ladder in the policy the verdict carries the sanction it leads to.
        Raises PostError when a dict has values of the wrong type.
        """
        if isinstance(post, str):
            post = Post("-", {"body": post})
        elif isinstance(post, dict):
            post = Post.from_dict(post)
        elif not isinstance(post, Post):
            raise PostError(f"cannot check a {type(post).__name__}; pass a Post, a dict or a str")
        size = sum(len(t) for t in post.texts.values())
        ctx = Context(self.policy, post, self.regex_timeout, regex_budget=self.regex_budget)
        if size > self.max_chars:
            ctx.warnings.append(f"post has {size} characters, over the limit of {self.max_chars}; not scanned")
            return self._verdict(post, ctx, [], [], checked_at, history)
        enforced: list[Violation] = []
        shadow: list[Violation] = []
        for index in self.policy.triggers.candidates(self.scan_signals(ctx)):
            rule = self.policy.rules[index]
            if rule.condition.test(ctx):
                violation = self._violation(rule, ctx, post)
                (shadow if rule.mode == "shadow" else enforced).append(violation)
        return self._verdict(post, ctx, enforced, shadow, checked_at, history)

    def scan_signals(self, ctx: Context) -> set[int]:
        """Scan the post's text fields (raw automaton hits kept in ``ctx``) and return the
        trigger signals present: lexicons hit, regexes whose literals are there, facts."""
        triggers = self.policy.triggers
        post = ctx.post
        present = present_facts(triggers, post)
        for name in post.texts.keys() & triggers.lexicon_signals.keys():
            raw = ctx.scan(name)
            if raw:
                present.update(raw_signals(self.policy, name, raw))
        for name in post.texts.keys() & triggers.regex_signals.keys():
            signals = triggers.regex_signals[name]
            present.update(signals[regex] for regex in ctx.regexes_possible(name) & signals.keys())
        return present

    def _verdict(self, post: Post, ctx: Context, enforced: list[Violation], shadow: list[Violation],
                 checked_at: datetime | None, history: Sequence[Strike]) -> Verdict:
        if any(v.action == REJECT for v in enforced):
            decision = REJECT
        elif enforced or ctx.warnings:
            decision = REVIEW
        else:
            decision = ALLOW
        when, stamp, id_prefix = _CLOCK.now() if checked_at is None else _stamp(checked_at)
        sanction = decide(self.policy, enforced, shadow, ctx, history, when)
        return Verdict(
            verdict_id=id_prefix + _random_id_part(), post_id=post.id, user_id=post.user_id, checked_at=stamp,
            policy_name=self.policy.name, policy_version=self.policy.version, decision=decision,
            violations=tuple(enforced), shadow=tuple(shadow), warnings=tuple(ctx.warnings), sanction=sanction,
        )

    def _violation(self, rule: CompiledRule, ctx: Context, post: Post) -> Violation:
        found: list = []
        rule.condition.collect(ctx, found)
        evidence: list[Evidence] = []
        seen = set()
        for item in found:
            if item in seen:
                continue
            seen.add(item)
            evidence.append(self._evidence(item, post))
        evidence.sort(key=lambda e: (e.field, e.start if e.start is not None else -1, e.end or 0, e.kind))
        total = len(evidence)
        del evidence[self.max_evidence:]
        return Violation(
            rule=rule.id, title=rule.title, category=rule.category, category_title=rule.category_title,
            clauses=rule.clauses, severity=rule.severity, mode=rule.mode, action=rule.action,
            explanation=_explain(rule, evidence, total), evidence=tuple(evidence), source=rule.source,
            evidence_total=total,
        )

    def _evidence(self, item: Hit | RegexHit | ContactHit | FactHit, post: Post) -> Evidence:
        if isinstance(item, Hit):
            lexicon = self.policy.lexicons[item.lexicon]
            return Evidence(item.field, "lexicon", item.start, item.end, post.text(item.field)[item.start:item.end],
                            lexicon=lexicon.name, term=item.term, normalized=item.key, tags=tuple(sorted(item.tags)))
        if isinstance(item, RegexHit):
            return Evidence(item.field, "regex", item.start, item.end, post.text(item.field)[item.start:item.end],
                            pattern=item.pattern, normalized=item.normalized)
        if isinstance(item, ContactHit):
            return Evidence(item.field, "contact", item.start, item.end, post.text(item.field)[item.start:item.end],
                            term=item.kind, value=item.value)
        return Evidence(item.field, "fact", value=item.value)


_PLACEHOLDER_VALUES: dict[str, Callable[[CompiledRule, list[Evidence], int], str]] = {
    "evidence": lambda rule, evidence, total: (
        "、".join(dict.fromkeys(f"「{e.text}」" if e.kind != "fact" else f"{e.field}={_fmt(e.value)}"
                               for e in evidence)) or "—") + (f" 等共 {total} 处" if total > len(evidence) else ""),
    "terms": lambda rule, evidence, total: "、".join(sorted({e.term for e in evidence if e.term})) or "—",
    "count": lambda rule, evidence, total: str(sum(1 for e in evidence if e.kind != "fact") + total - len(evidence)),
    "rule": lambda rule, evidence, total: rule.id,
    "title": lambda rule, evidence, total: rule.title,
    "category": lambda rule, evidence, total: rule.category_title,
    "clauses": lambda rule, evidence, total: "；".join(f"{cid} {text}" for cid, text in rule.clauses),
}
"""What each placeholder of an explanation stands for (the checker accepts these names only)."""


@functools.lru_cache(maxsize=4096)
def _placeholders(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(template) if name))


def _explain(rule: CompiledRule, evidence: list[Evidence], total: int) -> str:
    """The rule's explanation, with only the placeholders it uses worked out."""
    return rule.explain.format(**{name: _PLACEHOLDER_VALUES[name](rule, evidence, total)
                                  for name in _placeholders(rule.explain)})


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_ID_BITS = random.Random()
"""The random part of verdict ids: seeded from the OS once per process (and again in a forked
child, so that two workers never share a sequence); a system call per verdict costs more."""
os.register_at_fork(after_in_child=_ID_BITS.seed)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


def _stamp(when: datetime) -> tuple[datetime, str, str]:
    """(``when``, as the verdict's ISO text, the first 14 characters of an id made then: its
    milliseconds since the epoch, 48 bits in hex, the rest of the id being random)."""
    aware = when if when.tzinfo is not None else when.astimezone()  # naive: local time, as timestamp() reads it
    millis = f"{(aware - _EPOCH) // _MILLISECOND & ((1 << 48) - 1):012x}"  # integer arithmetic: exact
    return when, when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), f"{millis[:8]}-{millis[8:]}-"


def _random_id_part() -> str:
    """The last 18 characters of an id: 80 random bits."""
    bits = f"{_ID_BITS.getrandbits(80):020x}"
    return f"{bits[:4]}-{bits[4:8]}-{bits[8:]}"


class _Clock:
    """The time of a check, as :func:`_stamp` gives it, worked out once per millisecond: a
    verdict's time is kept to the millisecond, and formatting it costs more than the rest of
    a clean post's verdict.  Thread-safe: the cached value is one tuple, replaced whole."""

    def __init__(self) -> None:
        self._last: tuple[int, tuple[datetime, str, str]] = (-1, (datetime.now(timezone.utc), "", ""))

    def now(self) -> tuple[datetime, str, str]:
        millis = time.time_ns() // 1_000_000
        last = self._last
        if last[0] != millis:
            last = self._last = (millis, _stamp(_EPOCH + millis * _MILLISECOND))
        return last[1]


_CLOCK = _Clock()


def load(path: str | Path | None = None, **options: Any) -> Engine:
    """Shorthand for :meth:`Engine.load`."""
    return Engine.load(path, **options)


__all__ = ["Engine", "build", "load", "Built", "PolicyError", "SourceError", "PostError"]
