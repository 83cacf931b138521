"""SQLite and PostgreSQL behind one Ledger: the same workload gives the same ledger, and the
PostgreSQL backend's own failures (a pool exhausted, connections cut by a server going down)
are clear errors that leave nothing half-written."""

import os
import re
import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from policy import Engine, Post
from policy.store import LedgerUnavailable, open_ledger

from .conftest import pg_raw, policy_serve, write_policy
from .test_brake_revert import LADDER

RULES = """
lexicon insult { terms "笨蛋" }
lexicon ads { terms "代发" }
rule insult "谩骂" { category unfriendly clause 一.2.6 when body has insult }
rule ads "广告" { category spam clause 一.3.8 when body has ads }
"""
T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
CLOCK = re.compile(r"20\d\d-(?!06-)\d\d-\d\dT[\d:.]+Z")
"""A time read off the clock (a reviewer added, say) rather than given: the workload gives June's."""
SEAL = re.compile(r'"[0-9a-f]{32}"')
"""A state row's hash in a seal: it covers the row's random verdict id, so it differs by run."""
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def workload(ledger, engine: Engine, noisy: Engine) -> None:
    """Posts, reports, appeals decided every way, reviews, a brake trip and its reset, a revert."""
    ledger.add_reviewer("alice")
    ledger.add_reviewer("bob")
    verdicts = []
    for i in range(45):
        body = ["你个笨蛋", "专业代发", "今天天气不错"][i % 3]
        post = Post.from_dict({"id": f"p{i}", "body": body, "author": {"id": f"u{i % 5}", "protected": i % 11 == 0}})
        verdicts.append(ledger.process(engine, post, at=at(i)))
    ledger.report("p2", "r1", "阴阳怪气", at=at(50))
    ledger.decide_report(engine, "p2", "alice", "sanction", "确有不妥", step="d1", at=at(51))
    ledger.report("p5", "r2", "举报", at=at(52))
    ledger.decide_report(engine, "p5", "bob", "dismiss", "无不妥", at=at(53))
    sanctioned = [v for v in verdicts if v.sanction is not None]
    for n, (verdict, outcome) in enumerate(zip(sanctioned[:6], ["overturn", "uphold", "modify", "overturn",
                                                                 "uphold", "overturn"], strict=True)):
        appeal = ledger.appeal(verdict.verdict_id, "我没有", at=at(60 + n))
        ledger.decide_appeal(engine, appeal, outcome, "alice", "复核", step="d1" if outcome == "modify" else None,
                             at=at(61 + n))
    held = ledger.sanctions(status="pending_review")
    for n, sanction in enumerate(held[:3]):
        ledger.decide_sanction(engine, sanction.sanction_id, "bob", ["approve", "reject", "approve"][n], "复核",
                               at=at(70 + n))
    for i in range(45, 90):  # a rule edit that matches everything trips the brake
        post = Post.from_dict({"id": f"p{i}", "body": "今天的天气", "author": {"id": f"u{i % 5}"}})
        ledger.process(noisy, post, at=at(i + 30))
    if ledger.brake_status()["tripped"]:
        ledger.reset_brake("ads", "alice", "checked", at=at(130))
    ledger.revert(engine, "insult", since="2026-06-01", reviewer="bob", reason="误伤", at=at(140))


def snapshot(ledger) -> dict:
    """Everything a user or an auditor sees, with the random verdict ids numbered in order."""
    numbers: dict[str, str] = {}

    def plain(value):
        text = UUID.sub(lambda m: numbers.setdefault(m.group(), f"V{len(numbers) + 1}"), repr(value))
        return SEAL.sub('"HASH"', CLOCK.sub("NOW", text))

    audit = [plain((r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["payload"]))
             for r in ledger.audit_rows()]
    users = [f"u{i}" for i in range(5)]
    return {
        "audit": audit,
        "strikes": {u: plain([{k: v for k, v in s.items()} for s in ledger.strikes(u)]) for u in users},
        "sanctions": {u: plain(ledger.sanctions(user=u)) for u in users},
        "standing": {u: ledger.standing(u, at=at(200)) for u in users},
        "appeals": plain(ledger.appeals()),
        "queue": plain(ledger.queue()),
        "brakes": plain([{k: v for k, v in b.items() if k != "brake_id"} for b in ledger.brake_status()["history"]]),
        "verified": ledger.verify_audit(),
    }


