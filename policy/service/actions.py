"""The reviewer's decisions, shared by the JSON endpoints and the console: who may decide what, and
the ledger call that records it under the signed-in account."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from policy.engine.live import LiveEngine
from policy.engine.pipeline import Engine
from policy.service.errors import ApiError
from policy.store import SanctionRow, SqlLedger
from policy.store.ledger import AppealRow, parse_time

RANK = {"reviewer": 1, "senior": 2, "admin": 3}
SENIOR_HOLDS = frozenset({"permanent", "protected"})
"""Holds whose sanctions only a senior may decide."""

Reviewer = tuple[str, str]
"""(account name, role) of the signed-in reviewer."""

MAX_ID = 2**63 - 1
"""The largest record id a ledger holds (SQLite's and PostgreSQL's bigint)."""
CASE_DECISIONS = {"S": ("approve", "reject", "change"), "R": ("dismiss", "sanction")}
APPEAL_OUTCOMES = ("uphold", "overturn", "modify")
QUEUE_KINDS = ("sanction", "report", "appeal")
QUEUE_SORTS = {"oldest": ("since", False), "newest": ("since", True), "rule": ("rule", False),
               "user": ("user", False)}


def at_least(who: Reviewer, role: str) -> bool:
    return RANK.get(who[1], 0) >= RANK[role]


def needs_senior(row: SanctionRow) -> bool:
    """A permanent sanction or a protected account's: only a senior decides it."""
    return row.detail.permanent or bool(SENIOR_HOLDS & {h[0] for h in row.detail.holds})


def check_senior(who: Reviewer, row: SanctionRow) -> None:
    if needs_senior(row) and not at_least(who, "senior"):
        raise ApiError(403, "forbidden", f"sanction {row.sanction_id} is permanent or of a protected account: "
                                         "a senior decides it")


def parse_case(case: str) -> tuple[str, str]:
    """``S12`` (a held sanction) or ``Rp041`` (a reported post): its kind letter and identifier."""
    kind, ident = case[:1].upper(), case[1:]
    if kind not in CASE_DECISIONS or not ident or (kind == "S" and not (ident.isdigit() and int(ident) <= MAX_ID)):
        raise ApiError(404, "not_found", f"no case {case!r}: cases are S<sanction id> or R<post id>")
    return kind, ident


def decide_case(ledger: SqlLedger, engine: Engine, who: Reviewer, case: str, decision: str, reason: str,
                step: str | None = None) -> SanctionRow | None:
    """Decide a held sanction (approve, reject, change) or a reported post (dismiss, sanction)."""
    kind, ident = parse_case(case)
    if decision not in CASE_DECISIONS[kind]:
        what = "a held sanction" if kind == "S" else "a reported post"
        raise ApiError(409, "refused", f"{what} is decided with {' or '.join(CASE_DECISIONS[kind])}")
    if kind == "S":
        check_senior(who, ledger.sanction(int(ident)))
        return ledger.decide_sanction(engine, int(ident), who[0], decision, reason, step)
    return ledger.decide_report(engine, ident, who[0], decision, reason, step)


def decide_appeal(ledger: SqlLedger, engine: Engine, who: Reviewer, appeal_id: int, outcome: str, reason: str,
                  step: str | None = None) -> AppealRow:
    """Uphold, overturn or modify an appeal; a senior's if any sanction of its verdict needs one."""
    if outcome not in APPEAL_OUTCOMES:
        raise ApiError(409, "refused", f"an appeal is decided with {', '.join(APPEAL_OUTCOMES)}")
    row = ledger.appeal_row(appeal_id)
    for sanction in ledger.sanctions(verdict_id=row.verdict_id):
        check_senior(who, sanction)
    return ledger.decide_appeal(engine, appeal_id, outcome, who[0], reason, step)


def reload_policy(live: LiveEngine, ledger: SqlLedger, actor: str) -> dict:
    """Reload the policy files through the hot reload (a policy with errors is refused and the old one
    keeps serving), audited under ``actor``: the outcome, with the refused policy's diagnostics."""
    result = live.reload()
    ledger.record_event(actor, "policy.reloaded" if result.loaded else "policy.reload_refused", result.version,
                        {"previous": result.previous, "error": result.error})
    return {"loaded": result.loaded, "version": result.version, "previous": result.previous,
            "error": result.error, "diagnostics": [d.as_dict() for d in result.diagnostics]}


def review_queue(ledger: SqlLedger, engine: Engine) -> list[dict]:
    """What waits for a human: held sanctions and reported posts (``SqlLedger.queue``) and open
    appeals, each with its rule's category (from the policy, else from the verdict that named it)."""
    categories = {r.id: (r.category, r.category_title) for r in engine.policy.rules}
    cases = ledger.queue()
    for appeal in ledger.appeals(status="open"):
        verdict = ledger.verdict(appeal.verdict_id)
        rules = [v["rule"] for v in verdict["violations"]]
        for v in verdict["violations"]:
            categories.setdefault(v["rule"], (v["category"], v["category_title"]))
        cases.append({"case": f"A{appeal.appeal_id}", "kind": "appeal", "post_id": verdict["post_id"],
                      "user": appeal.user_id, "rule": rules[0] if rules else None, "step": None,
                      "holds": [f"申诉理由：{appeal.reason}"], "hold_names": ["appeal"],
                      "reviewers_needed": 1, "approvals": [],
                      "since": appeal.filed_at, "reports": len(ledger.reports(verdict["post_id"]))})
    for case in cases:
        case["category"], case["category_title"] = categories.get(case["rule"] or "", ("", ""))
    return cases


def filter_queue(cases: list[dict], kind: str | None = None, rule: str | None = None, category: str | None = None,
                 hold: str | None = None, waited: timedelta | None = None, sort: str = "oldest",
                 now: datetime | None = None) -> list[dict]:
    """The cases that pass every filter given, sorted (``QUEUE_SORTS``; the oldest first by default).

    ``hold`` is a hold's name (``permanent``, ``protected``, ``appeal``, ...) or words of its text;
    ``waited`` keeps the cases that have waited at least that long."""
    cutoff = (now or datetime.now(timezone.utc)) - (waited or timedelta(0))
    kept = [c for c in cases
            if (not kind or c["kind"] == kind) and (not rule or c["rule"] == rule)
            and (not category or c["category"] == category)
            and (not hold or hold in c["hold_names"] or any(hold in text for text in c["holds"]))
            and (waited is None or parse_time(c["since"]) <= cutoff)]
    key, backwards = QUEUE_SORTS.get(sort, QUEUE_SORTS["oldest"])
    kept.sort(key=lambda c: (c[key] or "", c["since"]), reverse=backwards)
    return kept
