"""Why a rule fired on a post, or why not: its condition evaluated step by step.

Every branch is evaluated (nothing is cut short), each lexicon test lists its
hits with their spans and also the near misses the scan dropped and why (not a
whole word, covered by an allow list, …), so the author sees what to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policy.compiler import conditions as cond
from policy.compiler.compiled import CompiledRule
from policy.engine.pipeline import Engine
from policy.model.hits import Hit
from policy.model.post import Post
from policy.runtime.evaluate import Context
from policy.runtime.match import scan
from policy.text.normalize import normalized_text, table_for


@dataclass
class Step:
    label: str
    value: bool
    details: list[str] = field(default_factory=list)
    children: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"test": self.label, "value": self.value, "details": self.details,
                "children": [c.as_dict() for c in self.children]}


@dataclass
class Explanation:
    rule: CompiledRule
    post: Post
    fired: bool
    root: Step
    normalized: dict[str, str]
    """Each scanned field's text as the lexicons see it (by profile name)."""


class UnknownRule(LookupError):
    pass


def explain(engine: Engine, rule_id: str, post: Post) -> Explanation:
    policy = engine.policy
    rule = next((r for r in policy.rules if r.id == rule_id), None)
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id, [r.id for r in policy.rules], n=1)
        raise UnknownRule(f"no rule {rule_id!r} in the policy" + (f"; did you mean {close[0]!r}?" if close else ""))
    ctx = Context(policy, post, engine.regex_timeout)
    dropped: list[tuple[Hit, str]] = []
    normalized: dict[str, str] = {}
    for name in policy.scanned_fields:
        text = post.text(name)
        if not text:
            continue
        for lexicon, hits in scan(policy, name, text, ctx.normalized, ctx.mapped, dropped).items():
            ctx.hits[(name, lexicon, None)] = hits  # lexicons without a hit: no raw hits, so none
        for profile in policy.profiles:
            label = f"{name} ({profile.name})" if len(policy.profiles) > 1 else name
            normalized[label] = normalized_text(text, table_for(profile), ctx.normalized, (name, profile))
    root = _trace(rule.condition, ctx, dropped)
    return Explanation(rule, post, root.value, root, normalized)


def _hit(hit: Hit, post: Post) -> str:
    text = post.text(hit.field)[hit.start:hit.end]
    return f"「{text}」 at {hit.start}–{hit.end}, term {hit.term!r}"


def _near_misses(dropped: list[tuple[Hit, str]], field: str, lexicon: int, tags: frozenset[str] | None,
                 post: Post) -> list[str]:
    return [f"near miss {_hit(h, post)}: {why}" for h, why in dropped
            if h.field == field and h.lexicon == lexicon and (tags is None or h.tags & tags)]


def _lexref(ctx: Context, lexicon: int, tags: frozenset[str] | None) -> str:
    name = ctx.policy.lexicons[lexicon].name
    return name + (f"[{', '.join(sorted(tags))}]" if tags else "")