def test_one_workload_gives_the_same_ledger_on_sqlite_and_postgresql(tmp_path, pg_database):
    engine = Engine.load(write_policy(tmp_path / "v1", RULES + LADDER))
    noisy = Engine.load(write_policy(tmp_path / "v2", RULES.replace('terms "代发"', 'terms "代发" "的"') + LADDER))
    results = {}
    for name, target in [("sqlite", str(tmp_path / "ledger.db")), ("postgres", pg_database)]:
        ledger = open_ledger(target)
        workload(ledger, engine, noisy)
        results[name] = snapshot(ledger)
        ledger.close()
    sqlite, postgres = results["sqlite"], results["postgres"]
    assert sqlite["verified"].ok and sqlite["verified"].rows > 150
    actions = " ".join(sqlite["audit"])
    for action in ("appeal.decided", "review.decided", "brake.tripped", "brake.reset", "revert.started",
                   "report.filed", "sanction.lifted"):
        assert action in actions, f"the workload never did {action}"
    for key in sqlite:
        assert sqlite[key] == postgres[key], key


# ---- PostgreSQL's own failures --------------------------------------------------------------------

def post(i: int, user: str = "u1") -> Post:
    return Post.from_dict({"id": f"p{i}", "body": "你个笨蛋", "author": {"id": user}})


@pytest.fixture
def engine(tmp_path):
    return Engine.load(write_policy(tmp_path / "policy", RULES + LADDER))


def test_an_exhausted_pool_waits_a_bounded_time_then_says_so(engine, pg_database):
    ledger = open_ledger(pg_database, pool_size=1, pool_timeout=0.5)
    holding, release = threading.Event(), threading.Event()

    def hold_the_only_connection():
        with ledger._write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    assert holding.wait(10)
    started = time.monotonic()
    try:
        with pytest.raises(LedgerUnavailable, match="every connection of the pool is busy"):
            ledger.process(engine, post(1))
        assert 0.4 < time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()
    assert ledger.verdicts() == []  # the refused call wrote nothing
    ledger.process(engine, post(1))  # and once a connection is free again, it works
    assert len(ledger.verdicts()) == 1


def _cut_connections(url: str) -> int:
    """What a server going down does to its clients: every other session of the database ends."""
    with pg_raw(url) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


class RetryingClient:
    """A pipeline worker on its own thread: records posts one after another (authors u0–u2) and,
    told to retry, sends the same post again after ``pause``; it records ``at_least`` posts before
    :meth:`stop` ends it."""

    def __init__(self, ledger, engine, at_least: int = 0, pause: float = 0.0):
        self.acknowledged: list[str] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ledger, engine, at_least, pause))
        self._thread.start()

    def _run(self, ledger, engine, at_least: int, pause: float) -> None:
        i = 0
        while not self._stop.is_set() or i < at_least:
            try:
                verdict = ledger.process(engine, post(i, user=f"u{i % 3}"))
            except LedgerUnavailable as error:
                self.refused.append(str(error))
                time.sleep(pause)
                continue  # the same post again: what a client told to retry does
            self.acknowledged.append(verdict.post_id)
            i += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive()


def test_a_connection_cut_mid_transaction_is_a_clear_error_and_writes_nothing(engine, pg_database):
    ledger = open_ledger(pg_database, pool_size=1)
    ledger.process(engine, post(0))
    with pytest.raises(LedgerUnavailable, match="nothing of this change is half-written, retry"):
        with ledger._write():
            ledger._add_post("half", "u1", "{}", "2026-06-01T00:00:00.000Z")
            _cut_connections(pg_database)
            ledger._q("SELECT 1")
    assert [p.id for p in ledger.posts()] == ["p0"]  # the pool gave a fresh connection; nothing half-written
    ledger.process(engine, post(1))
    assert ledger.verify_audit().ok and len(ledger.verdicts()) == 2


