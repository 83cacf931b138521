"""The console in a real browser: Playwright drives Debian's Chromium (headless) against the service on
a loopback socket.  A reviewer signs in, filters the queue, opens a case with the keyboard, sees the
evidence marked at its characters, overturns an appeal and finds the user's history corrected; a
hostile post runs no script; a reviewer cannot reset a brake, a senior can.

Screenshots of the queue and a case go to ``artifacts/browser/`` (``$POLICY_ARTIFACTS`` to move it).
Without Chromium (``apt-get install chromium``) these tests skip, except under CI (``$CI`` set),
where they fail: ``.ci/run`` installs it.
"""

import os
import shutil
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from policy import Engine
from policy.engine.live import LiveEngine
from policy.service.app import create_app
from policy.store import SqliteLedger

from .conftest import write_policy
from .test_reviewer_api import PASSWORD, RULES, T0, post

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("POLICY_ARTIFACTS", Path(__file__).parent.parent / "artifacts" / "browser"))
HOSTILE = "笨蛋<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("no Chromium: `apt-get install chromium` (Debian's package) to run the browser tests",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The app on a loopback port, in a thread, for as long as a test needs it."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="module")
def chromium():
    assert CHROMIUM is not None, "CI needs Debian's chromium package: apt-get install chromium"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def site(tmp_path, chromium):
    """The service over a ledger like the API tests': u1 with four insults (the first hostile and
    appealed, the fourth a held permanent mute), u2 protected and held, and 25 ads that trip the brake."""
    folder = write_policy(tmp_path / "policy", RULES)
    engine = Engine.load(folder)
    ledger = SqliteLedger(tmp_path / "ledger.db")
    for name, role in [("alice", "reviewer"), ("sara", "senior")]:
        ledger.add_account(name, role, PASSWORD)
    first = ledger.process(engine, post("p0", HOSTILE), at=T0)
    for i in range(1, 4):
        ledger.process(engine, post(f"p{i}", "你个笨蛋"), at=T0 + timedelta(days=i))
    ledger.process(engine, post("q1", "笨蛋", user="u2", protected=True), at=T0 + timedelta(days=5))
    for i in range(25):
        ledger.process(engine, post(f"a{i}", "专业代发", user=f"w{i}"), at=T0 + timedelta(days=6, minutes=i))
    ledger.appeal(first.verdict_id, "我在说我自己", user="u1")
    with Served(create_app(LiveEngine(folder), str(tmp_path / "ledger.db"))) as url:
        context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        yield url, context.new_page(), ledger
        context.close()


def sign_in(page, url: str, name: str) -> None:
    page.goto(f"{url}/console/queue")
    assert "/console/login" in page.url
    page.get_by_label("账号").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{url}/console/queue")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_reviewer_filters_the_queue_opens_a_case_and_overturns_an_appeal(site):
    url, page, ledger = site
    sign_in(page, url, "alice")
    shot(page, "queue.png")
    page.get_by_label("类型").select_option("appeal")
    page.get_by_role("button", name="筛选").click()
    assert page.locator("tr.case").evaluate_all("rows => rows.map(r => r.dataset.case)") == ["A1"]
    page.keyboard.press("j")  # the keyboard: select the first row, open it
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/console/cases/A1")
    mark = page.locator(".original mark.ev")
    assert mark.count() == 1 and mark.inner_text() == "笨蛋"
    assert "字符 0–2" in mark.get_attribute("title") and "词库 insult" in mark.get_attribute("title")
    before = page.locator(".original").evaluate("el => el.textContent.indexOf(el.querySelector('mark').textContent)")
    assert before == 0  # the highlight starts at the character the evidence names
    mark.focus()  # the hover text shows on focus too
    shot(page, "case.png")
    page.get_by_label("撤销处罚").check()
    page.get_by_label("理由（必填，记入审计日志）").fill("自嘲，不针对他人")
    page.get_by_role("button", name="提交决定").click()
    assert page.get_by_text("决定已记录（alice）").is_visible()
    page.get_by_role("link", name="u1").first.click()
    page.wait_for_url(f"{url}/console/users/u1")
    first_strike = page.locator("table.strikes tbody tr").first
    assert first_strike.locator("td").nth(3).inner_text() == "已撤销"
    # the later mutes had been raised by the overturned strike: re-derived one step lower
    steps = page.locator("section.history > table.rows").first.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[3].textContent, r.cells[6].textContent])")
    assert ["禁言 1 天", "生效"] in steps and ["禁言 7 天", "生效"] in steps
    assert ledger.appeal_row(1).reviewer == "alice"


def test_a_hostile_post_renders_as_text_and_runs_nothing(site):
    url, page, _ = site
    sign_in(page, url, "alice")
    page.goto(f"{url}/console/posts/p0")
    assert "<script>window.pwned = 1</script>" in page.locator(".original").inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"


def test_a_reviewer_sees_the_brake_but_cannot_reset_it_and_a_senior_can(site):
    url, page, ledger = site
    sign_in(page, url, "alice")
    assert "紧急制动已触发" in page.locator("#brake-banner").inner_text()
    page.goto(f"{url}/console/brake")
    assert page.get_by_role("button", name="接受规则现状并解除制动").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    # the page offers no button; the form posted by hand (with the session and its token) is refused
    status = page.request.post(f"{url}/console/brake/spam.ads/reset", form={"csrf": csrf, "reason": "x"}).status
    assert status == 403 and ledger.brake_status()["tripped"]
    page.context.clear_cookies()
    sign_in(page, url, "sara")
    page.goto(f"{url}/console/brake")
    page.get_by_label("理由（必填）").fill("规则改动是有意的")
    page.get_by_role("button", name="接受规则现状并解除制动").click()
    assert page.get_by_text("规则 spam.ads 的制动已解除").is_visible()
    assert page.locator("#brake-banner").count() == 0 and not ledger.brake_status()["tripped"]
