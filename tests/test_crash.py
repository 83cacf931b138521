"""Nothing acknowledged is lost: a writer killed with SIGKILL, and a disk that fills up.

A writer process records verdicts (with their strikes and sanctions), files and decides
appeals, reviews held sanctions and files reports, and prints one line after each call
returns.  The test kills it at a random moment, then reopens the ledger: every
acknowledged write must be there, the file must pass SQLite's integrity check, the audit
chain must verify, and every row must come with the rows and audit entries its
transaction wrote (nothing half-written).  The same ledger is killed again and again.

SIGKILL loses the process, not the machine: what the operating system has accepted
survives it.  This proves transactions are atomic and that a call returns only after its
commit; power loss is what ``synchronous=FULL`` is for, and no test here pulls the plug.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

import policy.store
from policy import Engine, Post
from policy.cli import main
from policy.store import LedgerError, SqliteLedger, open_ledger

from .conftest import pg_raw, write_policy
from .test_store import RULES

ROOT = Path(__file__).resolve().parent.parent

# The writer runs in its own process so that it can be killed; it imports only the package.
WRITER = r'''
import random
import sys

from policy import Engine, Post
from policy.store import LedgerError, open_ledger

db, policy, run, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)


def ack(*words):
    """One line per call that returned: the write it acknowledges."""
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


engine = Engine.load(policy)
ledger = open_ledger(db)
for name in ("alice", "bob"):
    ledger.add_reviewer(name)
    ack("reviewer", name)
ack("ready")
users = [f"{run}-u{n}" for n in range(4)]
flagged = []  # this run's verdicts that carry a sanction, not yet appealed
open_appeals = []
for i in range(1_000_000):
    user = "regular" if i % 9 == 0 else rng.choice(users)  # "regular" posts in every run
    body = rng.choice(["你个笨蛋", "傻逼", "我要弄死你", "今天天气不错", "笨蛋笨蛋"]) + "。" * rng.randrange(0, 80)
    author = {"id": user, "protected": rng.random() < 0.1}
    post = Post.from_dict({"id": f"{run}-p{i}", "body": body, "author": author})
    verdict = ledger.process(engine, post)
    sanction = verdict.sanction
    ack("verdict", verdict.verdict_id, post.id, sanction.status if sanction else "-")
    if sanction is not None and user != "regular":  # an overturn recomputes the user's later history
        flagged.append(verdict.verdict_id)
    if i % 3 == 2 and flagged:
        verdict_id = flagged.pop(rng.randrange(len(flagged)))
        appeal_id = ledger.appeal(verdict_id, "我没有骂人")
        ack("appeal", appeal_id, verdict_id)
        open_appeals.append(appeal_id)
    if i % 4 == 3 and open_appeals:
        appeal_id = open_appeals.pop(rng.randrange(len(open_appeals)))
        outcome = rng.choice(["uphold", "overturn", "modify"])
        ledger.decide_appeal(engine, appeal_id, outcome, rng.choice(["alice", "bob"]), "复核",
                             step="d1" if outcome == "modify" else None)
        ack("decided", appeal_id, outcome)
    if i % 5 == 4:
        held = [s for u in users for s in ledger.sanctions(user=u, status="pending_review")]
        if held:
            target = rng.choice(held)
            reviewer, decision = rng.choice(["alice", "bob"]), rng.choice(["approve", "approve", "reject"])
            ledger.decide_sanction(engine, target.sanction_id, reviewer, decision, "复核")
            ack("review", target.sanction_id, reviewer, decision)
    if i % 7 == 6:
        report_id = ledger.report(post.id, f"{run}-reporter", "举报")
        ack("report", report_id, post.id)
'''


@dataclass
class Acks:
    """What the writers acknowledged, across every run on the same ledger."""

    reviewers: set[str] = field(default_factory=set)
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # verdict id -> (post, sanction status)
    appeals: dict[int, str] = field(default_factory=dict)  # appeal id -> verdict id
    decided: dict[int, str] = field(default_factory=dict)  # appeal id -> outcome
    reviews: list[tuple[int, str, str]] = field(default_factory=list)  # sanction id, reviewer, decision
    reports: dict[int, str] = field(default_factory=dict)  # report id -> post

    def add(self, line: str) -> None:
        kind, *words = line.split()
        if kind == "reviewer":
            self.reviewers.add(words[0])
        elif kind == "verdict":
            self.verdicts[words[0]] = (words[1], words[2])
        elif kind == "appeal":
            self.appeals[int(words[0])] = words[1]
        elif kind == "decided":
            self.decided[int(words[0])] = words[1]
        elif kind == "review":
            self.reviews.append((int(words[0]), words[1], words[2]))
        elif kind == "report":
            self.reports[int(words[0])] = words[1]

    @property
    def total(self) -> int:
        return (len(self.reviewers) + len(self.verdicts) + len(self.appeals) + len(self.decided)
                + len(self.reviews) + len(self.reports))


def run_and_kill(script: Path, db: Path | str, policy: Path, run: int, rng: random.Random) -> list[str]:
    """Start a writer, SIGKILL it at a random moment, return the lines it completed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, str(script), str(db), str(policy), f"r{run}",
                                str(rng.randrange(2**32))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            if raw.endswith(b"\n"):  # a line cut short was not fully acknowledged; ignoring it is the safe side
                lines.append(raw.decode())
                if raw == b"ready\n":
                    ready.set()
        ready.set()

    reader = threading.Thread(target=read)
    reader.start()
    if rng.random() < 0.2:  # now and then while it opens, migrates and registers reviewers
        time.sleep(rng.uniform(0.0, 0.4))
    else:
        ready.wait(timeout=30)
        time.sleep(rng.uniform(0.05, 0.6))
    exited = process.poll()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    reader.join()
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    process.stdout.close()  # type: ignore[union-attr]
    assert exited is None, f"the writer stopped by itself (exit {exited}):\n{stderr}"
    return lines


