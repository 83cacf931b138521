"""The reviewer's decisions, shared by the JSON endpoints and the console: who may decide what, and
the ledger call that records it under the signed-in account."""

from __future__ import annotations

from policy.engine.live import LiveEngine
from policy.engine.pipeline import Engine
from policy.service.errors import ApiError
from policy.store import SanctionRow, SqliteLedger
from policy.store.ledger import AppealRow

RANK = {"reviewer": 1, "senior": 2, "admin": 3}
SENIOR_HOLDS = frozenset({"permanent", "protected"})
"""Holds whose sanctions only a senior may decide."""

Reviewer = tuple[str, str]
"""(account name, role) of the signed-in reviewer."""

MAX_ID = 2**63 - 1
"""The largest record id a ledger holds (SQLite's and PostgreSQL's bigint)."""
CASE_DECISIONS = {"S": ("approve", "reject", "change"), "R": ("dismiss", "sanction")}
APPEAL_OUTCOMES = ("uphold", "overturn", "modify")


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


def decide_case(ledger: SqliteLedger, engine: Engine, who: Reviewer, case: str, decision: str, reason: str,
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


def decide_appeal(ledger: SqliteLedger, engine: Engine, who: Reviewer, appeal_id: int, outcome: str, reason: str,
                  step: str | None = None) -> AppealRow:
    """Uphold, overturn or modify an appeal; a senior's if any sanction of its verdict needs one."""
    if outcome not in APPEAL_OUTCOMES:
        raise ApiError(409, "refused", f"an appeal is decided with {', '.join(APPEAL_OUTCOMES)}")
    row = ledger.appeal_row(appeal_id)
    for sanction in ledger.sanctions(verdict_id=row.verdict_id):
        check_senior(who, sanction)
    return ledger.decide_appeal(engine, appeal_id, outcome, who[0], reason, step)


def reload_policy(live: LiveEngine, ledger: SqliteLedger, actor: str) -> dict:
    """Reload the policy files through the hot reload (a policy with errors is refused and the old one
    keeps serving), audited under ``actor``: the outcome, with the refused policy's diagnostics."""
    result = live.reload()
    ledger.record_event(actor, "policy.reloaded" if result.loaded else "policy.reload_refused", result.version,
                        {"previous": result.previous, "error": result.error})
    return {"loaded": result.loaded, "version": result.version, "previous": result.previous,
            "error": result.error, "diagnostics": [d.as_dict() for d in result.diagnostics]}
