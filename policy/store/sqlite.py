"""The ledger: verdicts, strikes, sanctions, reports, reviews, appeals and the audit chain.

``Ledger`` is the narrow interface the engine and the command line use;
``SqliteLedger`` is the embedded implementation (WAL, synchronous commits,
versioned migrations).  A PostgreSQL backend implements the same methods: the
SQL is plain, and every write already runs as one transaction that starts by
taking the write lock (``BEGIN IMMEDIATE`` here, ``SELECT … FOR UPDATE`` there).

Every change appends to the audit chain in the same transaction: each row holds
the hash of the row before, and ``audit_head`` holds the last hash and count,
so changing, removing or reordering any row, or cutting rows off the end, is
detected by :meth:`Ledger.verify_audit`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from policy.engine.pipeline import Engine
from policy.model.post import Post
from policy.model.sanction import ACTIVE, PENDING, SHADOW, Sanction, Strike
from policy.model.verdict import Verdict, escape_surrogates

GENESIS = "0" * 64

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE policy_versions (version TEXT PRIMARY KEY, name TEXT NOT NULL, sources TEXT NOT NULL,
                                  first_seen TEXT NOT NULL);
    CREATE TABLE posts (post_id TEXT PRIMARY KEY, user_id TEXT, post TEXT NOT NULL, first_seen TEXT NOT NULL);
    CREATE TABLE verdicts (verdict_id TEXT PRIMARY KEY, post_id TEXT NOT NULL, user_id TEXT,
                           policy_version TEXT NOT NULL, decision TEXT NOT NULL, checked_at TEXT NOT NULL,
                           rules TEXT NOT NULL, json TEXT NOT NULL);
    CREATE INDEX verdicts_post ON verdicts(post_id);
    CREATE INDEX verdicts_user ON verdicts(user_id, checked_at);
    CREATE TABLE strikes (strike_id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, post_id TEXT NOT NULL UNIQUE,
                          verdict_id TEXT NOT NULL, rule TEXT NOT NULL, severity INTEGER NOT NULL,
                          at TEXT NOT NULL, status TEXT NOT NULL);
    CREATE INDEX strikes_user ON strikes(user_id, at);
    CREATE TABLE sanctions (sanction_id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, verdict_id TEXT NOT NULL,
                            post_id TEXT NOT NULL, rule TEXT NOT NULL, step TEXT NOT NULL, action TEXT NOT NULL,
                            days INTEGER, permanent INTEGER NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT,
                            status TEXT NOT NULL, reviewers_needed INTEGER NOT NULL, detail TEXT NOT NULL,
                            replaces INTEGER);
    CREATE INDEX sanctions_user ON sanctions(user_id, starts_at);
    CREATE TABLE reviews (review_id INTEGER PRIMARY KEY, sanction_id INTEGER, post_id TEXT, reviewer TEXT NOT NULL,
                          decision TEXT NOT NULL, step TEXT, reason TEXT NOT NULL, at TEXT NOT NULL);
    CREATE TABLE reports (report_id INTEGER PRIMARY KEY, post_id TEXT NOT NULL, reporter TEXT NOT NULL,
                          reason TEXT NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL);
    CREATE TABLE appeals (appeal_id INTEGER PRIMARY KEY, verdict_id TEXT NOT NULL, user_id TEXT,
                          reason TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT, reviewer TEXT,
                          decision_reason TEXT, filed_at TEXT NOT NULL, decided_at TEXT);
    CREATE TABLE reviewers (name TEXT PRIMARY KEY, added_at TEXT NOT NULL);
    CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                        subject TEXT NOT NULL, payload TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '""" + GENESIS + """');
    """),
]
MIGRATIONS.append((2, """
    CREATE TABLE rule_versions (rule TEXT NOT NULL, fingerprint TEXT NOT NULL, first_seen TEXT NOT NULL,
                                checked INTEGER NOT NULL DEFAULT 0, matched INTEGER NOT NULL DEFAULT 0,
                                status TEXT NOT NULL DEFAULT 'watched', PRIMARY KEY (rule, fingerprint));
    CREATE TABLE brakes (brake_id INTEGER PRIMARY KEY, rule TEXT NOT NULL, fingerprint TEXT NOT NULL,
                         tripped_at TEXT NOT NULL, checked INTEGER NOT NULL, matched INTEGER NOT NULL,
                         status TEXT NOT NULL, reset_by TEXT, reset_at TEXT, reset_reason TEXT);
    CREATE INDEX sanctions_post ON sanctions(post_id);
    """))
SCHEMA_VERSION = MIGRATIONS[-1][0]