def check_ledger(db: Path | str, acks: Acks) -> dict[str, int]:
    """Every acknowledged write is present, and every transaction is whole (either backend)."""
    server = policy.store.is_server_url(str(db))
    if not server:
        raw = sqlite3.connect(db)
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        raw.close()
    ledger = open_ledger(str(db))
    try:
        audit = ledger.verify_audit()
        assert audit.ok, audit
        q = ledger._q

        def ids(sql: str) -> list:
            return [next(iter(dict(row).values())) for row in q(sql).fetchall()]

        lost: list[str] = []
        reviewers = set(ids("SELECT name FROM reviewers"))
        lost += [f"reviewer {r}" for r in acks.reviewers - reviewers]
        verdicts = {r["verdict_id"]: r["post_id"] for r in q("SELECT verdict_id, post_id FROM verdicts")}
        lost += [f"verdict {v}" for v, (post_id, _) in acks.verdicts.items() if verdicts.get(v) != post_id]
        appeals = {r["appeal_id"]: dict(r) for r in q("SELECT * FROM appeals")}
        lost += [f"appeal {a}" for a, v in acks.appeals.items() if appeals.get(a, {}).get("verdict_id") != v]
        lost += [f"decision on appeal {a}" for a, outcome in acks.decided.items()
                 if (appeals.get(a, {}).get("status"), appeals.get(a, {}).get("outcome")) != ("decided", outcome)]
        reviews = {(r["sanction_id"], r["reviewer"], r["decision"])
                   for r in q("SELECT sanction_id, reviewer, decision FROM reviews")}
        lost += [f"review {r}" for r in acks.reviews if r not in reviews]
        reports = {r["report_id"]: r["post_id"] for r in q("SELECT report_id, post_id FROM reports")}
        lost += [f"report {r}" for r, p in acks.reports.items() if reports.get(r) != p]
        assert lost == [], f"acknowledged but lost: {lost[:10]}"

        # An acknowledged sanctioned verdict has its strike (each post is processed once).
        strikes = {r["post_id"]: dict(r) for r in q("SELECT * FROM strikes")}
        for verdict_id, (post_id, status) in acks.verdicts.items():
            if status in ("active", "pending_review"):
                assert strikes[post_id]["verdict_id"] == verdict_id
        for appeal_id, outcome in acks.decided.items():
            if outcome == "overturn":
                post_id = verdicts[acks.appeals[appeal_id]] if appeal_id in acks.appeals else None
                if post_id in strikes:
                    assert strikes[post_id]["status"] == "removed"

        # Whole transactions, acknowledged or not: each row comes with what was written beside it.
        logged: dict[str, Counter[str]] = {}
        for row in q("SELECT action, subject FROM audit"):
            logged.setdefault(row["action"], Counter())[row["subject"]] += 1

        def audited(action: str, subjects: list) -> None:
            assert logged.get(action, Counter()) == Counter(str(s) for s in subjects), action

        audited("verdict.recorded", list(verdicts))
        audited("strike.added", list(strikes))
        audited("sanction.created", ids("SELECT sanction_id FROM sanctions"))
        audited("appeal.filed", list(appeals))
        audited("appeal.decided", [a for a, row in appeals.items() if row["status"] == "decided"])
        audited("review.decided", ids("SELECT sanction_id FROM reviews WHERE sanction_id IS NOT NULL"))
        audited("report.filed", [p for p in ids("SELECT post_id FROM reports")])
        audited("reviewer.added", list(reviewers))
        assert ids("SELECT verdict_id FROM verdicts WHERE post_id NOT IN (SELECT post_id FROM posts)") == []
        status = "(json::jsonb -> 'sanction' ->> 'status')" if server else "json_extract(json, '$.sanction.status')"
        sanctioned = set(ids(f"SELECT verdict_id FROM verdicts WHERE {status} IN ('active', 'pending_review')"))
        assert {s["verdict_id"] for s in strikes.values()} == sanctioned  # one post, one verdict, one strike
        assert ids("SELECT verdict_id FROM sanctions WHERE verdict_id NOT IN (SELECT verdict_id FROM strikes)") == []
        assert ids("SELECT verdict_id FROM strikes WHERE verdict_id NOT IN (SELECT verdict_id FROM sanctions)") == []
        assert ids("SELECT replaces FROM sanctions WHERE replaces IS NOT NULL "
                   "AND replaces NOT IN (SELECT sanction_id FROM sanctions)") == []
        assert ids("SELECT verdict_id FROM appeals WHERE verdict_id NOT IN (SELECT verdict_id FROM verdicts)") == []
        return {"verdicts": len(verdicts), "audit rows": audit.rows}
    finally:
        ledger.close()


