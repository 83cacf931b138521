"""The penalty ladder: from a verdict and the author's prior strikes to a sanction.

Pure: the ledger supplies the strikes and records the result.  The starting step
comes from the deciding violation's severity (or the rule's own `sanction`
step); each prior strike within the escalation window raises it one step;
each aggravating factor that applies raises it by its amount, once; the result
is capped at the last step.  A hold whose condition is true makes the sanction
wait for human review, and a confirmation says how many distinct reviewers it
takes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from policy.model.post import Post
from policy.model.sanction import ACTIVE, PENDING, SHADOW, Sanction, Strike
from policy.runtime.evaluate import Context

if TYPE_CHECKING:
    from policy.compiler.compiled import CompiledLadder, CompiledPolicy, CompiledRule
    from policy.model.verdict import Violation


def counting_strikes(ladder: CompiledLadder, history: list[Strike] | tuple[Strike, ...], post_id: str,
                     now: datetime) -> list[Strike]:
    """Prior strikes that raise the step: other posts, inside both windows."""
    windows = [d for d in (ladder.escalate_days, ladder.expire_days) if d is not None]
    oldest = now - timedelta(days=min(windows)) if windows else None
    if ladder.escalate_days is None:
        return []
    return [s for s in history if s.post_id != post_id and s.at <= now and (oldest is None or s.at > oldest)]


def decide(policy: CompiledPolicy, enforced: list[Violation], shadow: list[Violation], ctx: Context,
           history: list[Strike] | tuple[Strike, ...], now: datetime) -> Sanction | None:
    ladder = policy.ladder
    if ladder is None or not (enforced or shadow):
        return None
    in_shadow = not enforced
    rules = policy.rule_by_id
    candidates = enforced or shadow

    def weight(v: Violation) -> tuple[int, int]:
        rule = rules[v.rule]
        return (_start(ladder, rule), v.severity)

    deciding = max(candidates, key=weight)  # the heaviest starting point; first on ties
    rule = rules[deciding.rule]
    level = _start(ladder, rule)
    origin = (f"rule {rule.id} sanctions directly at" if rule.sanction_step is not None
              else f"severity {rule.severity} starts at")
    path = [f"{origin} {ladder.steps[level].name} ({ladder.steps[level].title})"]
    counted = counting_strikes(ladder, history, ctx.post.id, now)
    if counted:
        level += len(counted)
        path.append(f"{len(counted)} prior strike(s) within {ladder.escalate_days:g} days raise it "
                    f"{len(counted)} step(s)")
    facts = _facts(ladder, rule, deciding, ctx, level, len(counted), in_shadow)
    before_factors = level
    factors = []
    for factor in ladder.factors:
        by_tag = bool(factor.tags & set(rule.tags))
        if by_tag or (factor.condition is not None and factor.condition.test(facts)):
            factors.append((factor.name, factor.title, factor.raises))
            level += factor.raises
            path.append(f"factor {factor.name} ({factor.title}) raises it {factor.raises} step(s)")
    top = len(ladder.steps) - 1
    if level > top:
        path.append(f"capped at the last step, {ladder.steps[top].name}")
        level = top
    step = ladder.steps[level]
    if level != min(before_factors, top):  # the sanction's own facts changed with the factors
        facts = _facts(ladder, rule, deciding, ctx, level, len(counted), in_shadow)
    holds = tuple((name, reason) for name, reason, condition in ladder.holds if condition.test(facts))
    reviewers = max([n for n, condition in ladder.confirms if condition.test(facts)] + [1]) if holds else 0
    status = SHADOW if in_shadow else (PENDING if holds else ACTIVE)
    return Sanction(
        step=step.name, title=step.title, action=step.action, days=step.days, permanent=step.permanent,
        level=level + 1, rule=rule.id, severity=rule.severity, strikes_counted=len(counted),
        counted_posts=tuple(s.post_id for s in counted), factors=tuple(factors), holds=holds,
        reviewers_needed=reviewers, status=status, path=tuple(path),
    )


def _start(ladder: CompiledLadder, rule: CompiledRule) -> int:
    if rule.sanction_step is not None:
        return rule.sanction_step
    if rule.severity in ladder.starts:
        return ladder.starts[rule.severity]
    lower = [sev for sev in ladder.starts if sev <= rule.severity]  # the checker makes this rare
    return ladder.starts[max(lower)] if lower else 0


def _facts(ladder: CompiledLadder, rule: CompiledRule, violation: Violation, ctx: Context, level: int,
           strikes: int, in_shadow: bool) -> Context:
    """A context whose post also carries the facts of the sanction being decided."""
    capped = min(level, len(ladder.steps) - 1)
    extra = {
        "sanction.permanent": ladder.steps[capped].permanent,
        "sanction.step": capped + 1,
        "rule.shadow": in_shadow,
        "rule.review": rule.action == "review",
        "rule.severity": violation.severity,
        "verdict.unsure": bool(ctx.warnings),
        "author.strikes": strikes,
    }
    return ctx.with_post(Post(ctx.post.id, ctx.post.texts, {**ctx.post.facts, **extra}, ctx.post.user_id))