def test_connections_cut_under_load_give_clear_errors_and_a_retry_loses_nothing(engine, pg_database):
    ledger = open_ledger(pg_database, pool_size=2, pool_timeout=2)
    client = RetryingClient(ledger, engine, at_least=40)
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # a server going down and up, over and over
            _cut_connections(pg_database)
            time.sleep(0.01)
    finally:
        client.stop()
    acknowledged, refused = client.acknowledged, client.refused
    # a cut mid-transaction, or (while the pool reconnects) no connection within the bounded wait
    assert all(message.endswith("retry") and ("half-written" in message or "pool is busy" in message)
               for message in refused), refused
    assert ledger.verify_audit().ok
    recorded = {v["post_id"] for v in ledger.verdicts()}
    assert set(acknowledged) <= recorded and len(acknowledged) >= 40
    for user in ("u0", "u1", "u2"):  # one strike per post, however many retries
        strikes = [s["post_id"] for s in ledger.strikes(user)]
        assert len(strikes) == len(set(strikes))


def _restart_command(url: str) -> list[str] | None:
    """How to restart the server at ``url``: Debian's ``pg_ctlcluster``, for a server on this
    machine that this user may restart (root); None otherwise."""
    if not shutil.which("pg_ctlcluster") or os.geteuid() != 0 or "127.0.0.1" not in url and "localhost" not in url:
        return None
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout.split()
    return ["pg_ctlcluster", clusters[0], clusters[1], "restart"] if len(clusters) >= 2 else None


@pytest.mark.slow
def test_the_server_restarted_under_load_gives_clear_errors_and_a_retry_loses_nothing(engine, pg_database):
    """A real restart (``make test-slow``; it takes the server down for a few seconds)."""
    command = _restart_command(pg_database)
    if command is None:
        pytest.skip("restarting the server needs root, pg_ctlcluster and a server on this machine")
    ledger = open_ledger(pg_database, pool_size=2, pool_timeout=2)
    client = RetryingClient(ledger, engine, pause=0.05)
    acknowledged, refused = client.acknowledged, client.refused
    try:
        time.sleep(0.5)
        before = len(acknowledged)
        subprocess.run(command, check=True, timeout=120)
        deadline = time.monotonic() + 60
        while len(acknowledged) < before + 40 and time.monotonic() < deadline:
            time.sleep(0.1)  # until the pipeline has recorded again after the restart
    finally:
        client.stop()
    assert refused, "the restart should have refused some writes"
    assert all(message.endswith("retry") for message in refused), refused
    assert len(acknowledged) >= before + 40
    assert ledger.verify_audit().ok
    assert set(acknowledged) <= {v["post_id"] for v in ledger.verdicts()}
    for user in ("u0", "u1", "u2"):  # one strike per post, even for a write whose commit's answer was lost
        strikes = [s["post_id"] for s in ledger.strikes(user)]
        assert len(strikes) == len(set(strikes))


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(LedgerUnavailable, match="cannot reach ledger postgresql://nobody:\\*\\*\\*@127.0.0.1:1/x"):
        open_ledger("postgresql://nobody:secret@127.0.0.1:1/x", connect_timeout=1)


def test_policy_serve_records_into_postgresql(pg_database, capsys):
    import json
    import urllib.request

    from policy.cli import main

    assert main(["key", "add", "pipe", "--role", "pipeline", "--db", pg_database]) == 0
    key = capsys.readouterr().out.splitlines()[0].strip()
    with policy_serve("--db", pg_database) as (base, ready):
        assert ready["status"] == "ready" and ready["ledger"] == pg_database
        body = json.dumps({"id": "w1", "body": "你个傻逼", "author": {"id": "u9"}}).encode()
        request = urllib.request.Request(base + "/v1/process", data=body, headers={
            "content-type": "application/json", "authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            verdict = json.loads(response.read())
    ledger = open_ledger(pg_database)
    assert ledger.verdict(verdict["verdict_id"])["decision"] == "reject"
    assert [s["post_id"] for s in ledger.strikes("u9")] == ["w1"]