class LedgerError(Exception):
    """A request the ledger refuses: an unknown id, an unknown reviewer, a wrong state."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(when: datetime) -> str:
    """The one time format of the ledger (the verdict's own): UTC, milliseconds, so strings sort as times."""
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _canonical(data: Any) -> str:
    return escape_surrogates(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


def chain_hash(prev: str, seq: int, at: str, actor: str, action: str, subject: str, payload: str) -> str:
    text = "\x1f".join((prev, str(seq), at, actor, action, subject, payload))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    rows: int
    bad_seq: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class BrakeTrip:
    """A rule held back: what the platform's callback receives."""

    brake_id: int
    rule: str
    fingerprint: str
    tripped_at: str
    checked: int
    matched: int

    @property
    def share(self) -> float:
        return 100.0 * self.matched / self.checked if self.checked else 0.0


@dataclass(frozen=True)
class SanctionRow:
    sanction_id: int
    user_id: str
    verdict_id: str
    post_id: str
    rule: str
    step: str
    action: str
    days: int | None
    permanent: bool
    starts_at: str
    ends_at: str | None
    status: str
    reviewers_needed: int
    detail: Sanction
    replaces: int | None


@dataclass(frozen=True)
class AppealRow:
    appeal_id: int
    verdict_id: str
    user_id: str | None
    reason: str
    status: str
    outcome: str | None
    reviewer: str | None
    decision_reason: str | None
    filed_at: str
    decided_at: str | None


class Ledger(Protocol):
    """What the pipeline and the reviewer's commands need from a store.

    SqliteLedger implements it; a PostgreSQL backend implements the same methods
    with the same transactions (each write takes the write lock first)."""

    def process(self, engine: Engine, post: Post, at: datetime | None = None) -> Verdict: ...
    def report(self, post_id: str, reporter: str, reason: str, at: datetime | None = None) -> int: ...
    def queue(self) -> list[dict]: ...
    def decide_sanction(self, engine: Engine, sanction_id: int, reviewer: str, decision: str, reason: str,
                        step: str | None = None, at: datetime | None = None) -> SanctionRow: ...
    def decide_report(self, engine: Engine, post_id: str, reviewer: str, decision: str, reason: str,
                      step: str | None = None, at: datetime | None = None) -> SanctionRow | None: ...
    def appeal(self, verdict_id: str, reason: str, user: str | None = None, at: datetime | None = None) -> int: ...
    def appeals(self, status: str | None = None, user: str | None = None, rule: str | None = None,
                since: str | None = None, verdict_id: str | None = None,
                post_id: str | None = None) -> list[AppealRow]: ...
    def decide_appeal(self, engine: Engine, appeal_id: int, outcome: str, reviewer: str, reason: str,
                      step: str | None = None, at: datetime | None = None) -> AppealRow: ...
    def verdict(self, verdict_id: str) -> dict: ...
    def verdicts(self, post_id: str | None = None, user: str | None = None) -> list[dict]: ...
    def posts(self) -> list[Post]:
        return [Post.from_dict(json.loads(r["post"]))
                for r in self.db.execute("SELECT post FROM posts ORDER BY first_seen, post_id").fetchall()]

    def post(self, post_id: str) -> Post: ...
    def policy_sources(self, version: str) -> dict[str, str]: ...
    def strikes(self, user: str) -> list[dict]: ...
    def sanctions(self, user: str | None = None, status: str | None = None,
                  verdict_id: str | None = None, post_id: str | None = None) -> list[SanctionRow]: ...
    def standing(self, user: str, at: datetime | None = None) -> dict: ...
    def add_reviewer(self, name: str, actor: str = "admin") -> None: ...
    def audit_rows(self) -> list[dict]: ...
    def verify_audit(self) -> AuditCheck: ...


class SqliteLedger:
    def __init__(self, path: str | Path, timeout: float = 30.0,
                 on_brake: Callable[[BrakeTrip], None] | None = None, max_page_count: int | None = None):
        """Open (and migrate) the ledger at ``path``.

        ``max_page_count`` caps the database file at that many pages for this connection
        (SQLite's ``PRAGMA max_page_count``; never below its current size): a write past
        it fails exactly as on a full disk.  A quota, and how the tests fill the disk."""
        self.path = str(path)
        self.on_brake = on_brake
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if max_page_count is not None:
                self.db.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
        except sqlite3.Error as error:
            raise LedgerError(f"cannot open ledger {self.path!r}: {error}") from None
        self._lock = threading.Lock()
        self._registered: str | None = None
        self.migrate()

    def close(self) -> None:
        self.db.close()

    # ---- schema and transactions ---------------------------------------------------------
    def schema_version(self) -> int:
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row["value"]) if row else 0

    def migrate(self) -> None:
        with self._write():
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise LedgerError(f"ledger {self.path!r} has schema {current}, newer than this engine's "
                                  f"{SCHEMA_VERSION}; upgrade the engine")
            for version, script in MIGRATIONS:
                if version > current:
                    for statement in script.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                                    (str(version),))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start; all or nothing."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise LedgerError(f"cannot write to ledger {self.path!r}: {error}") from None
            try:
                yield self.db
                self.db.execute("COMMIT")
            except sqlite3.Error as error:  # read-only file, full disk, lock timeout: nothing half-written
                self._rollback()
                raise LedgerError(f"cannot write to ledger {self.path!r}: {error}") from None
            except UnicodeEncodeError:  # e.g. an id or reason with a lone surrogate (undecodable argv)
                self._rollback()
                raise LedgerError(f"cannot write to ledger {self.path!r}: text that is not valid Unicode "
                                  "(a lone surrogate) outside the post's own fields") from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already done so.

        A full disk or an I/O error can make SQLite roll the whole transaction back by
        itself; a second ROLLBACK would then fail and hide the real error."""
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error being raised says what went wrong; the next BEGIN reports a stuck connection

    def _audit(self, actor: str, action: str, subject: str, payload: dict, at: str) -> None:
        head = self.db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        seq = head["seq"] + 1
        body = _canonical(payload)
        digest = chain_hash(head["hash"], seq, at, actor, action, subject, body)
        self.db.execute("INSERT INTO audit (seq, at, actor, action, subject, payload, prev, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (seq, at, actor, action, subject, body, head["hash"], digest))
        self.db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))

    # ---- the pipeline's path ---------------------------------------------------------------
    def process(self, engine: Engine, post: Post, at: datetime | None = None) -> Verdict:
        """Check a post against its author's standing and record everything, atomically.

        The same post processed again is recorded again but never adds a strike."""
        trips: list[BrakeTrip] = []
        with self._write():
            when = at or _now()  # inside the lock: every strike committed before this moment counts
            history = self._active_strikes(post.user_id) if post.user_id else []
            verdict = engine.check(post, checked_at=when, history=history)
            if engine.policy.brake is not None:
                verdict = self._apply_brake(engine, verdict, trips)
            self._record(engine, post, verdict, actor="engine")
        for trip in trips:  # after the commit: the trip is durable before anyone is told
            if self.on_brake is not None:
                self.on_brake(trip)
        return verdict

    # ---- the emergency brake ------------------------------------------------------------------
    def _apply_brake(self, engine: Engine, verdict: Verdict, trips: list[BrakeTrip]) -> Verdict:
        """Count this check for every watched rule, trip the ones past the thresholds,
        and hold the sanction of a tripped rule for review."""
        brake = engine.policy.brake
        assert brake is not None
        stamp = verdict.checked_at
        if self._registered != engine.version:
            for rule in engine.policy.rules:
                self.db.execute("INSERT OR IGNORE INTO rule_versions (rule, fingerprint, first_seen) VALUES (?, ?, ?)",
                                (rule.id, rule.fingerprint, stamp))
            self._registered = engine.version
        current = {r.id: r.fingerprint for r in engine.policy.rules}
        since = _iso(_parse(stamp) - timedelta(days=brake.watch_days))
        rows = self.db.execute("SELECT rule, fingerprint, checked, matched, status FROM rule_versions "
                               "WHERE first_seen > ? AND status != 'accepted'", (since,)).fetchall()
        watched = [r for r in rows if current.get(r["rule"]) == r["fingerprint"]]
        fired = {v.rule for v in verdict.violations}
        tripped = set()
        for row in watched:
            hit = row["rule"] in fired
            checked, matched = row["checked"] + 1, row["matched"] + hit
            self.db.execute("UPDATE rule_versions SET checked = ?, matched = ? WHERE rule = ? AND fingerprint = ?",
                            (checked, matched, row["rule"], row["fingerprint"]))
            status = row["status"]
            if status == "watched" and hit and matched >= brake.minimum and 100.0 * matched / checked > brake.share:
                status = "tripped"
                self.db.execute("UPDATE rule_versions SET status = 'tripped' WHERE rule = ? AND fingerprint = ?",
                                (row["rule"], row["fingerprint"]))
                cursor = self.db.execute(
                    "INSERT INTO brakes (rule, fingerprint, tripped_at, checked, matched, status) "
                    "VALUES (?, ?, ?, ?, ?, 'tripped')", (row["rule"], row["fingerprint"], stamp, checked, matched))
                trip = BrakeTrip(int(cursor.lastrowid or 0), row["rule"], row["fingerprint"], stamp, checked, matched)
                self._audit("engine", "brake.tripped", row["rule"],
                            {"fingerprint": row["fingerprint"], "checked": checked, "matched": matched,
                             "share": round(trip.share, 2), "threshold": brake.share, "minimum": brake.minimum}, stamp)
                trips.append(trip)
            if status == "tripped":
                tripped.add(row["rule"])
        if verdict.sanction is None:
            return verdict
        return verdict._replace(sanction=_brake_hold(verdict.sanction, tripped))

    def reset_brake(self, rule: str, reviewer: str, reason: str, at: datetime | None = None) -> int:
        """A reviewer accepts the rule as it now stands: its brake is reset and it is no longer watched.
        Sanctions it held stay in the review queue for their own decisions."""
        if not reason.strip():
            raise LedgerError("a reset needs a reason")
        stamp = _iso(at or _now())
        with self._write():
            self._known_reviewer(reviewer)
            changed = self.db.execute(
                "UPDATE brakes SET status = 'reset', reset_by = ?, reset_at = ?, reset_reason = ? "
                "WHERE rule = ? AND status = 'tripped'", (reviewer, stamp, reason, rule)).rowcount
            if not changed:
                raise LedgerError(f"no tripped brake on rule {rule!r}")
            self.db.execute("UPDATE rule_versions SET status = 'accepted' WHERE rule = ? AND status = 'tripped'",
                            (rule,))
            self._audit(reviewer, "brake.reset", rule, {"reason": reason}, stamp)
        return changed

    def brake_status(self) -> dict:
        brakes = [dict(r) for r in self.db.execute("SELECT * FROM brakes ORDER BY tripped_at").fetchall()]
        watched = [dict(r) for r in self.db.execute(
            "SELECT * FROM rule_versions WHERE status != 'accepted' AND matched > 0 ORDER BY matched DESC").fetchall()]
        return {"tripped": [b for b in brakes if b["status"] == "tripped"], "history": brakes, "rules": watched}

    def rule_outcomes(self, rule: str) -> dict:
        """What humans decided about the rule's sanctions: reviews and appeals, and the share upheld."""
        reviews = self.db.execute(
            "SELECT r.decision, COUNT(*) AS n FROM reviews r JOIN sanctions s ON s.sanction_id = r.sanction_id "
            "WHERE s.rule = ? GROUP BY r.decision", (rule,)).fetchall()
        appeals = self.db.execute(
            "SELECT a.outcome, COUNT(*) AS n FROM appeals a JOIN verdicts v ON v.verdict_id = a.verdict_id "
            "WHERE a.status = 'decided' AND EXISTS (SELECT 1 FROM json_each(v.rules) WHERE json_each.value = ?) "
            "GROUP BY a.outcome", (rule,)).fetchall()
        counts = Counter({f"review.{r['decision']}": r["n"] for r in reviews})
        counts.update({f"appeal.{a['outcome']}": a["n"] for a in appeals})
        overturned = counts["review.reject"] + counts["appeal.overturn"]
        decided = sum(counts.values())
        return {"decided": decided, "overturned": overturned,
                "precision": (decided - overturned) / decided if decided else None, "counts": dict(counts)}

    # ---- bulk revert --------------------------------------------------------------------------------
    def revert(self, engine: Engine, rule: str, since: str, until: str | None = None, version: str | None = None,
               reviewer: str = "", reason: str = "", dry_run: bool = False,
               at: datetime | None = None) -> list[SanctionRow]:
        """Reverse every sanction ``rule`` produced in the window (of one policy version when
        given): each is lifted, its strike removed and the later sanctions it raised recomputed,
        all audited.  With ``dry_run`` nothing changes; the sanctions are only listed."""
        clauses = ["s.rule = ?", "s.status IN ('active', 'pending_review')", "s.starts_at >= ?"]
        args: list = [rule, since]
        if until is not None:
            clauses.append("s.starts_at < ?")
            args.append(until)
        if version is not None:
            clauses.append("v.policy_version = ?")
            args.append(version)
        query = ("SELECT s.* FROM sanctions s JOIN verdicts v ON v.verdict_id = s.verdict_id WHERE "
                 + " AND ".join(clauses) + " ORDER BY s.starts_at, s.sanction_id")
        if dry_run:
            return [self._sanction_row(r) for r in self.db.execute(query, args).fetchall()]
        if not reason.strip():
            raise LedgerError("a revert needs a reason")
        stamp = _iso(at or _now())
        with self._write():
            self._known_reviewer(reviewer)
            targets = [self._sanction_row(r) for r in self.db.execute(query, args).fetchall()]
            self._audit(reviewer, "revert.started", rule,
                        {"since": since, "until": until, "version": version, "reason": reason,
                         "sanctions": [t.sanction_id for t in targets]}, stamp)
            for post_id in dict.fromkeys(t.post_id for t in targets):  # by post: recomputing renumbers sanctions
                self._undo(engine, post_id, reviewer, stamp)
        return targets

    def _record(self, engine: Engine, post: Post, verdict: Verdict, actor: str) -> None:
        stamp = verdict.checked_at
        policy = engine.policy
        if self.db.execute("SELECT 1 FROM policy_versions WHERE version = ?", (policy.version,)).fetchone() is None:
            self.db.execute("INSERT INTO policy_versions VALUES (?, ?, ?, ?)",
                            (policy.version, policy.name, _canonical(policy.sources), stamp))
            self._audit(actor, "policy.first_seen", policy.version, {"name": policy.name}, stamp)
        self.db.execute("INSERT OR IGNORE INTO posts VALUES (?, ?, ?, ?)",
                        (post.id, post.user_id, _canonical(post.to_dict()), stamp))
        self.db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (verdict.verdict_id, post.id, post.user_id, policy.version, verdict.decision, stamp,
                         _canonical(verdict.rules), verdict.to_json()))
        self._audit(actor, "verdict.recorded", verdict.verdict_id,
                    {"post": post.id, "user": post.user_id, "decision": verdict.decision, "rules": verdict.rules,
                     "policy": policy.version}, stamp)
        sanction = verdict.sanction
        if sanction is None or sanction.status == SHADOW or not post.user_id:
            return
        if self.db.execute("SELECT 1 FROM strikes WHERE post_id = ?", (post.id,)).fetchone():
            return  # one strike per post, however often it is processed
        strike_status = ACTIVE if sanction.status == ACTIVE else PENDING
        self.db.execute("INSERT INTO strikes (user_id, post_id, verdict_id, rule, severity, at, status) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (post.user_id, post.id, verdict.verdict_id, sanction.rule, sanction.severity, stamp,
                         strike_status))
        self._audit(actor, "strike.added", post.id, {"user": post.user_id, "rule": sanction.rule,
                                                     "status": strike_status}, stamp)
        self._insert_sanction(post.user_id, verdict.verdict_id, post.id, sanction, stamp, None, actor)

    def _insert_sanction(self, user: str, verdict_id: str, post_id: str, sanction: Sanction, starts: str,
                         replaces: int | None, actor: str, audit_at: str | None = None) -> int:
        """A sanction counts from ``starts`` (its verdict's time); the audit row is dated
        when the change is made (``audit_at``), so the chain stays in time order."""
        ends = None
        if sanction.days is not None:
            ends = _iso(_parse(starts) + timedelta(days=sanction.days))
        cursor = self.db.execute(
            "INSERT INTO sanctions (user_id, verdict_id, post_id, rule, step, action, days, permanent, starts_at, "
            "ends_at, status, reviewers_needed, detail, replaces) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (user, verdict_id, post_id, sanction.rule, sanction.step, sanction.action, sanction.days,
             int(sanction.permanent), starts, ends, sanction.status, sanction.reviewers_needed,
             _canonical(sanction.to_dict()), replaces))
        sanction_id = int(cursor.lastrowid or 0)
        self._audit(actor, "sanction.created", str(sanction_id),
                    {"user": user, "post": post_id, "step": sanction.step, "status": sanction.status,
                     "holds": [h[0] for h in sanction.holds], "replaces": replaces}, audit_at or starts)
        return sanction_id

    def _active_strikes(self, user: str, before_post: str | None = None) -> list[Strike]:
        """The user's counting strikes; with ``before_post``, only those recorded before that
        post's own strike (recording order, not the clock: several can share a millisecond)."""
        rows = self.db.execute("SELECT * FROM strikes WHERE user_id = ? AND status = ? ORDER BY strike_id",
                               (user, ACTIVE)).fetchall()
        if before_post is not None:
            own = self.db.execute("SELECT strike_id FROM strikes WHERE post_id = ?", (before_post,)).fetchone()
            if own is not None:
                rows = [r for r in rows if r["strike_id"] < own["strike_id"]]
        return [Strike(r["post_id"], r["verdict_id"], r["rule"], r["severity"], _parse(r["at"])) for r in rows]

    # ---- lookups ---------------------------------------------------------------------------
    def verdict(self, verdict_id: str) -> dict:
        row = self.db.execute("SELECT json FROM verdicts WHERE verdict_id = ?", (verdict_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no verdict {verdict_id!r} in the ledger")
        return json.loads(row["json"])

    def verdicts(self, post_id: str | None = None, user: str | None = None) -> list[dict]:
        where, args = _where(("post_id = ?", post_id), ("user_id = ?", user))
        rows = self.db.execute(f"SELECT json FROM verdicts{where} ORDER BY checked_at", args).fetchall()
        return [json.loads(r["json"]) for r in rows]

    def posts(self) -> list[Post]:
        return [Post.from_dict(json.loads(r["post"]))
                for r in self.db.execute("SELECT post FROM posts ORDER BY first_seen, post_id").fetchall()]

    def post(self, post_id: str) -> Post:
        row = self.db.execute("SELECT post FROM posts WHERE post_id = ?", (post_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no post {post_id!r} in the ledger")
        return Post.from_dict(json.loads(row["post"]))

    def policy_sources(self, version: str) -> dict[str, str]:
        row = self.db.execute("SELECT sources FROM policy_versions WHERE version = ?", (version,)).fetchone()
        return json.loads(row["sources"]) if row else {}

    def strikes(self, user: str) -> list[dict]:
        rows = self.db.execute("SELECT * FROM strikes WHERE user_id = ? ORDER BY at", (user,)).fetchall()
        return [dict(r) for r in rows]

    def sanctions(self, user: str | None = None, status: str | None = None,
                  verdict_id: str | None = None, post_id: str | None = None) -> list[SanctionRow]:
        where, args = _where(("user_id = ?", user), ("status = ?", status), ("verdict_id = ?", verdict_id),
                             ("post_id = ?", post_id))
        rows = self.db.execute(f"SELECT * FROM sanctions{where} ORDER BY starts_at, sanction_id", args).fetchall()
        return [self._sanction_row(r) for r in rows]

    def sanction(self, sanction_id: int) -> SanctionRow:
        row = self.db.execute("SELECT * FROM sanctions WHERE sanction_id = ?", (sanction_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no sanction {sanction_id} in the ledger")
        return self._sanction_row(row)

    @staticmethod
    def _sanction_row(r: sqlite3.Row) -> SanctionRow:
        return SanctionRow(r["sanction_id"], r["user_id"], r["verdict_id"], r["post_id"], r["rule"], r["step"],
                           r["action"], r["days"], bool(r["permanent"]), r["starts_at"], r["ends_at"], r["status"],
                           r["reviewers_needed"], Sanction.from_dict(json.loads(r["detail"])), r["replaces"])

    def standing(self, user: str, at: datetime | None = None) -> dict:
        """The user's current state: active strikes and the sanctions in force."""
        now = _iso(at or _now())
        in_force = [s for s in self.sanctions(user=user, status=ACTIVE) if s.ends_at is None or s.ends_at > now]
        return {"user": user, "active_strikes": len(self._active_strikes(user)),
                "sanctions_in_force": [(s.sanction_id, s.step) for s in in_force]}

    # ---- reviewers ---------------------------------------------------------------------------
    def add_reviewer(self, name: str, actor: str = "admin") -> None:
        if not name.strip():
            raise LedgerError("a reviewer needs a name")
        with self._write():
            if self.db.execute("SELECT 1 FROM reviewers WHERE name = ?", (name,)).fetchone():
                return
            stamp = _iso(_now())
            self.db.execute("INSERT INTO reviewers VALUES (?, ?)", (name, stamp))
            self._audit(actor, "reviewer.added", name, {}, stamp)

    def _known_reviewer(self, name: str) -> None:
        if self.db.execute("SELECT 1 FROM reviewers WHERE name = ?", (name,)).fetchone() is None:
            raise LedgerError(f"unknown reviewer {name!r}; add them with `policy reviewer add {name}`")

    # ---- the audit chain ---------------------------------------------------------------------
    def audit_rows(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM audit ORDER BY seq").fetchall()]

    def verify_audit(self) -> AuditCheck:
        prev = GENESIS
        expected_seq = 1
        rows = self.db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        for row in rows:
            if row["seq"] != expected_seq:
                return AuditCheck(False, len(rows), row["seq"], f"row {expected_seq} is missing")
            if row["prev"] != prev:
                return AuditCheck(False, len(rows), row["seq"], "does not follow the row before it")
            digest = chain_hash(row["prev"], row["seq"], row["at"], row["actor"], row["action"], row["subject"],
                                row["payload"])
            if digest != row["hash"]:
                return AuditCheck(False, len(rows), row["seq"], "its content does not match its hash")
            prev = row["hash"]
            expected_seq += 1
        head = self.db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        if head is None or head["seq"] != len(rows) or head["hash"] != prev:
            return AuditCheck(False, len(rows), len(rows) + 1, "rows were removed from the end of the chain")
        return AuditCheck(True, len(rows))

    # ---- user reports ------------------------------------------------------------------------
    def report(self, post_id: str, reporter: str, reason: str, at: datetime | None = None) -> int:
        """Attach a user's report to a post the ledger has seen.  A reported post that
        no rule flagged waits in the review queue with its reports."""
        if not reporter.strip() or not reason.strip():
            raise LedgerError("a report needs a reporter and a reason")
        stamp = _iso(at or _now())
        with self._write():
            if self.db.execute("SELECT 1 FROM posts WHERE post_id = ?", (post_id,)).fetchone() is None:
                raise LedgerError(f"no post {post_id!r} in the ledger; scan it with --db first")
            cursor = self.db.execute("INSERT INTO reports (post_id, reporter, reason, at, status) "
                                     "VALUES (?, ?, ?, ?, 'open')", (post_id, reporter, reason, stamp))
            report_id = int(cursor.lastrowid or 0)
            self._audit(reporter, "report.filed", post_id, {"report": report_id, "reason": reason}, stamp)
        return report_id

    def reports(self, post_id: str) -> list[dict]:
        rows = self.db.execute("SELECT * FROM reports WHERE post_id = ? ORDER BY at", (post_id,)).fetchall()
        return [dict(r) for r in rows]

    # ---- the review queue ----------------------------------------------------------------------
    def queue(self) -> list[dict]:
        """Cases waiting for a human: held sanctions, then reported posts no sanction covers."""
        cases = []
        for s in self.sanctions(status=PENDING):
            reviews = self._reviews(s.sanction_id)
            cases.append({"case": f"S{s.sanction_id}", "kind": "sanction", "post_id": s.post_id, "user": s.user_id,
                          "rule": s.rule, "step": s.step, "holds": [h[1] for h in s.detail.holds],
                          "reviewers_needed": s.reviewers_needed,
                          "approvals": sorted({r["reviewer"] for r in reviews if r["decision"] == "approve"}),
                          "since": s.starts_at, "reports": len(self.reports(s.post_id))})
        rows = self.db.execute(
            "SELECT post_id, COUNT(*) AS n, MIN(at) AS since FROM reports WHERE status = 'open' "
            "AND post_id NOT IN (SELECT post_id FROM sanctions WHERE status IN ('active', 'pending_review')) "
            "GROUP BY post_id ORDER BY since").fetchall()
        for r in rows:
            user = self.db.execute("SELECT user_id FROM posts WHERE post_id = ?", (r["post_id"],)).fetchone()
            cases.append({"case": f"R{r['post_id']}", "kind": "report", "post_id": r["post_id"],
                          "user": user["user_id"] if user else None, "rule": None, "step": None,
                          "holds": ["reported by users; no rule flagged it"], "reviewers_needed": 1,
                          "approvals": [], "since": r["since"], "reports": r["n"]})
        return cases

    def _reviews(self, sanction_id: int) -> list[dict]:
        rows = self.db.execute("SELECT * FROM reviews WHERE sanction_id = ? ORDER BY at", (sanction_id,)).fetchall()
        return [dict(r) for r in rows]

    def decide_sanction(self, engine: Engine, sanction_id: int, reviewer: str, decision: str, reason: str,
                        step: str | None = None, at: datetime | None = None) -> SanctionRow:
        """approve (the sanction takes effect once enough distinct reviewers approve),
        reject (no sanction, no strike), or change (a new step, then approve)."""
        stamp = _decision("decision", decision, ("approve", "reject", "change"), reason, at)
        with self._write():
            self._known_reviewer(reviewer)
            current = self.sanction(sanction_id)
            if current.status != PENDING:
                raise LedgerError(f"sanction {sanction_id} is {current.status}, not waiting for review")
            self.db.execute("INSERT INTO reviews (sanction_id, post_id, reviewer, decision, step, reason, at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (sanction_id, current.post_id, reviewer, decision, step, reason, stamp))
            self._audit(reviewer, "review.decided", str(sanction_id),
                        {"decision": decision, "step": step, "reason": reason}, stamp)
            if decision == "reject":
                self._set_sanction(sanction_id, "rejected", reviewer, stamp)
                self._remove_strike(current.post_id, reviewer, stamp)
                self._close_reports(current.post_id, reviewer, stamp)
                return self.sanction(sanction_id)
            if decision == "change":
                target = self._step(engine, step)
                changed = _with_step(current.detail, target, ACTIVE, f"reviewer {reviewer} changed it to {target.name}")
                self._set_sanction(sanction_id, "superseded", reviewer, stamp)
                new_id = self._insert_sanction(current.user_id, current.verdict_id, current.post_id, changed,
                                               current.starts_at, sanction_id, reviewer, stamp)
                self._activate_strike(current.post_id, reviewer, stamp)
                self._close_reports(current.post_id, reviewer, stamp)
                return self.sanction(new_id)
            approvals = {r["reviewer"] for r in self._reviews(sanction_id) if r["decision"] == "approve"}
            if len(approvals) >= current.reviewers_needed:
                self._set_sanction(sanction_id, ACTIVE, reviewer, stamp)
                self._activate_strike(current.post_id, reviewer, stamp)
                self._close_reports(current.post_id, reviewer, stamp)
            return self.sanction(sanction_id)

    def decide_report(self, engine: Engine, post_id: str, reviewer: str, decision: str, reason: str,
                      step: str | None = None, at: datetime | None = None) -> SanctionRow | None:
        """A reported post no rule flagged: dismiss it, or sanction it at a step."""
        stamp = _decision("decision", decision, ("dismiss", "sanction"), reason, at)
        with self._write():
            self._known_reviewer(reviewer)
            if not self.db.execute("SELECT 1 FROM reports WHERE post_id = ? AND status = 'open'",
                                   (post_id,)).fetchone():
                raise LedgerError(f"no open report on post {post_id!r}")
            self.db.execute("INSERT INTO reviews (sanction_id, post_id, reviewer, decision, step, reason, at) "
                            "VALUES (NULL, ?, ?, ?, ?, ?, ?)", (post_id, reviewer, decision, step, reason, stamp))
            self._audit(reviewer, "report.decided", post_id, {"decision": decision, "step": step,
                                                               "reason": reason}, stamp)
            self._close_reports(post_id, reviewer, stamp)
            if decision == "dismiss":
                return None
            target = self._step(engine, step)
            row = self.db.execute("SELECT verdict_id, user_id FROM verdicts WHERE post_id = ? "
                                  "ORDER BY checked_at DESC LIMIT 1", (post_id,)).fetchone()
            if row is None or not row["user_id"]:
                raise LedgerError(f"post {post_id!r} has no author to sanction")
            manual = Sanction(step=target.name, title=target.title, action=target.action, days=target.days,
                              permanent=target.permanent, level=self._level(engine, target.name),
                              rule=f"report:{reviewer}", severity=0, strikes_counted=0, counted_posts=(),
                              factors=(), holds=(), reviewers_needed=0, status=ACTIVE,
                              path=(f"reviewer {reviewer} sanctioned the reported post at {target.name}: {reason}",))
            if not self.db.execute("SELECT 1 FROM strikes WHERE post_id = ?", (post_id,)).fetchone():
                self.db.execute("INSERT INTO strikes (user_id, post_id, verdict_id, rule, severity, at, status) "
                                "VALUES (?, ?, ?, ?, 0, ?, ?)",
                                (row["user_id"], post_id, row["verdict_id"], manual.rule, stamp, ACTIVE))
                self._audit(reviewer, "strike.added", post_id, {"user": row["user_id"], "rule": manual.rule,
                                                                "status": ACTIVE}, stamp)
            new_id = self._insert_sanction(row["user_id"], row["verdict_id"], post_id, manual, stamp, None, reviewer)
            return self.sanction(new_id)

    # ---- appeals -----------------------------------------------------------------------------
    def appeal(self, verdict_id: str, reason: str, user: str | None = None, at: datetime | None = None) -> int:
        if not reason.strip():
            raise LedgerError("an appeal needs the user's reason")
        stamp = _iso(at or _now())
        with self._write():
            row = self.db.execute("SELECT user_id FROM verdicts WHERE verdict_id = ?", (verdict_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no verdict {verdict_id!r} in the ledger")
            if user is not None and row["user_id"] is not None and user != row["user_id"]:
                raise LedgerError(f"verdict {verdict_id!r} is about user {row['user_id']!r}, not {user!r}")
            if self.db.execute("SELECT 1 FROM appeals WHERE verdict_id = ? AND status = 'open'",
                               (verdict_id,)).fetchone():
                raise LedgerError(f"verdict {verdict_id!r} already has an open appeal")
            cursor = self.db.execute("INSERT INTO appeals (verdict_id, user_id, reason, status, filed_at) "
                                     "VALUES (?, ?, ?, 'open', ?)", (verdict_id, row["user_id"], reason, stamp))
            appeal_id = int(cursor.lastrowid or 0)
            self._audit(row["user_id"] or "user", "appeal.filed", str(appeal_id),
                        {"verdict": verdict_id, "reason": reason}, stamp)
        return appeal_id

    def appeals(self, status: str | None = None, user: str | None = None, rule: str | None = None,
                since: str | None = None, verdict_id: str | None = None, post_id: str | None = None) -> list[AppealRow]:
        where, args = _where(("a.status = ?", status), ("a.user_id = ?", user), ("a.filed_at >= ?", since),
                             ("a.verdict_id = ?", verdict_id), ("v.post_id = ?", post_id),
                             ("EXISTS (SELECT 1 FROM json_each(v.rules) WHERE json_each.value = ?)", rule))
        rows = self.db.execute("SELECT a.* FROM appeals a JOIN verdicts v ON v.verdict_id = a.verdict_id"
                               f"{where} ORDER BY a.filed_at, a.appeal_id", args).fetchall()
        return [AppealRow(**dict(r)) for r in rows]

    def appeal_row(self, appeal_id: int) -> AppealRow:
        row = self.db.execute("SELECT * FROM appeals WHERE appeal_id = ?", (appeal_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no appeal {appeal_id} in the ledger")
        return AppealRow(**dict(row))

    def decide_appeal(self, engine: Engine, appeal_id: int, outcome: str, reviewer: str, reason: str,
                      step: str | None = None, at: datetime | None = None) -> AppealRow:
        """uphold (nothing changes), overturn (the sanction is lifted, the strike removed and
        every later sanction it raised recomputed) or modify (the sanction moves to ``step``)."""
        stamp = _decision("outcome", outcome, ("uphold", "overturn", "modify"), reason, at)
        with self._write():
            self._known_reviewer(reviewer)
            appeal = self.appeal_row(appeal_id)
            if appeal.status != "open":
                raise LedgerError(f"appeal {appeal_id} is already decided ({appeal.outcome})")
            self.db.execute("UPDATE appeals SET status = 'decided', outcome = ?, reviewer = ?, decision_reason = ?, "
                            "decided_at = ? WHERE appeal_id = ?", (outcome, reviewer, reason, stamp, appeal_id))
            self._audit(reviewer, "appeal.decided", str(appeal_id),
                        {"outcome": outcome, "reason": reason, "step": step}, stamp)
            live = [s for s in self.sanctions(verdict_id=appeal.verdict_id) if s.status in (ACTIVE, PENDING)]
            if outcome == "overturn":
                post_id = self.db.execute("SELECT post_id FROM verdicts WHERE verdict_id = ?",
                                          (appeal.verdict_id,)).fetchone()["post_id"]
                self._undo(engine, post_id, reviewer, stamp)
            elif outcome == "modify":
                target = self._step(engine, step)
                for s in live:
                    changed = _with_step(s.detail, target, s.status,
                                         f"appeal {appeal_id}: reviewer {reviewer} changed it to {target.name}")
                    self._set_sanction(s.sanction_id, "superseded", reviewer, stamp)
                    self._insert_sanction(s.user_id, s.verdict_id, s.post_id, changed, s.starts_at, s.sanction_id,
                                          reviewer, stamp)
        return self.appeal_row(appeal_id)

    # ---- state changes shared by the decisions ---------------------------------------------------------
    def _set_sanction(self, sanction_id: int, status: str, actor: str, stamp: str) -> None:
        self.db.execute("UPDATE sanctions SET status = ? WHERE sanction_id = ?", (status, sanction_id))
        self._audit(actor, f"sanction.{status}", str(sanction_id), {}, stamp)

    def _remove_strike(self, post_id: str, actor: str, stamp: str) -> None:
        if self.db.execute("UPDATE strikes SET status = 'removed' WHERE post_id = ? AND status != 'removed'",
                           (post_id,)).rowcount:
            self._audit(actor, "strike.removed", post_id, {}, stamp)

    def _activate_strike(self, post_id: str, actor: str, stamp: str) -> None:
        if self.db.execute("UPDATE strikes SET status = ? WHERE post_id = ? AND status = ?",
                           (ACTIVE, post_id, PENDING)).rowcount:
            self._audit(actor, "strike.activated", post_id, {}, stamp)

    def _close_reports(self, post_id: str, actor: str, stamp: str) -> None:
        if self.db.execute("UPDATE reports SET status = 'closed' WHERE post_id = ? AND status = 'open'",
                           (post_id,)).rowcount:
            self._audit(actor, "reports.closed", post_id, {}, stamp)

    def _undo(self, engine: Engine, post_id: str, actor: str, stamp: str) -> None:
        """Lift the post's sanctions, remove its strike, recompute what that strike raised."""
        owner = self.db.execute("SELECT user_id FROM posts WHERE post_id = ?", (post_id,)).fetchone()
        for s in self.sanctions(post_id=post_id):
            if s.status in (ACTIVE, PENDING):
                self._set_sanction(s.sanction_id, "lifted", actor, stamp)
        self._remove_strike(post_id, actor, stamp)
        if owner is not None and owner["user_id"]:
            self._recompute_after(engine, owner["user_id"], post_id, actor, stamp)

    def _recompute_after(self, engine: Engine, user: str, removed_post: str, actor: str, stamp: str) -> None:
        """Re-derive the user's later sanctions, oldest first, with the strikes as they now stand.

        Removing a strike lowers the steps after it, and a lower step can release a hold
        (making a pending strike count) that matters to the next one, so every later
        sanction is re-checked in recording order under the current policy, and its
        strike follows its new status.  A sanction a reviewer has already decided keeps
        the reviewer's status; its step can only go down."""
        removed = self.db.execute("SELECT strike_id FROM strikes WHERE post_id = ?", (removed_post,)).fetchone()
        if removed is None:
            return
        order = {r["post_id"]: r["strike_id"] for r in self.db.execute(
            "SELECT post_id, strike_id FROM strikes WHERE user_id = ? AND strike_id > ?", (user, removed["strike_id"]))}
        later = sorted((s for s in self.sanctions(user=user) if s.status in (ACTIVE, PENDING) and s.post_id in order),
                       key=lambda s: order[s.post_id])
        for s in later:
            history = self._active_strikes(user, before_post=s.post_id)
            fresh = engine.check(self.post(s.post_id), checked_at=_parse(s.starts_at), history=history).sanction
            if fresh is None:
                continue
            fresh = _brake_hold(fresh, self._tripped_rules(by=s.starts_at))
            if self._reviewed(s.sanction_id):
                if fresh.level >= s.detail.level:
                    continue
                fresh = replace(fresh, status=s.status, holds=s.detail.holds, reviewers_needed=s.reviewers_needed)
            if (fresh.step, fresh.status) != (s.step, s.status):
                fresh = _with_path(fresh, f"recomputed after the strike of post {removed_post} was removed")
                self._set_sanction(s.sanction_id, "superseded", actor, stamp)
                self._insert_sanction(s.user_id, s.verdict_id, s.post_id, fresh, s.starts_at, s.sanction_id, actor,
                                      stamp)
            wanted = ACTIVE if fresh.status == ACTIVE else PENDING
            if self.db.execute("UPDATE strikes SET status = ? WHERE post_id = ? AND status IN (?, ?) AND status != ?",
                               (wanted, s.post_id, ACTIVE, PENDING, wanted)).rowcount:
                self._audit(actor, f"strike.{'activated' if wanted == ACTIVE else 'held'}", s.post_id, {}, stamp)

    def _tripped_rules(self, by: str) -> set[str]:
        """Rules whose brake had tripped by ``by`` and is still tripped."""
        rows = self.db.execute("SELECT DISTINCT rule FROM brakes WHERE status = 'tripped' AND tripped_at <= ?", (by,))
        return {r["rule"] for r in rows}

    def _reviewed(self, sanction_id: int) -> bool:
        """Whether a reviewer decided this sanction or one it replaced."""
        current: int | None = sanction_id
        while current is not None:
            if self.db.execute("SELECT 1 FROM reviews WHERE sanction_id = ?", (current,)).fetchone():
                return True
            row = self.db.execute("SELECT replaces FROM sanctions WHERE sanction_id = ?", (current,)).fetchone()
            current = row["replaces"] if row else None
        return False

    @staticmethod
    def _step(engine: Engine, name: str | None):
        ladder = engine.policy.ladder
        if ladder is None:
            raise LedgerError("the policy has no ladder")
        for step in ladder.steps:
            if step.name == name:
                return step
        raise LedgerError(f"unknown step {name!r}; steps: {', '.join(s.name for s in ladder.steps)}")

    @staticmethod
    def _level(engine: Engine, name: str) -> int:
        assert engine.policy.ladder is not None
        return [s.name for s in engine.policy.ladder.steps].index(name) + 1


def _with_step(sanction: Sanction, step, status: str, note: str) -> Sanction:
    return replace(sanction, step=step.name, title=step.title, action=step.action, days=step.days,
                   permanent=step.permanent, status=status, path=sanction.path + (note,))


def _decision(what: str, choice: str, allowed: tuple[str, ...], reason: str, at: datetime | None) -> str:
    """Refuse an unknown choice or a missing reason; the time the decision is recorded."""
    if choice not in allowed:
        raise LedgerError(f"unknown {what} {choice!r}: {', '.join(allowed[:-1])} or {allowed[-1]}")
    if not reason.strip():
        raise LedgerError("a decision needs a reason")
    return _iso(at or _now())


def _where(*tests: tuple[str, object]) -> tuple[str, list]:
    """A WHERE clause of the tests whose value is given (None: no filter)."""
    given = [(sql, value) for sql, value in tests if value is not None]
    return (" WHERE " + " AND ".join(sql for sql, _ in given) if given else "", [value for _, value in given])


def _brake_hold(sanction: Sanction, tripped: set[str]) -> Sanction:
    """Hold a sanction for review while the brake on its rule is tripped."""
    if sanction.rule not in tripped or sanction.status == SHADOW or any(h[0] == "brake" for h in sanction.holds):
        return sanction
    reason = f"emergency brake: rule {sanction.rule} changed recently and matches far more posts than before"
    return replace(sanction, status=PENDING, holds=sanction.holds + (("brake", reason),),
                   reviewers_needed=max(sanction.reviewers_needed, 1))


def _with_path(sanction: Sanction, note: str) -> Sanction:
    return replace(sanction, path=sanction.path + (note,))