@pytest.mark.parametrize("kills", [6, pytest.param(300, marks=pytest.mark.slow)])
def test_a_killed_writer_loses_no_acknowledged_write(tmp_path, ledger_target, kills):
    started = time.monotonic()
    rng = random.Random(20261101 + kills)
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    policy_dir = write_policy(tmp_path / "policy", RULES)
    db = ledger_target
    acks = Acks()
    for run in range(kills):
        for line in run_and_kill(script, db, policy_dir, run, rng):
            acks.add(line)
        figures = check_ledger(db, acks)  # the next writer continues on the ledger that survived
    assert acks.verdicts and acks.appeals and acks.decided, "the writers acknowledged too little to prove anything"
    summary = (f"crash test: {kills} kills, {acks.total} acknowledged writes ({len(acks.verdicts)} verdicts, "
               f"{len(acks.appeals)} appeals filed, {len(acks.decided)} decided, {len(acks.reviews)} reviews, "
               f"{len(acks.reports)} reports), 0 lost; ledger holds {figures['verdicts']} verdicts, "
               f"{figures['audit rows']} audit rows, integrity ok, audit verifies; "
               f"{time.monotonic() - started:.1f} s")
    print(summary)


# ---- a full disk ------------------------------------------------------------------------------

@pytest.fixture
def engine(tmp_path):
    return Engine.load(write_policy(tmp_path / "policy", RULES))


def post(post_id: str, body: str, user: str = "u1") -> Post:
    return Post.from_dict({"id": post_id, "body": body, "author": {"id": user}})


