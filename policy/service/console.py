"""The reviewer console: server-rendered pages (Jinja2) under ``/console``, over the same ledger and
the same decisions (:mod:`policy.service.actions`) as the JSON endpoints.

Posts are hostile, so every page is autoescaped and served with a Content-Security-Policy that
allows no inline script; the session is a cookie that script cannot read (HttpOnly, SameSite=Strict,
Secure except over plain HTTP on the loopback), and every form carries a CSRF token derived from the
session, checked before anything else is read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, APIRouter
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from policy.engine.live import LiveEngine
from policy.service.actions import (
    APPEAL_OUTCOMES,
    CASE_DECISIONS,
    MAX_ID,
    Reviewer,
    at_least,
    decide_appeal,
    decide_case,
    filter_queue,
    needs_senior,
    parse_case,
    reload_policy,
    review_queue,
)
from policy.service.errors import ApiError
from policy.store import LedgerError, SqlLedger, UnknownRecord
from policy.store.ledger import SESSION_HOURS, parse_time, time_arg
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for
from policy.tools.render import marked_pieces, rule_source

HERE = Path(__file__).parent
SESSION_COOKIE, LOGIN_COOKIE = "policy_session", "policy_login"
PAGE_SIZE = 25
MAX_FORM_BYTES = 64 * 1024
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

# The convention's own words for what the ledger records.
WORDS = {
    "sanction": "待复核处罚", "report": "用户举报", "appeal": "用户申诉",
    "approve": "批准", "reject": "驳回（不处罚）", "change": "改为其他处罚",
    "dismiss": "不予处理", "uphold": "维持原处理", "overturn": "撤销处罚", "modify": "变更处罚",
    "active": "生效", "pending_review": "待复核", "shadow": "试运行", "rejected": "已驳回",
    "superseded": "已替换", "lifted": "已撤销", "removed": "已撤销", "open": "待处理", "decided": "已处理",
    "closed": "已关闭", "mute": "禁言", "ban": "封停账号",
    "reviewer": "审核员", "senior": "资深审核员", "admin": "管理员", "tripped": "已触发", "reset": "已解除",
}
HOLD_WORDS = {"permanent": "永久处罚须人工复核", "protected": "受保护账号",
              "brake": "紧急制动：规则近期改动后命中异常增多", "report": "用户举报，无规则命中", "appeal": ""}
"""Why a case waits, in words; the appeal's own reason is shown as it is."""
VERDICT_WORDS = {"allow": "通过", "review": "人工复核", "reject": "拦截"}
AGES = {"": 0, "1h": 1, "24h": 24, "72h": 72, "7d": 168}


class Account(NamedTuple):
    name: str
    role: str
    token: str

    @property
    def reviewer(self) -> Reviewer:
        return (self.name, self.role)


class SignInNeeded(Exception):
    """The page needs a signed-in reviewer; the browser is sent to the sign-in page."""


def is_appeal_id(text: str) -> bool:
    return text.isdigit() and int(text) <= MAX_ID


def back_to(path: str, done: str, account: Account) -> RedirectResponse:
    """After a form: back to ``path`` (GET), which says what was done.  The message is signed with
    the session, so a crafted link cannot make a page announce something that did not happen."""
    return RedirectResponse(f"{path}?{urlencode({'done': done, 'sig': done_sig(account, done)})}", 303)


def done_sig(account: Account, done: str) -> str:
    return hmac.new(account.token.encode(), b"done\0" + done.encode(), hashlib.sha256).hexdigest()[:32]


def confirmed(account: Account, done: str, sig: str) -> str:
    """``done`` if it was signed for this session, else nothing."""
    return done if done and hmac.compare_digest(sig, done_sig(account, done)) else ""


