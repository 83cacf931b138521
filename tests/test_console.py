"""The reviewer console over HTTP: signing in, the queue, a case, decisions with CSRF tokens and
reasons, what only a senior or an admin may do, and hostile posts rendered as text."""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from policy import Engine
from policy.engine.live import LiveEngine
from policy.service import console
from policy.service.app import create_app
from policy.store import open_ledger

from .conftest import write_policy
from .test_reviewer_api import PASSWORD, RULES, T0, post

HOSTILE = '你个笨蛋<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def desk(tmp_path, ledger_target):
    """A console over a ledger: u1 with four insults (the fourth a held permanent mute, the first
    appealed), a protected u2 held, and a reported post n1 no rule flagged."""
    folder = write_policy(tmp_path / "policy", RULES)
    engine = Engine.load(folder)
    ledger = open_ledger(ledger_target)
    for name, role in [("alice", "reviewer"), ("sara", "senior"), ("sam", "senior"), ("ada", "admin")]:
        ledger.add_account(name, role, PASSWORD)
    verdicts = [ledger.process(engine, post(f"p{i}", HOSTILE if i == 0 else "你个笨蛋"), at=T0 + timedelta(days=i))
                for i in range(4)]
    ledger.process(engine, post("q1", "笨蛋", user="u2", protected=True), at=T0 + timedelta(days=5))
    ledger.process(engine, post("n1", "你这人真行", user="u3"), at=T0 + timedelta(days=6))
    ledger.report("n1", "u9", "阴阳怪气", at=T0 + timedelta(days=6, hours=1))
    ledger.appeal(verdicts[0].verdict_id, "我在说我自己", user="u1")  # filed just now
    app = create_app(LiveEngine(folder), ledger_target)
    return app, ledger


