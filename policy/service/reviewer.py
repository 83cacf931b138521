"""The reviewer's endpoints: sign-in, the review queue, cases, appeals, a user's history, verdicts,
the audit log, the brake and bulk revert; everything ``policy review`` / ``appeals`` / ``history`` /
``status`` / ``brake`` / ``revert`` / ``audit`` do.

A reviewer signs in with an account (``policy user add NAME --role R``) and sends the session
token as ``Authorization: Bearer TOKEN``.  Every decision is recorded under the signed-in account,
never a name the client sends.  Roles rank ``reviewer`` < ``senior`` < ``admin``; a permanent
sanction, a protected author's sanction, a brake reset and a bulk revert need ``senior``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from policy.engine.live import LiveEngine
from policy.service.actions import (
    MAX_ID,
    Reviewer,
    at_least,
    decide_appeal,
    decide_case,
    filter_queue,
    parse_case,
    review_queue,
)
from policy.service.errors import ApiError
from policy.service.schemas import ErrorOut
from policy.store import SanctionRow
from policy.store.ledger import time_arg as _time


class LoginIn(BaseModel):
    name: str = Field(min_length=1)
    password: str = Field(min_length=1)


class LoginOut(BaseModel):
    token: str
    role: str
    expires_at: str


class CaseDecisionIn(BaseModel):
    decision: Literal["approve", "reject", "change", "dismiss", "sanction"]
    reason: str = Field(min_length=1)
    step: str | None = Field(None, description="the ladder step for change / sanction")


class AppealDecisionIn(BaseModel):
    outcome: Literal["uphold", "overturn", "modify"]
    reason: str = Field(min_length=1)
    step: str | None = Field(None, description="the ladder step for modify")


class AccountIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["reviewer", "senior", "admin"]
    password: str = Field(min_length=10)


class BrakeResetIn(BaseModel):
    reason: str = Field(min_length=1)


class RevertIn(BaseModel):
    rule: str = Field(min_length=1)
    since: str = Field(min_length=1, description="ISO 8601, e.g. 2026-11-01 or 2026-11-01T08:00:00Z")
    until: str | None = None
    version: str | None = Field(None, description="only sanctions decided by this policy version")
    dry_run: bool = Field(True, description="list what would be undone and change nothing (the default)")
    reason: str = ""


ERRORS = {400: {"model": ErrorOut, "description": "the body is not JSON"},
          401: {"model": ErrorOut, "description": "not signed in, or the session expired"},
          403: {"model": ErrorOut, "description": "the account's role may not do this"},
          404: {"model": ErrorOut, "description": "no such case, appeal, verdict or user record"},
          409: {"model": ErrorOut, "description": "the ledger refuses (wrong state, missing reason, unknown step)"},
          422: {"model": ErrorOut, "description": "the request does not match the schema"}}


def sanction_dict(row: SanctionRow) -> dict[str, Any]:
    return dict(row.__dict__, detail=row.detail.to_dict())


def reviewer_routes(live: LiveEngine, ledgers: Any) -> APIRouter:
    """The router; ``ledgers.get()`` gives this thread's ledger."""
    router = APIRouter(tags=["reviewers"], responses=ERRORS)
    bearer = HTTPBearer(auto_error=False, description="a session token from POST /v1/auth/login")

    def signed_in(minimum: str) -> Callable[..., Reviewer]:
        def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Reviewer:
            if credentials is None:
                raise ApiError(401, "unauthenticated", "sign in first: POST /v1/auth/login, then Authorization: Bearer")
            found = ledgers.get().session(credentials.credentials)
            if found is None:
                raise ApiError(401, "unauthenticated", "the session is unknown or has expired; sign in again")
            if not at_least(found, minimum):
                raise ApiError(403, "forbidden", f"this needs the role {minimum!r}; {found[0]} is {found[1]!r}")
            return found
        return check

    reviewer, senior, admin = signed_in("reviewer"), signed_in("senior"), signed_in("admin")

    @router.post("/v1/auth/login", response_model=LoginOut, summary="sign in; the token lasts 12 hours",
                 responses={400: ERRORS[400], 401: ERRORS[401], 422: ERRORS[422]})
    def login(body: LoginIn) -> dict:
        found = ledgers.get().sign_in(body.name, body.password)
        if found is None:
            raise ApiError(401, "unauthenticated", "wrong name or password")
        token, role, expires = found
        return {"token": token, "role": role, "expires_at": expires}

    @router.post("/v1/auth/logout", summary="end the session")
    def logout(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
               who: Reviewer = Depends(reviewer)) -> dict:
        assert credentials is not None
        ledgers.get().sign_out(credentials.credentials)
        return {"signed_out": who[0]}

    @router.get("/v1/review/queue", summary="cases waiting for a human, oldest first")
    def queue(kind: Literal["sanction", "report", "appeal"] | None = None, rule: str | None = None,
              category: str | None = Query(None, description="only cases of this category (its number)"),
              hold: str | None = Query(None, description="only cases held for this reason: its name "
                                       "(permanent, protected, appeal, ...) or words of its text"),
              waited_hours: float | None = Query(None, ge=0, le=1e6,
                                                 description="only cases waiting at least this many hours"),
              sort: Literal["oldest", "newest", "rule", "user"] = "oldest",
              limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_ID),
              who: Reviewer = Depends(reviewer)) -> dict:
        waited = timedelta(hours=waited_hours) if waited_hours is not None else None
        cases = filter_queue(review_queue(ledgers.get(), live.engine), kind, rule, category, hold, waited, sort)
        return {"total": len(cases), "offset": offset, "cases": cases[offset:offset + limit]}

    @router.get("/v1/review/cases/{case}", summary="a case: the sanction, the post, its verdicts and reports")
    def show_case(case: str, who: Reviewer = Depends(reviewer)) -> dict:
        kind, ident = parse_case(case)
        ledger = ledgers.get()
        sanction = ledger.sanction(int(ident)) if kind == "S" else None
        post_id = sanction.post_id if sanction is not None else ident
        return {"case": case, "kind": "sanction" if kind == "S" else "report",
                "sanction": sanction_dict(sanction) if sanction is not None else None,
                "post": ledger.post(post_id).to_dict(), "verdicts": ledger.verdicts(post_id=post_id),
                "reports": ledger.reports(post_id)}

    @router.post("/v1/review/cases/{case}/decision", summary="decide a case, under the signed-in account")
    def decide_a_case(case: str, body: CaseDecisionIn, who: Reviewer = Depends(reviewer)) -> dict:
        made = decide_case(ledgers.get(), live.engine, who, case, body.decision, body.reason, body.step)
        return {"case": case, "sanction": sanction_dict(made) if made is not None else None}

    @router.get("/v1/appeals", summary="appeals, with filters")
    def appeals(status: Literal["open", "decided"] | None = None, user: str | None = None, rule: str | None = None,
                since: str | None = None, verdict_id: str | None = None, post_id: str | None = None,
                limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
                who: Reviewer = Depends(reviewer)) -> dict:
        rows = ledgers.get().appeals(status=status, user=user, rule=rule, since=_time(since) if since else None,
                                     verdict_id=verdict_id, post_id=post_id)
        return {"total": len(rows), "offset": offset, "appeals": [r.__dict__ for r in rows[offset:offset + limit]]}

    @router.get("/v1/appeals/{appeal_id}", summary="an appeal with its verdict and sanctions")
    def show_appeal(appeal_id: int = Path(ge=1, le=MAX_ID), who: Reviewer = Depends(reviewer)) -> dict:
        ledger = ledgers.get()
        row = ledger.appeal_row(appeal_id)
        return {"appeal": row.__dict__, "verdict": ledger.verdict(row.verdict_id),
                "sanctions": [sanction_dict(s) for s in ledger.sanctions(verdict_id=row.verdict_id)]}

    @router.post("/v1/appeals/{appeal_id}/decision", summary="uphold, overturn or modify, under the signed-in account")
    def decide_an_appeal(body: AppealDecisionIn, appeal_id: int = Path(ge=1, le=MAX_ID),
                         who: Reviewer = Depends(reviewer)) -> dict:
        decided = decide_appeal(ledgers.get(), live.engine, who, appeal_id, body.outcome, body.reason, body.step)
        return {"appeal": decided.__dict__}

    @router.get("/v1/users/{user}", summary="a user's standing, strikes, sanctions, appeals and verdicts")
    def history(user: str, who: Reviewer = Depends(reviewer)) -> dict:
        ledger = ledgers.get()
        return {"standing": ledger.standing(user), "strikes": ledger.strikes(user),
                "sanctions": [sanction_dict(s) for s in ledger.sanctions(user=user)],
                "appeals": [a.__dict__ for a in ledger.appeals(user=user)],
                "verdicts": ledger.verdicts(user=user)}

    @router.get("/v1/verdicts/{verdict_id}", summary="a recorded verdict")
    def verdict(verdict_id: str, who: Reviewer = Depends(reviewer)) -> dict:
        return ledgers.get().verdict(verdict_id)

    @router.get("/v1/posts/{post_id}/verdicts", summary="every verdict recorded for a post")
    def post_verdicts(post_id: str, who: Reviewer = Depends(reviewer)) -> dict:
        ledger = ledgers.get()
        return {"post": ledger.post(post_id).to_dict(), "verdicts": ledger.verdicts(post_id=post_id)}

    @router.get("/v1/audit", summary="the last rows of the audit chain")
    def audit(tail: int = Query(50, ge=1, le=1000), who: Reviewer = Depends(reviewer)) -> dict:
        rows = ledgers.get().audit_rows()
        return {"total": len(rows), "rows": rows[-tail:]}

    @router.get("/v1/audit/verify", summary="verify the whole audit chain")
    def verify(who: Reviewer = Depends(reviewer)) -> dict:
        return ledgers.get().verify_audit().__dict__

    @router.get("/v1/brake", summary="tripped brakes and the rules the brake watches")
    def brake(who: Reviewer = Depends(reviewer)) -> dict:
        return ledgers.get().brake_status()

    @router.post("/v1/brake/{rule}/reset", summary="accept a tripped rule as it stands (senior)")
    def reset(rule: str, body: BrakeResetIn, who: Reviewer = Depends(senior)) -> dict:
        return {"rule": rule, "reset": ledgers.get().reset_brake(rule, who[0], body.reason)}

    @router.post("/v1/revert", summary="reverse a rule's sanctions in a window; a dry run unless dry_run is false "
                                       "(senior)")
    def revert(body: RevertIn, who: Reviewer = Depends(senior)) -> dict:
        rows = ledgers.get().revert(live.engine, body.rule, _time(body.since),
                                    _time(body.until) if body.until else None, body.version, reviewer=who[0],
                                    reason=body.reason, dry_run=body.dry_run)
        return {"dry_run": body.dry_run, "sanctions": [sanction_dict(r) for r in rows]}

    @router.get("/v1/accounts", summary="reviewer accounts (admin)")
    def accounts(who: Reviewer = Depends(admin)) -> dict:
        return {"accounts": ledgers.get().accounts()}

    @router.post("/v1/accounts", summary="add a reviewer account (admin)")
    def add_account(body: AccountIn, who: Reviewer = Depends(admin)) -> dict:
        ledgers.get().add_account(body.name, body.role, body.password, actor=who[0])
        return {"name": body.name, "role": body.role}

    @router.post("/v1/accounts/{name}/disable", summary="disable an account and end its sessions (admin)")
    def disable_account(name: str, who: Reviewer = Depends(admin)) -> dict:
        ledgers.get().disable_account(name, actor=who[0])
        return {"name": name, "disabled": True}

    return router
