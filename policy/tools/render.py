"""Human views of verdicts, sanctions and rule sources, shared by the commands."""

from __future__ import annotations

from policy.lang.diagnostics import _display_width
from policy.model.post import Post
from policy.model.sanction import Sanction
from policy.model.verdict import Verdict


def render_verdict(verdict: Verdict, post: Post) -> str:
    """The human form: decision, then each rule with its clause and the exact characters."""
    lines = [f"{verdict.decision.upper()}  post {verdict.post_id}   policy {verdict.policy_name} "
             f"{verdict.policy_version}"]
    for label, group in (("", verdict.violations), ("shadow ", verdict.shadow)):
        for v in group:
            lines.append("")
            lines.append(f"  {label}rule {v.rule} 「{v.title}」  category {v.category} ({v.category_title}), "
                         f"severity {v.severity}, action {v.action}")
            for cid, text in v.clauses:
                lines.append(f"    clause {cid}  {text}")
            lines.append(f"    why    {v.explanation}")
            for e in v.evidence:
                if e.kind == "fact":
                    lines.append(f"    fact   {e.field} = {e.value}")
                    continue
                lines.extend(_highlight(post.text(e.field), e.field, e.start or 0, e.end or 0))
                what = (f"lexicon {e.lexicon}, term {e.term!r}" if e.kind == "lexicon"
                        else f"contact {e.term} {e.value!r}" if e.kind == "contact" else f"regex /{e.pattern}/")
                lines.append(f"           characters {e.start}–{e.end} {e.text!r}  ← {what}")
            lines.append(f"    source {v.source[0]}:{v.source[1]}")
    if verdict.sanction is not None:
        lines.append("")
        lines.extend(render_sanction(verdict.sanction))
    for warning in verdict.warnings:
        lines.append(f"  warning: {warning}")
    if not verdict.violations and not verdict.shadow:
        lines.append("  no rule fired")
    return "\n".join(lines)


def _highlight(text: str, field: str, start: int, end: int, context: int = 30) -> list[str]:
    lo = max(start - context, 0)
    hi = min(end + context, len(text))
    shown = text[lo:hi].replace("\n", "⏎").replace("\t", " ")
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    head = f"    {field:<6} {prefix}"
    lead = _display_width(head) + _display_width(shown[: start - lo])
    width = max(_display_width(shown[start - lo : end - lo]), 1)
    return [f"{head}{shown}{suffix}", " " * lead + "^" * width]


def render_sanction(sanction: Sanction) -> list[str]:
    duration = "permanent" if sanction.permanent else f"{sanction.days} day(s)"
    lines = [f"  sanction {sanction.step} 「{sanction.title}」 ({sanction.action}, {duration}), "
             f"status {sanction.status}"]
    for step in sanction.path:
        lines.append(f"    ladder {step}")
    for name, reason in sanction.holds:
        lines.append(f"    held   {name}: {reason}")
    if sanction.reviewers_needed:
        lines.append(f"    needs  {sanction.reviewers_needed} distinct reviewer(s) to confirm")
    return lines


def rule_source(sources: dict[str, str], path: str, line: int) -> str | None:
    """The text of the rule declared at ``path:line`` in a stored policy version."""
    from policy.lang.parse import parse

    text = sources.get(path)
    if text is None:
        return None
    parsed, _ = parse(text, path)
    for decl in parsed.decls:
        if decl.span.line == line:
            return "\n".join(text.split("\n")[decl.span.line - 1 : decl.span.end_line])
    return None


def marked_pieces(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[str, tuple[str, ...]]]:
    """``text`` cut at every boundary of ``spans`` ((start, end, label), character offsets into
    ``text``): each piece with the labels of the spans that cover it, none for plain text.
    Overlapping spans give pieces with several labels; spans outside the text are clipped."""
    cuts = {0, len(text)}
    for start, end, _ in spans:
        cuts.update(min(max(p, 0), len(text)) for p in (start, end))
    points = sorted(cuts)
    pieces = []
    for lo, hi in zip(points, points[1:], strict=False):
        labels = tuple(label for start, end, label in spans if start <= lo and hi <= end and start < end)
        if pieces and pieces[-1][1] == labels:
            pieces[-1] = (pieces[-1][0] + text[lo:hi], labels)
        else:
            pieces.append((text[lo:hi], labels))
    return pieces