def pages(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA page_count").fetchone()[0]
    finally:
        db.close()


def whole(path: Path) -> None:
    """The ledger on disk: intact, the chain verifies, no row without its companions."""
    check_ledger(path, Acks())


@pytest.mark.parametrize("padding", [0, 700, 3000])  # the disk fills at a different statement each time
def test_a_full_disk_gives_a_clear_error_and_leaves_nothing_half_written(engine, tmp_path, padding):
    path = tmp_path / "full.db"
    setup = SqliteLedger(path)
    setup.add_reviewer("alice")
    setup.close()
    ledger = SqliteLedger(path, max_page_count=pages(path) + 3)
    recorded = []
    with pytest.raises(LedgerError, match=r"cannot write to ledger '.*full\.db': database or disk is full"):
        for i in range(10_000):
            recorded.append(ledger.process(engine, post(f"p{i}", "你个笨蛋" + "。" * padding, f"u{i % 3}")).verdict_id)
    assert recorded, "the disk filled before the first post: the test proves nothing"
    failed = f"p{len(recorded)}"
    assert not ledger.db.in_transaction
    assert [v["verdict_id"] for v in ledger.verdicts()] == recorded
    assert ledger.verdicts(post_id=failed) == [] and ledger.sanctions(post_id=failed) == []
    assert ledger.db.execute("SELECT COUNT(*) FROM posts WHERE post_id = ?", (failed,)).fetchone()[0] == 0
    with pytest.raises(LedgerError, match="database or disk is full"):  # a big appeal does not fit either
        ledger.appeal(recorded[0], "申诉" * 20_000)
    assert ledger.appeals() == []
    whole(path)

    ledger.db.execute("PRAGMA max_page_count = 1073741823")  # space freed: the same connection writes again
    again = ledger.process(engine, post(failed, "你个笨蛋"))
    appeal = ledger.appeal(again.verdict_id, "申诉" * 20_000)
    ledger.decide_appeal(engine, appeal, "overturn", "alice", "误判")
    ledger.close()
    whole(path)
    reopened = SqliteLedger(path)
    assert len(reopened.verdicts()) == len(recorded) + 1
    assert reopened.verify_audit().ok
    reopened.close()


def test_a_full_disk_through_the_cli_is_a_message_and_exit_2(tmp_path, monkeypatch, capsys):
    policy_dir = str(write_policy(tmp_path / "policy", RULES))
    path = tmp_path / "cli.db"
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"id": f"p{i}", "body": "你个笨蛋" + "。" * 500, "author": {"id": f"u{i % 4}"}},
                                        ensure_ascii=False) + "\n" for i in range(200)), encoding="utf-8")
    monkeypatch.setenv("POLICY_DB", str(path))
    assert main(["reviewer", "add", "alice"]) == 0
    full = partial(SqliteLedger, max_page_count=pages(path) + 8)  # what a nearly full disk leaves
    monkeypatch.setattr(policy.store, "SqliteLedger", full)  # what open_ledger opens for a file
    capsys.readouterr()

    code = main(["scan", "--policy", policy_dir, "--format", "json", "--batch", "2", str(posts)])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "policy scan: error: cannot write to ledger" in err and "database or disk is full" in err
    assert "Traceback" not in err
    printed = [json.loads(line)["verdict_id"] for line in out.splitlines()]
    assert 0 < len(printed) < 200
    code = main(["appeals", "file", printed[0], "--reason", "申诉" * 20_000])
    err = capsys.readouterr().err
    assert code == 2 and "database or disk is full" in err and "Traceback" not in err
    monkeypatch.undo()  # space freed

    ledger = SqliteLedger(path)
    assert [v["verdict_id"] for v in ledger.verdicts()] == printed  # every post the scan showed, no other
    assert ledger.appeals() == []
    ledger.close()
    whole(path)
    monkeypatch.setenv("POLICY_DB", str(path))
    assert main(["appeals", "file", printed[0], "--reason", "申诉"]) == 0
    assert main(["audit", "verify"]) == 0
    assert "audit chain verifies" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform != "linux", reason="the file-size limit is set with RLIMIT_FSIZE")