def csrf_token(session_token: str) -> str:
    """The form token of a session: only someone who holds the (HttpOnly) session can know it."""
    return hmac.new(session_token.encode(), b"policy-console-csrf", hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/queue"


def age_text(since: str, now: datetime) -> str:
    """How long a case has waited, in words."""
    minutes = max(int((now - parse_time(since)).total_seconds() // 60), 0)
    hours = minutes // 60
    return f"{hours // 24} 天 {hours % 24} 小时" if hours >= 24 else f"{hours} 小时 {minutes % 60} 分"


def evidence_label(violation: dict, evidence: dict) -> str:
    what = {"lexicon": f"词库 {evidence.get('lexicon')} · 词条 {evidence.get('term')}",
            "contact": f"联系方式 {evidence.get('contact')} {evidence.get('value')}",
            "regex": f"正则 /{evidence.get('pattern')}/"}.get(evidence["kind"], evidence["kind"])
    return (f"规则 {violation['rule']}「{violation['title']}」 · {what} · "
            f"字符 {evidence['start']}–{evidence['end']}")


def marked_fields(post: Any, verdict: dict) -> list[dict]:
    """Each text field of the post that evidence points into (the body always), cut into pieces
    with the evidence that covers each."""
    spans: dict[str, list[tuple[int, int, str]]] = {"body": []}
    for group in ("violations", "shadow"):
        for v in verdict.get(group, []):
            for e in v["evidence"]:
                if e["kind"] != "fact":
                    spans.setdefault(e["field"], []).append((e["start"], e["end"], evidence_label(v, e)))
    return [{"field": field, "pieces": marked_pieces(post.text(field), marks)} for field, marks in spans.items()]


def mount_console(app: FastAPI, live: LiveEngine, ledgers: Any) -> None:
    """Serve the console under ``/console`` and its script and style under ``/console/static``."""
    pages = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                        trim_blocks=True, lstrip_blocks=True)
    pages.filters["zh"] = lambda word: WORDS.get(word, word) if word is not None else ""
    pages.filters["decision"] = lambda word: VERDICT_WORDS.get(word, word)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(console_routes(live, ledgers, pages))


def console_routes(live: LiveEngine, ledgers: Any, pages: Environment) -> APIRouter:
    def render(request: Request, template: str, account: Account | None, status: int = 200,
               **context: Any) -> HTMLResponse:
        ledger: SqlLedger | None = None
        tripped: list[dict] = []
        if account is not None:
            ledger = ledgers.get()
            tripped = ledger.brake_status()["tripped"]
        html = pages.get_template(template).render(
            account=account, csrf=csrf_token(account.token) if account else "", tripped=tripped,
            senior=account is not None and at_least(account.reviewer, "senior"),
            admin=account is not None and at_least(account.reviewer, "admin"),
            path=request.url.path, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def on_ledger(call: Callable[[SqlLedger], Any]) -> Any:
        """Run ``call`` on the ledger in a worker thread (each thread has its own connection)."""
        return await run_in_threadpool(lambda: call(ledgers.get()))

    def secure(request: Request) -> bool:
        return request.url.scheme == "https" or (request.url.hostname or "") not in LOOPBACK

    def signed_in(request: Request, role: str = "reviewer") -> Account:
        token = request.cookies.get(SESSION_COOKIE)
        found = ledgers.get().session(token) if token else None
        if found is None:
            raise SignInNeeded()
        return require(Account(found[0], found[1], token or ""), role)

    def require(account: Account, role: str) -> Account:
        if not at_least(account.reviewer, role):
            raise ApiError(403, "forbidden", f"这一操作需要{WORDS[role]}权限；{account.name} 是{WORDS[account.role]}")
        return account

    async def posted(request: Request, role: str = "reviewer") -> tuple[Account, dict[str, str]]:
        """The signed-in account and its form, checked in that order: a session, the form's CSRF
        token, then the role."""
        account = await run_in_threadpool(signed_in, request)
        fields = await form(request, account)
        return require(account, role), fields

    async def form(request: Request, account: Account | None) -> dict[str, str]:
        """The posted form, after its CSRF token is checked against the session (or, for the
        sign-in form, against the cookie set with it)."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise ApiError(413, "too_large", "表单过大")
        fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        expected = csrf_token(account.token) if account else request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(fields.get("csrf", ""), expected):
            raise ApiError(403, "csrf", "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
        return fields

    class ConsoleRoute(APIRoute):
        """Errors on a page become a page: sign in, not allowed, not found, refused by the ledger."""

        def get_route_handler(self) -> Callable:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except SignInNeeded:
                    return RedirectResponse("/console/login?" + urlencode({"next": request.url.path}), 303)
                except (ApiError, UnknownRecord, LedgerError) as error:
                    status = error.status if isinstance(error, ApiError) else \
                        404 if isinstance(error, UnknownRecord) else 409
                    message = error.message if isinstance(error, ApiError) else str(error)
                    account = None
                    if status != 403 or not isinstance(error, ApiError) or error.code != "csrf":
                        token = request.cookies.get(SESSION_COOKIE)
                        found = await on_ledger(lambda ledger: ledger.session(token)) if token else None
                        account = Account(found[0], found[1], token or "") if found else None
                    return await run_in_threadpool(render, request, "error.html", account, status,
                                                   status_code=status, message=message)
            return guarded

    router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

    # ---- signing in ---------------------------------------------------------------------------------
    @router.get("")
    @router.get("/")
    def home() -> Response:
        return RedirectResponse("/console/queue", 303)

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", None, login_csrf=token, next=safe_next(next), failed=False)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=secure(request), path="/console")
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await form(request, None)
        found = await on_ledger(lambda ledger: ledger.sign_in(fields.get("name", ""), fields.get("password", "")))
        if found is None:
            token = request.cookies.get(LOGIN_COOKIE, "")
            return await run_in_threadpool(render, request, "login.html", None, 401, login_csrf=token,
                                           next=safe_next(fields.get("next")), failed=True,
                                           name=fields.get("name", ""))
        response = RedirectResponse(safe_next(fields.get("next")), 303)
        response.set_cookie(SESSION_COOKIE, found[0], max_age=int(SESSION_HOURS * 3600), httponly=True,
                            samesite="strict", secure=secure(request), path="/console")
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        account, _ = await posted(request)
        await on_ledger(lambda ledger: ledger.sign_out(account.token))
        response = RedirectResponse("/console/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    # ---- the queue ----------------------------------------------------------------------------------
    def queue_cases(ledger: SqlLedger) -> list[dict]:
        """The review queue, each case with its holds in the console's words."""
        cases = review_queue(ledger, live.engine)
        for case in cases:
            case["why"] = [(name, HOLD_WORDS.get(name) or reason)
                           for name, reason in zip(case["hold_names"], case["holds"], strict=True)]
        return cases

    @router.get("/queue")
    def queue(request: Request, kind: str = "", rule: str = "", category: str = "", hold: str = "",
              age: str = "", sort: str = "oldest", page: int = 1) -> Response:
        account = signed_in(request)
        ledger = ledgers.get()
        everything = queue_cases(ledger)
        now = datetime.now(timezone.utc)
        cases = filter_queue(everything, kind, rule, category, hold, timedelta(hours=AGES.get(age, 0)), sort, now)
        pages_total = max(1, -(-len(cases) // PAGE_SIZE))
        page = min(max(page, 1), pages_total)
        shown = cases[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        for c in shown:
            c["age"] = age_text(c["since"], now)
        counts = {k: sum(1 for c in everything if c["kind"] == k) for k in ("sanction", "report", "appeal")}
        filters = {"kind": kind, "rule": rule, "category": category, "hold": hold, "age": age, "sort": sort}
        return render(request, "queue.html", account, cases=shown, total=len(cases), counts=counts,
                      page=page, pages_total=pages_total, filters=filters,
                      rules=sorted({c["rule"] for c in everything if c["rule"]}),
                      categories=sorted({(c["category"], c["category_title"]) for c in everything if c["category"]}),
                      holds=sorted({why for c in everything for why in c["why"]}),
                      link=lambda **changes: "/console/queue?" + urlencode(
                          {k: v for k, v in {**filters, "page": page, **changes}.items() if v}))

    # ---- a case -------------------------------------------------------------------------------------
    def post_file(ledger: SqlLedger, post_id: str, verdict_id: str | None = None) -> dict:
        """Everything a reviewer reads about a post: the deciding verdict with its evidence marked
        in the original text, the rule sources as they stood then, sanctions, reports, history."""
        post = ledger.post(post_id)
        verdicts = ledger.verdicts(post_id=post_id)
        verdict = next((v for v in verdicts if v["verdict_id"] == verdict_id), verdicts[-1] if verdicts else None)
        file: dict[str, Any] = {"post": post, "post_id": post_id, "verdicts": verdicts, "verdict": verdict,
                                "reports": ledger.reports(post_id), "sanctions": [], "rules": []}
        file["normalized"] = normalize(post.text("body"), table_for(DEFAULT_PROFILE))
        if verdict is None:
            file["fields"] = [{"field": "body", "pieces": [(post.text("body"), ())]}]
        else:
            file["fields"] = marked_fields(post, verdict)
            sources = ledger.policy_sources(verdict["policy"]["version"])
            for v in verdict["violations"] + verdict.get("shadow", []):
                path, line = v["source"]["path"], v["source"]["line"]
                file["rules"].append(dict(v, rule_text=rule_source(sources, path, line), where=f"{path}:{line}"))
            for s in ledger.sanctions(verdict_id=verdict["verdict_id"]):
                file["sanctions"].append({"row": s, "approvals": ledger.approvals(s.sanction_id),
                                          "needs_senior": needs_senior(s)})
            now = live.engine.check(post)
            file["still"] = [v.rule for v in now.violations]
            file["current_version"] = live.engine.version
        user = post.user_id
        file["user"] = user_file(ledger, user) if user else None
        return file

    def user_file(ledger: SqlLedger, user: str) -> dict:
        return {"id": user, "standing": ledger.standing(user), "strikes": ledger.strikes(user),
                "sanctions": ledger.sanctions(user=user), "appeals": ledger.appeals(user=user)}

    def steps() -> list[tuple[str, str]]:
        ladder = live.engine.policy.ladder
        return [(s.name, s.title) for s in ladder.steps] if ladder is not None else []

    @router.get("/cases/{case}")
    def case_page(request: Request, case: str, decided: str = "") -> Response:
        return render_case(request, signed_in(request), case, decided=bool(decided))

    def render_case(request: Request, account: Account, case: str, status: int = 200, problem: str = "",
                    decided: bool = False, entered: dict | None = None) -> HTMLResponse:
        ledger = ledgers.get()
        appeal = None
        if case[:1].upper() == "A" and is_appeal_id(case[1:]):
            appeal = ledger.appeal_row(int(case[1:]))
            verdict = ledger.verdict(appeal.verdict_id)
            file = post_file(ledger, verdict["post_id"], appeal.verdict_id)
            kind, choices, is_open = "appeal", APPEAL_OUTCOMES, appeal.status == "open"
        else:
            letter, ident = parse_case(case)
            sanction = ledger.sanction(int(ident)) if letter == "S" else None
            file = post_file(ledger, sanction.post_id if sanction else ident, sanction.verdict_id if sanction else None)
            kind, choices = ("sanction", CASE_DECISIONS["S"]) if sanction else ("report", CASE_DECISIONS["R"])
            is_open = sanction.status == "pending_review" if sanction else \
                any(r["status"] == "open" for r in file["reports"])
        blocked = any(s["needs_senior"] for s in file["sanctions"]
                      if kind == "appeal" or (kind == "sanction" and s["row"].sanction_id == int(case[1:])))
        may_decide = is_open and (not blocked or at_least(account.reviewer, "senior"))
        return render(request, "case.html", account, status, case=case.upper()[:1] + case[1:], kind=kind,
                      appeal=appeal, file=file, choices=choices, steps=steps(), is_open=is_open,
                      blocked=blocked, may_decide=may_decide, problem=problem, decided=decided,
                      entered=entered or {})

    @router.post("/cases/{case}/decision")
    async def decide(request: Request, case: str) -> Response:
        account, fields = await posted(request)
        choice, reason, step = fields.get("decision", ""), fields.get("reason", "").strip(), fields.get("step") or None

        def record() -> Response:
            problem = "" if reason else "请填写理由：每个决定都须说明理由"
            if not problem:
                try:
                    if case[:1].upper() == "A" and is_appeal_id(case[1:]):
                        decide_appeal(ledgers.get(), live.engine, account.reviewer, int(case[1:]), choice, reason,
                                      step)
                    else:
                        decide_case(ledgers.get(), live.engine, account.reviewer, case, choice, reason, step)
                except (LedgerError, ApiError) as error:
                    if isinstance(error, UnknownRecord) or (isinstance(error, ApiError) and error.status != 409):
                        raise
                    problem = error.message if isinstance(error, ApiError) else str(error)
            if problem:
                return render_case(request, account, case, 409, problem=problem, entered=fields)
            return RedirectResponse(f"/console/cases/{case}?decided=1", 303)
        return await run_in_threadpool(record)

    @router.get("/posts/{post_id}")
    def post_page(request: Request, post_id: str, verdict: str | None = None) -> Response:
        account = signed_in(request)
        ledger = ledgers.get()
        file = post_file(ledger, post_id, verdict)
        return render(request, "case.html", account, case=None, kind="post", appeal=None, file=file, choices=(),
                      steps=[], is_open=False, blocked=False, may_decide=False, problem="", decided=False,
                      entered={})

    # ---- search, a user, the audit log --------------------------------------------------------------
    @router.get("/search")
    def search(request: Request, post: str = "", user: str = "", verdict: str = "", rule: str = "",
               since: str = "", until: str = "", page: int = 1) -> Response:
        account = signed_in(request)
        ledger = ledgers.get()
        asked = {"post": post.strip(), "user": user.strip(), "verdict": verdict.strip(), "rule": rule.strip(),
                 "since": since.strip(), "until": until.strip()}
        problem, found = "", []
        if any(asked.values()):
            try:
                lo = time_arg(asked["since"]) if asked["since"] else ""
                hi = time_arg(asked["until"]) if asked["until"] else ""
            except LedgerError as error:
                problem = str(error)
            else:
                if asked["verdict"]:
                    try:
                        found = [ledger.verdict(asked["verdict"])]
                    except UnknownRecord:
                        found = []
                else:
                    found = ledger.verdicts(post_id=asked["post"] or None, user=asked["user"] or None)
                found = [v for v in found
                         if (not asked["post"] or v["post_id"] == asked["post"])
                         and (not asked["rule"] or any(x["rule"] == asked["rule"] for x in v["violations"]))
                         and (not lo or v["checked_at"] >= lo) and (not hi or v["checked_at"] < hi)]
                found.reverse()  # the newest first
        pages_total = max(1, -(-len(found) // PAGE_SIZE))
        page = min(max(page, 1), pages_total)
        return render(request, "search.html", account, asked=asked, problem=problem, total=len(found),
                      found=found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], page=page, pages_total=pages_total,
                      searched=any(asked.values()),
                      link=lambda **changes: "/console/search?" + urlencode(
                          {k: v for k, v in {**asked, "page": page, **changes}.items() if v}))

    @router.get("/appeals")
    def appeals(request: Request, status: str = "", user: str = "", rule: str = "", since: str = "",
                post: str = "", page: int = 1) -> Response:
        account = signed_in(request)
        ledger = ledgers.get()
        asked = {"status": status if status in ("open", "decided") else "", "user": user.strip(),
                 "rule": rule.strip(), "since": since.strip(), "post": post.strip()}
        problem, rows = "", []
        try:
            since_at = time_arg(asked["since"]) if asked["since"] else None
            rows = ledger.appeals(status=asked["status"] or None, user=asked["user"] or None,
                                  rule=asked["rule"] or None, since=since_at, post_id=asked["post"] or None)
        except LedgerError as error:
            problem = str(error)
        rows = list(reversed(rows))
        pages_total = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(max(page, 1), pages_total)
        shown = [(a, ledger.verdict(a.verdict_id)) for a in rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
        return render(request, "appeals.html", account, asked=asked, problem=problem, total=len(rows), shown=shown,
                      page=page, pages_total=pages_total,
                      link=lambda **changes: "/console/appeals?" + urlencode(
                          {k: v for k, v in {**asked, "page": page, **changes}.items() if v}))

    @router.get("/users/{user}")
    def user_page(request: Request, user: str) -> Response:
        account = signed_in(request)
        ledger = ledgers.get()
        return render(request, "user.html", account, user=user_file(ledger, user),
                      verdicts=list(reversed(ledger.verdicts(user=user))))

    @router.get("/audit")
    def audit(request: Request, page: int = 1, verify: str = "") -> Response:
        account = signed_in(request)
        ledger = ledgers.get()
        rows = list(reversed(ledger.audit_rows()))
        pages_total = max(1, -(-len(rows) // 50))
        page = min(max(page, 1), pages_total)
        return render(request, "audit.html", account, rows=rows[(page - 1) * 50: page * 50], total=len(rows),
                      page=page, pages_total=pages_total, check=ledger.verify_audit() if verify else None,
                      link=lambda page: f"/console/audit?page={page}")

    # ---- the brake, bulk revert (seniors) -----------------------------------------------------------
    @router.get("/brake")
    def brake(request: Request, done: str = "", sig: str = "") -> Response:
        account = signed_in(request)
        return render(request, "brake.html", account, brake=ledgers.get().brake_status(),
                      done=confirmed(account, done, sig))

    @router.post("/brake/{rule}/reset")
    async def brake_reset(request: Request, rule: str) -> Response:
        account, fields = await posted(request, "senior")
        reason = fields.get("reason", "").strip()
        if not reason:
            raise ApiError(409, "refused", "解除制动须填写理由")
        await on_ledger(lambda ledger: ledger.reset_brake(rule, account.name, reason))
        return back_to("/console/brake", rule, account)

    @router.get("/revert")
    def revert_page(request: Request) -> Response:
        account = signed_in(request, "senior")
        return render(request, "revert.html", account, entered={}, preview=None, done=None, problem="")

    @router.post("/revert")
    async def revert(request: Request) -> Response:
        account, fields = await posted(request, "senior")
        dry = fields.get("confirm") != "yes"

        def run() -> Response:
            rule, reason = fields.get("rule", "").strip(), fields.get("reason", "").strip()
            problem, rows = "", []
            if not rule or not fields.get("since") or (not dry and not reason):
                problem = "请填写规则、起始时间" + ("和理由" if not dry else "")
            else:
                try:
                    rows = ledgers.get().revert(live.engine, rule, time_arg(fields["since"]),
                                                time_arg(fields["until"]) if fields.get("until") else None,
                                                fields.get("version") or None, reviewer=account.name, reason=reason,
                                                dry_run=dry)
                except LedgerError as error:
                    if isinstance(error, UnknownRecord):
                        raise
                    problem = str(error)
            return render(request, "revert.html", account, 409 if problem else 200, entered=fields,
                          preview=rows if dry and not problem else None, done=rows if not dry and not problem
                          else None, problem=problem)
        return await run_in_threadpool(run)

    # ---- accounts and the policy (admins) -----------------------------------------------------------
    @router.get("/accounts")
    def accounts(request: Request, done: str = "", sig: str = "") -> Response:
        account = signed_in(request, "admin")
        return accounts_page(request, account, done=confirmed(account, done, sig))

    def accounts_page(request: Request, account: Account, done: str = "", new_key: str = "") -> HTMLResponse:
        ledger = ledgers.get()
        return render(request, "accounts.html", account, accounts=ledger.accounts(), keys=ledger.api_keys(),
                      done=done, new_key=new_key, policy=(live.engine.policy.name, live.engine.version))

    @router.post("/keys")
    async def add_key(request: Request) -> Response:
        """A new API key for a client of the service, shown on this page once (never put in a URL)."""
        account, fields = await posted(request, "admin")
        name, role = fields.get("name", "").strip(), fields.get("role", "pipeline")
        key = await on_ledger(lambda ledger: ledger.add_api_key(name, role, account.name))
        return await run_in_threadpool(accounts_page, request, account, f"已添加 API 密钥 {name}（{role}）", key)

    @router.post("/keys/{name}/revoke")
    async def revoke_key(request: Request, name: str) -> Response:
        account, _ = await posted(request, "admin")
        await on_ledger(lambda ledger: ledger.revoke_api_key(name, account.name))
        return back_to("/console/accounts", f"已吊销 API 密钥 {name}", account)

    @router.post("/accounts")
    async def add_account(request: Request) -> Response:
        account, fields = await posted(request, "admin")
        name = fields.get("name", "").strip()
        await on_ledger(lambda ledger: ledger.add_account(name, fields.get("role", ""), fields.get("password", ""),
                                                          account.name))
        return back_to("/console/accounts", f"已添加账号 {name}", account)

    @router.post("/accounts/{name}/disable")
    async def disable_account(request: Request, name: str) -> Response:
        account, _ = await posted(request, "admin")
        await on_ledger(lambda ledger: ledger.disable_account(name, account.name))
        return back_to("/console/accounts", f"已停用账号 {name}", account)

    @router.post("/policy/reload")
    async def reload(request: Request) -> Response:
        account, _ = await posted(request, "admin")
        result = await on_ledger(lambda ledger: reload_policy(live, ledger, account.name))
        message = f"规则已重新加载：版本 {result['version']}" if result["loaded"] else \
            f"规则有错误，未加载，仍使用版本 {result['previous']}：{result['error']}"
        return back_to("/console/accounts", message, account)

    return router