def _trace(node: cond.Node, ctx: Context, dropped: list[tuple[Hit, str]]) -> Step:
    policy, post = ctx.policy, ctx.post
    if isinstance(node, (cond.AnyOf, cond.AllOf)):
        children = [_trace(item, ctx, dropped) for item in node.items]
        any_of = isinstance(node, cond.AnyOf)
        value = any(c.value for c in children) if any_of else all(c.value for c in children)
        return Step("any of (or)" if any_of else "all of (and)", value, [], children)
    if isinstance(node, cond.Not):
        child = _trace(node.item, ctx, dropped)
        return Step("not", not child.value, [], [child])
    if isinstance(node, (cond.Has, cond.CountHits)):
        hits = ctx.lexicon_hits(node.field, node.lexicon, node.tags)
        details = [_hit(h, post) for h in hits] or [f"no term of {policy.lexicons[node.lexicon].name} found"]
        details += _near_misses(dropped, node.field, node.lexicon, node.tags, post)
        if isinstance(node, cond.Has):
            return Step(f"{node.field} has {_lexref(ctx, node.lexicon, node.tags)}", node.test(ctx), details)
        what = "distinct" if node.distinct else "count"
        return Step(f"{what}({node.field} has {_lexref(ctx, node.lexicon, node.tags)}) {node.op} {node.value:g}",
                    node.test(ctx), [f"{what} = {node.count(ctx)}"] + details)
    if isinstance(node, cond.Near):
        firsts = ctx.lexicon_hits(node.field, node.first, node.first_tags)
        seconds = ctx.lexicon_hits(node.field, node.second, node.second_tags)
        pairs = node.pairs(ctx)
        details = [f"{_hit(a, post)} and {_hit(b, post)}, {max(b.start - a.end, a.start - b.end, 0)} apart"
                   for a, b in pairs]
        if not pairs:
            if not firsts or not seconds:
                missing = _lexref(ctx, node.first, node.first_tags) if not firsts else \
                    _lexref(ctx, node.second, node.second_tags)
                details.append(f"no hit of {missing}")
            else:
                closest = min(max(b.start - a.end, a.start - b.end, 0) for a in firsts for b in seconds if a != b)
                details.append(f"closest pair is {closest} characters apart, more than {node.within}")
        details += _near_misses(dropped, node.field, node.first, node.first_tags, post)
        details += _near_misses(dropped, node.field, node.second, node.second_tags, post)
        label = (f"{node.field} has {_lexref(ctx, node.first, node.first_tags)} near "
                 f"{_lexref(ctx, node.second, node.second_tags)} within {node.within}")
        return Step(label, bool(pairs), details)
    if isinstance(node, (cond.Matches, cond.CountMatches)):
        found = ctx.regex_hits(node.field, node.regex, node.normalized, node.pattern)
        text = post.text(node.field)
        subject = "normalized text" if node.normalized else "original text"
        details = [f"「{text[m.start:m.end]}」 at {m.start}–{m.end}" for m in found] or [f"no match in the {subject}"]
        pattern = f"{'normalized ' if node.normalized else ''}/{node.pattern}/"
        if isinstance(node, cond.Matches):
            return Step(f"{node.field} matches {pattern}", node.test(ctx), details)
        return Step(f"count({node.field} matches {pattern}) {node.op} {node.value:g}", node.test(ctx),
                    [f"count = {len(found)}"] + details)
    if isinstance(node, cond.Contacts):
        kinds = f"[{', '.join(sorted(node.kinds))}]" if node.kinds else ""
        found = node.found(ctx)
        details = [f"{c.kind} {c.value!r}: 「{post.text(node.field)[c.start:c.end]}」 at {c.start}–{c.end}"
                   for c in found] or ["no contact found"]
        return Step(f"contacts({node.field}){kinds} {node.op} {node.value:g}", node.test(ctx),
                    [f"distinct contacts = {node.count(ctx)}"] + details)
    if isinstance(node, cond.Length):
        return Step(f"length({node.field}) {node.op} {node.value:g}", node.test(ctx),
                    [f"length = {len(post.text(node.field))}"])
    if isinstance(node, (cond.Compare, cond.Flag)):
        value = post.fact(node.field)
        shown = "not supplied (the test is false)" if value is None else f"{node.field} = {value}"
        label = f"{node.field} {node.op} {node.value:g}" if isinstance(node, cond.Compare) else node.field
        return Step(label, node.test(ctx), [shown])
    raise AssertionError(f"no trace for {type(node).__name__}")


def render(explanation: Explanation) -> str:
    rule = explanation.rule
    lines = [f"rule {rule.id} 「{rule.title}」 ({rule.source[0]}:{rule.source[1]}) "
             f"{'FIRES' if explanation.fired else 'does not fire'} on this post"]
    for name in ("title", "body", "author.name", "author.bio"):
        if explanation.post.text(name):
            lines.append(f"  {name:<11} {explanation.post.text(name)}")
    for label, text in explanation.normalized.items():
        lines.append(f"  normalized {label}: {text}")
    lines.append("")

    def walk(step: Step, depth: int) -> None:
        mark = "✓" if step.value else "✗"
        lines.append(f"{'  ' * depth}{mark} {step.label}")
        for detail in step.details:
            lines.append(f"{'  ' * depth}    · {detail}")
        for child in step.children:
            walk(child, depth + 1)

    walk(explanation.root, 1)
    return "\n".join(lines)