def test_a_write_the_system_refuses_at_commit_rolls_back_whole(tmp_path):
    """A file-size limit: the operating system itself refuses the write-ahead log's growth
    (at COMMIT, where WAL writes happen), and the CLI still exits 2 with a message."""
    policy_dir = str(write_policy(tmp_path / "policy", RULES))
    path = tmp_path / "limited.db"
    SqliteLedger(path).close()
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"id": f"p{i}", "body": "你个笨蛋" + "。" * 500, "author": {"id": f"u{i % 4}"}},
                                        ensure_ascii=False) + "\n" for i in range(300)), encoding="utf-8")
    limit = max(path.stat().st_size, 64 * 1024) + 256 * 1024
    script = ("import resource, sys\n"
              f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
              "from policy.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", script, "scan", "--policy", policy_dir, "--db", str(path),
                           "--format", "json", "--batch", "5", str(posts)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "policy scan: error: cannot write to ledger" in done.stderr and "Traceback" not in done.stderr
    printed = [json.loads(line)["verdict_id"] for line in done.stdout.splitlines()]
    assert 0 < len(printed) < 300, len(printed)
    ledger = SqliteLedger(path)
    assert [v["verdict_id"] for v in ledger.verdicts()] == printed
    ledger.close()
    whole(path)


# ---- a recording scan killed and restarted ---------------------------------------------------------

def recorded_count(target: str) -> int:
    """The verdicts recorded so far, read behind the ledger's back: opening a ledger makes its
    tables, and the scan may be making them at that moment (none yet: 0)."""
    from policy.store import is_server_url

    if is_server_url(target):
        import psycopg

        with pg_raw(target) as conn:
            try:
                return conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
            except psycopg.errors.UndefinedTable:
                return 0
    if not Path(target).exists():
        return 0
    db = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    except sqlite3.OperationalError:  # no such table yet
        return 0
    finally:
        db.close()


def test_a_recording_scan_killed_again_and_again_records_each_post_once(tmp_path, ledger_target):
    """The operator's test: kill the scan with SIGKILL, start it again on the same input, over
    and over.  Each restart skips what is recorded and goes on; in the end every post has one
    verdict and at most one strike, the chain verifies, and one more run records nothing."""
    policy_dir = str(write_policy(tmp_path / "policy", RULES))
    posts = tmp_path / "posts.jsonl"
    bodies = ["你个笨蛋", "今天天气不错", "我要弄死你", "笨蛋笨蛋", "谢谢分享"]
    posts.write_text("".join(json.dumps({"id": f"p{i}", "body": bodies[i % 5], "author": {"id": f"u{i % 30}"}},
                                        ensure_ascii=False) + "\n" for i in range(6000)), encoding="utf-8")
    command = [sys.executable, "-m", "policy.cli", "scan", "--policy", policy_dir, "--db", ledger_target,
               "--batch", "50", str(posts)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rng = random.Random(20261207)
    recorded_before = 0
    kills = 0
    for _ in range(8):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        # the interpreter and the policy load first (seconds on a slow machine): wait for this run's
        # first batch to land, then kill it a moment later, somewhere inside a later batch
        deadline = time.monotonic() + 60
        while recorded_count(ledger_target) <= recorded_before and process.poll() is None:
            assert time.monotonic() < deadline, "the scan recorded nothing in a minute"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        if process.poll() is not None:
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
        ledger = open_ledger(ledger_target)
        recorded = len(ledger.verdicts())
        ledger.close()
        assert recorded >= recorded_before  # a restart never goes back
        recorded_before = recorded
    assert kills >= 2, "the scan finished before it could be killed twice; the test proved nothing"
    if process.returncode >= 0:  # the last run finished by itself before its kill came
        assert process.returncode == 0, process.stderr.read().decode()  # type: ignore[union-attr]
        ledger = open_ledger(ledger_target)
        recorded_before = len(ledger.verdicts())
        ledger.close()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{recorded_before} already recorded under this policy version, skipped" in done.stderr
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert "6000 already recorded under this policy version, skipped" in again.stderr
    assert len(again.stdout.splitlines()) == 6000  # the recorded verdicts, shown again
    ledger = open_ledger(ledger_target)
    try:
        verdicts = ledger.verdicts()
        assert len(verdicts) == 6000 and len({v["post_id"] for v in verdicts}) == 6000
        for user in (f"u{n}" for n in range(30)):
            strikes = [s["post_id"] for s in ledger.strikes(user)]
            assert len(strikes) == len(set(strikes))
        assert ledger.verify_audit().ok
    finally:
        ledger.close()