def browser(app, name: str | None = None, base: str = "http://127.0.0.1") -> TestClient:
    client = TestClient(app, base_url=base)
    if name is not None:
        page = client.get("/console/login")
        response = client.post("/console/login", data={"csrf": token(page.text), "name": name, "password": PASSWORD},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
    return client


def token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def cases(html: str) -> list[str]:
    return re.findall(r'data-case="([^"]+)"', html)


# ---- signing in ------------------------------------------------------------------------------------

def test_a_page_sends_a_stranger_to_sign_in_and_back_but_never_to_another_site(desk):
    app, _ = desk
    response = browser(app).get("/console/cases/S4", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login?next=%2Fconsole%2Fcases%2FS4"
    assert console.safe_next("/console/cases/S4") == "/console/cases/S4"
    for hostile in ("https://evil.example/", "//evil.example/console/", "/console/\\evil", None):
        assert console.safe_next(hostile) == "/console/queue"


def test_the_session_cookie_is_http_only_strict_and_secure_except_on_plain_loopback(desk):
    app, _ = desk
    for base, secure in (("http://127.0.0.1", False), ("https://console.example", True)):
        client = TestClient(app, base_url=base)
        page = client.get("/console/login")
        response = client.post("/console/login", data={"csrf": token(page.text), "name": "alice",
                                                       "password": PASSWORD}, follow_redirects=False)
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("policy_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and ("Secure" in cookie) is secure


def test_a_wrong_password_or_a_missing_csrf_token_signs_no_one_in(desk):
    app, ledger = desk
    client = browser(app)
    page = client.get("/console/login")
    wrong = client.post("/console/login", data={"csrf": token(page.text), "name": "alice", "password": "nope"})
    assert wrong.status_code == 401 and "账号或密码不正确" in wrong.text
    forged = client.post("/console/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert "policy_session" not in client.cookies


def test_every_page_forbids_inline_script_and_framing(desk):
    app, _ = desk
    headers = browser(app, "alice").get("/console/queue").headers
    assert "script-src 'self'" in headers["content-security-policy"] and "frame-ancestors 'none'" in \
        headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


# ---- the queue -------------------------------------------------------------------------------------

def test_the_queue_holds_sanctions_reports_and_appeals_oldest_first_with_counts(desk):
    app, _ = desk
    html = browser(app, "alice").get("/console/queue").text
    assert cases(html) == ["S4", "S5", "Rn1", "A1"]
    assert re.search(r'id="count-sanction">2<', html) and re.search(r'id="count-appeal">1<', html)


@pytest.mark.parametrize("query, expected", [
    ("kind=appeal", ["A1"]),
    ("kind=report", ["Rn1"]),
    ("rule=r.insult&sort=newest", ["A1", "S5", "S4"]),
    ("category=unfriendly&kind=sanction", ["S4", "S5"]),
    ("hold=protected", ["S5"]),
    ("hold=appeal", ["A1"]),
    ("age=24h", ["S4", "S5", "Rn1"]),  # waiting over a day: not the appeal filed just now
])
def test_the_queue_filters_and_sorts(desk, query, expected):
    app, _ = desk
    html = browser(app, "alice").get(f"/console/queue?{query}").text
    assert cases(html) == expected


def test_the_queue_pages(desk, monkeypatch):
    app, _ = desk
    monkeypatch.setattr(console, "PAGE_SIZE", 3)
    client = browser(app, "alice")
    first = client.get("/console/queue").text
    assert cases(first) == ["S4", "S5", "Rn1"] and "第 1 / 2 页" in first
    assert cases(client.get("/console/queue?page=2").text) == ["A1"]


# ---- a case ----------------------------------------------------------------------------------------

def test_a_hostile_post_is_text_and_its_evidence_is_marked_at_its_characters(desk):
    app, _ = desk
    html = browser(app, "alice").get("/console/cases/A1").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    marked = re.search(r'<div class="original" data-field="body">(.*?)</div>', html).group(1)
    label = "规则 r.insult「谩骂」 · 词库 insult · 词条 笨蛋 · 字符 2–4"
    assert marked.startswith(f'你个<mark class="ev" tabindex="0" title="{label}"')
    assert '>笨蛋</mark>&lt;script&gt;' in marked
    assert "谩骂：以不文明的语言对他人进行负面评价" in html  # the clause
    assert 'rule r.insult &#34;谩骂&#34; { category unfriendly' in html  # the source as it stood


def test_a_permanent_sanction_shows_the_approvals_it_still_needs_and_only_seniors_decide_it(desk):
    app, ledger = desk
    alice = browser(app, "alice")
    page = alice.get("/console/cases/S4").text
    assert "须 2 位不同的审核员批准：已批准 0 位，还需 2 位" in page and 'name="decision"' not in page
    refused = alice.post("/console/cases/S4/decision",
                         data={"csrf": token(page), "decision": "approve", "reason": "确认"})
    assert refused.status_code == 403 and ledger.sanction(4).status == "pending_review"
    for name, left in (("sara", "还需 1 位"), ("sam", None)):
        client = browser(app, name)
        case = client.get("/console/cases/S4").text
        done = client.post("/console/cases/S4/decision", data={"csrf": token(case), "decision": "approve",
                                                                "reason": "屡次辱骂"})
        assert done.status_code == 200 and "决定已记录" in done.text
        if left:
            assert left in done.text
    assert ledger.sanction(4).status == "active" and ledger.approvals(4) == ["sam", "sara"]


def test_a_decision_needs_the_form_token_and_a_reason_and_is_recorded_under_the_account(desk):
    app, ledger = desk
    client = browser(app, "alice")
    page = client.get("/console/cases/A1").text
    forged = client.post("/console/cases/A1/decision", data={"decision": "overturn", "reason": "自嘲"})
    assert forged.status_code == 403 and ledger.appeal_row(1).status == "open"
    blank = client.post("/console/cases/A1/decision", data={"csrf": token(page), "decision": "overturn",
                                                             "reason": "  "})
    assert blank.status_code == 409 and "请填写理由" in blank.text and ledger.appeal_row(1).status == "open"
    done = client.post("/console/cases/A1/decision", data={"csrf": token(page), "decision": "overturn",
                                                            "reason": "自嘲，不针对他人", "reviewer": "mallory"})
    assert done.status_code == 200
    appeal = ledger.appeal_row(1)
    assert (appeal.outcome, appeal.reviewer) == ("overturn", "alice")
    history = client.get("/console/users/u1").text
    assert re.search(r'<td><a href="/console/posts/p0">p0</a></td><td>r.insult</td><td>[^<]*</td>'
                     r'<td class="status-removed">已撤销</td>', history)


def test_a_reported_post_is_sanctioned_at_the_step_chosen(desk):
    app, ledger = desk
    client = browser(app, "alice")
    page = client.get("/console/cases/Rn1").text
    assert "阴阳怪气" in page
    client.post("/console/cases/Rn1/decision", data={"csrf": token(page), "decision": "sanction", "step": "d1",
                                                      "reason": "确有讽刺辱骂"})
    (made,) = ledger.sanctions(post_id="n1")
    assert (made.step, made.status, made.user_id) == ("d1", "active", "u3")


def test_an_unknown_case_is_a_page_that_says_so(desk):
    app, _ = desk
    response = browser(app, "alice").get("/console/cases/S999")
    assert response.status_code == 404 and "找不到" in response.text


# ---- search, audit ---------------------------------------------------------------------------------

def test_search_finds_verdicts_by_user_rule_and_time_and_names_a_bad_time(desk):
    app, _ = desk
    client = browser(app, "alice")
    by_user = client.get("/console/search", params={"user": "u1", "rule": "r.insult"}).text
    assert "找到 4 条判定" in by_user
    since = (T0 + timedelta(days=2)).date().isoformat()
    assert "找到 2 条判定" in client.get("/console/search", params={"user": "u1", "since": since}).text
    assert "找到 1 条判定" in client.get("/console/search", params={"post": "n1"}).text
    bad = client.get("/console/search", params={"since": "last tuesday"}).text
    assert 'class="problem"' in bad


def test_the_audit_page_verifies_the_chain(desk):
    app, _ = desk
    html = browser(app, "alice").get("/console/audit?verify=1").text
    assert "哈希链完整" in html and "session.started" in html


# ---- the brake, revert, accounts -------------------------------------------------------------------

def test_a_reviewer_cannot_reset_a_brake_or_revert_and_a_senior_previews_then_reverts(desk):
    app, ledger = desk
    alice = browser(app, "alice")
    page = alice.get("/console/brake").text
    assert "解除制动须资深审核员操作" in page or "没有触发的制动" in page
    assert alice.post("/console/brake/r.insult/reset", data={"csrf": token(page), "reason": "x"}).status_code == 403
    assert alice.get("/console/revert").status_code == 403
    sara = browser(app, "sara")
    form = sara.get("/console/revert").text
    since = T0.date().isoformat()
    preview = sara.post("/console/revert", data={"csrf": token(form), "rule": "r.insult", "since": since})
    assert "预览：将撤回 5 项处罚（尚未执行）" in preview.text
    assert all(s.status != "lifted" for s in ledger.sanctions(user="u1"))
    done = sara.post("/console/revert", data={"csrf": token(preview.text), "rule": "r.insult", "since": since,
                                              "reason": "规则误伤", "confirm": "yes"})
    assert "已撤回 5 项处罚" in done.text
    assert ledger.standing("u1")["active_strikes"] == 0


def test_only_an_admin_manages_accounts_and_reloads_the_policy(desk):
    app, ledger = desk
    assert browser(app, "sara").get("/console/accounts").status_code == 403
    ada = browser(app, "ada")
    page = ada.get("/console/accounts").text
    ada.post("/console/accounts", data={"csrf": token(page), "name": "新人", "role": "reviewer",
                                        "password": PASSWORD})
    assert ledger.sign_in("新人", PASSWORD) is not None
    ada.post("/console/accounts/新人/disable", data={"csrf": token(page)})
    assert ledger.sign_in("新人", PASSWORD) is None
    reloaded = ada.post("/console/policy/reload", data={"csrf": token(page)})
    assert "规则已重新加载" in reloaded.text
    assert [r["action"] for r in ledger.audit_rows()][-1] == "policy.reloaded"


def test_a_crafted_link_cannot_make_a_page_announce_what_did_not_happen(desk):
    app, _ = desk
    ada = browser(app, "ada")
    assert "已停用账号 sara" not in ada.get("/console/accounts", params={"done": "已停用账号 sara"}).text
    page = ada.get("/console/accounts").text
    done = ada.post("/console/accounts/sam/disable", data={"csrf": token(page)})  # follows the redirect
    assert "已停用账号 sam" in done.text


def test_an_admin_makes_an_api_key_shown_once_and_revokes_it(desk):
    app, ledger = desk
    ada = browser(app, "ada")
    page = ada.get("/console/accounts").text
    made = ada.post("/console/keys", data={"csrf": token(page), "name": "pipeline-1", "role": "pipeline"})
    key = re.search(r'<code id="new-key">([^<]+)</code>', made.text).group(1)
    assert ledger.api_key(key) == ("pipeline-1", "pipeline")
    assert key not in ada.get("/console/accounts").text  # shown once
    ada.post("/console/keys/pipeline-1/revoke", data={"csrf": token(page)})
    assert ledger.api_key(key) is None


def test_the_appeals_page_lists_appeals_with_filters(desk):
    app, ledger = desk
    client = browser(app, "alice")
    assert re.findall(r'data-appeal="(\d+)"', client.get("/console/appeals?status=open").text) == ["1"]
    assert re.findall(r'data-appeal="(\d+)"', client.get("/console/appeals?status=decided").text) == []
    assert re.findall(r'data-appeal="(\d+)"', client.get("/console/appeals?user=u2").text) == []
    assert 'class="problem"' in client.get("/console/appeals?since=someday").text


def test_signing_out_ends_the_session(desk):
    app, _ = desk
    client = browser(app, "alice")
    page = client.get("/console/queue").text
    client.post("/console/logout", data={"csrf": token(page)})
    assert client.get("/console/queue", follow_redirects=False).status_code == 303
