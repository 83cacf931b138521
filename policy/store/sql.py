"""The ledger's SQL, shared by the SQLite and PostgreSQL backends.

:class:`SqlLedger` holds every query of :class:`~policy.store.ledger.BaseLedger`'s storage
primitives and public reads, written once in the SQL both databases speak (``?`` placeholders,
``ON CONFLICT``, standard joins).  A backend supplies the connection and its transactions
(``_q``, ``_q_many``, ``_write``), and the few things the two dialects say differently:
how an inserted row's id comes back (``_insert_id``), how to ask whether a JSON array of rule ids
holds one (``_has_rule``), and the column types of the migrations (:func:`schema_script`).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from policy.model.post import Post
from policy.model.sanction import Sanction
from policy.model.verdict import Verdict
from policy.store.ledger import (
    GENESIS,
    STATE_TABLES,
    AppealRow,
    BaseLedger,
    Batch,
    LedgerError,
    SanctionRow,
    UnknownRecord,
    WatchedRule,
)

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
    CREATE TABLE strikes (strike_id {serial}, user_id TEXT NOT NULL, post_id TEXT NOT NULL UNIQUE,
                          verdict_id TEXT NOT NULL, rule TEXT NOT NULL, severity INTEGER NOT NULL,
                          at TEXT NOT NULL, status TEXT NOT NULL);
    CREATE INDEX strikes_user ON strikes(user_id, at);
    CREATE TABLE sanctions (sanction_id {serial}, user_id TEXT NOT NULL, verdict_id TEXT NOT NULL,
                            post_id TEXT NOT NULL, rule TEXT NOT NULL, step TEXT NOT NULL, action TEXT NOT NULL,
                            days INTEGER, permanent INTEGER NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT,
                            status TEXT NOT NULL, reviewers_needed INTEGER NOT NULL, detail TEXT NOT NULL,
                            replaces INTEGER);
    CREATE INDEX sanctions_user ON sanctions(user_id, starts_at);
    CREATE TABLE reviews (review_id {serial}, sanction_id INTEGER, post_id TEXT, reviewer TEXT NOT NULL,
                          decision TEXT NOT NULL, step TEXT, reason TEXT NOT NULL, at TEXT NOT NULL);
    CREATE TABLE reports (report_id {serial}, post_id TEXT NOT NULL, reporter TEXT NOT NULL,
                          reason TEXT NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL);
    CREATE TABLE appeals (appeal_id {serial}, verdict_id TEXT NOT NULL, user_id TEXT,
                          reason TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT, reviewer TEXT,
                          decision_reason TEXT, filed_at TEXT NOT NULL, decided_at TEXT);
    CREATE TABLE reviewers (name TEXT PRIMARY KEY, added_at TEXT NOT NULL);
    CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                        subject TEXT NOT NULL, payload TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '""" + GENESIS + """');
    """),
    (2, """
    CREATE TABLE rule_versions (rule TEXT NOT NULL, fingerprint TEXT NOT NULL, first_seen TEXT NOT NULL,
                                checked INTEGER NOT NULL DEFAULT 0, matched INTEGER NOT NULL DEFAULT 0,
                                status TEXT NOT NULL DEFAULT 'watched', PRIMARY KEY (rule, fingerprint));
    CREATE TABLE brakes (brake_id {serial}, rule TEXT NOT NULL, fingerprint TEXT NOT NULL,
                         tripped_at TEXT NOT NULL, checked INTEGER NOT NULL, matched INTEGER NOT NULL,
                         status TEXT NOT NULL, reset_by TEXT, reset_at TEXT, reset_reason TEXT);
    CREATE INDEX sanctions_post ON sanctions(post_id);
    """),
    (3, """
    CREATE TABLE api_keys (digest TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, created_at TEXT NOT NULL,
                           revoked_at TEXT);
    CREATE UNIQUE INDEX api_keys_live ON api_keys(name) WHERE revoked_at IS NULL;
    """),
    (4, """
    CREATE TABLE accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL, created_at TEXT NOT NULL,
                           disabled_at TEXT);
    CREATE TABLE sessions (digest TEXT PRIMARY KEY, name TEXT NOT NULL, started_at TEXT NOT NULL,
                           expires_at TEXT NOT NULL);
    """),
    (5, ""),  # the state seal (``state.sealed`` audit rows); a ledger from before gets a baseline seal
]
SEALED_FROM = 5
"""The schema version from which the audit chain seals the state tables."""
META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
"""The schema, one script per version, in the column types of SQLite; ``{serial}`` is an id the
database assigns.  :func:`schema_script` writes a script out for a backend."""
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_script(script: str, serial: str, types: Mapping[str, str] | None = None) -> list[str]:
    """A migration's statements for one backend: ``{serial}`` becomes ``serial`` and each column
    type in ``types`` its replacement (whole words only)."""
    import re

    text = script.replace("{serial}", serial)
    for name, replacement in (types or {}).items():
        text = re.sub(rf"\b{name}\b", replacement, text)
    return [s.strip() for s in text.split(";") if s.strip()]


class Cursor(Protocol):
    """What a query gives back, on either backend."""

    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class SqlLedger(BaseLedger):
    """Every query of the ledger, over a backend's ``_q`` (see the module docstring)."""

    SERIAL = "INTEGER PRIMARY KEY"
    TYPES: Mapping[str, str] = {}
    """The backend's words for an id the database assigns, and for SQLite's column types."""
    path: str

    # ---- schema ---------------------------------------------------------------------------------
    def _migrating(self) -> AbstractContextManager[Any]:
        """The transaction migrations run in (a backend orders concurrent migrators here)."""
        return self._begin()

    def schema_version(self) -> int:
        for statement in schema_script(META, self.SERIAL, self.TYPES):
            self._q(statement)
        row = self._q("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row["value"]) if row else 0

    def migrate(self) -> None:
        with self._migrating():
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise LedgerError(f"ledger {self.path} has schema {current}, newer than this engine's "
                                  f"{SCHEMA_VERSION}; upgrade the engine")
            for version, script in MIGRATIONS:
                if version > current:
                    for statement in schema_script(script, self.SERIAL, self.TYPES):
                        self._q(statement)
                    self._q("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))
            if 0 < current < SEALED_FROM:
                self._seal_baseline()

    @abstractmethod
    def _q(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        """Run one statement (``?`` placeholders) in the current transaction, or on its own when
        there is none; rows read by column name."""

    @abstractmethod
    def _q_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of arguments."""

    @abstractmethod
    def _insert_id(self, sql: str, args: Sequence[Any], key: str) -> int:
        """Run an INSERT and return the id the database gave the row (column ``key``)."""

    @abstractmethod
    def _has_rule(self, column: str) -> str:
        """A condition: the JSON array of rule ids in ``column`` holds the rule given as ``?``."""

    # ---- the audit chain ---------------------------------------------------------------------
    def _rows_where(self, table: str, column: str | None = None, values: Sequence[Any] = ()) -> list[dict]:
        """Every row of a state table, or those whose ``column`` is one of ``values``."""
        if column is None:
            return [dict(r) for r in self._q(f"SELECT * FROM {table}")]
        rows: list[dict] = []
        for chunk in _chunks(list(values)):
            rows += [dict(r) for r in self._q(f"SELECT * FROM {table} WHERE {column} IN "
                                              f"({', '.join('?' * len(chunk))})", chunk)]
        return rows

    def _audit_head(self) -> tuple[int, str] | None:
        head = self._q("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return (head["seq"], head["hash"]) if head is not None else None

    def _append_audit(self, seq: int, at: str, actor: str, action: str, subject: str, payload: str, prev: str,
                      digest: str) -> None:
        self._insert("audit", ("seq", "at", "actor", "action", "subject", "payload", "prev", "hash"),
                     (seq, at, actor, action, subject, payload, prev, digest))

    def _insert(self, table: str, columns: tuple[str, ...], row: tuple, keep_existing: bool = False) -> None:
        """Insert a row nothing reads back before the transaction ends (``keep_existing``: unless
        its key is there already): kept for the batch's end when there is a batch (see
        :class:`~policy.store.ledger.Batch`), inserted now when not."""
        batch = self._batch()
        if batch is None:
            self._q(_insert_sql(table, columns, keep_existing), row)
        else:
            batch.pending.setdefault((table, columns, keep_existing), []).append(row)
        if table in STATE_TABLES:  # every column given: the seal hashes the row as given
            self._inserted(table, dict(zip(columns, row, strict=True)))

    def _insert_pending(self, batch: Batch) -> None:
        for (table, columns, keep_existing), rows in batch.pending.items():
            self._q_many(_insert_sql(table, columns, keep_existing), rows)

    def _new_id(self, table: str, key: str) -> int:
        """A new row's id, given by the ledger, not the database: one past the table's highest, then
        counted on in the transaction.  Safe because every write holds the ledger's write lock, and
        the row's id is known before it is inserted (its audit row names it; a batch inserts late)."""
        local = self._thread_state()
        given = local.next_ids.get((table, key))
        if given is None:
            given = self._q(f"SELECT COALESCE(MAX({key}), 0) AS top FROM {table}").fetchone()["top"] + 1
        local.next_ids[table, key] = given + 1
        return given

    def _set_audit_head(self, seq: int, digest: str) -> None:
        self._q("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))

    def audit_rows(self) -> list[dict]:
        return [dict(r) for r in self._q("SELECT * FROM audit ORDER BY seq").fetchall()]

    # ---- the emergency brake ------------------------------------------------------------------
    def _register_rules(self, rules: list[tuple[str, str]], stamp: str) -> None:
        self._q_many("INSERT INTO rule_versions (rule, fingerprint, first_seen) VALUES (?, ?, ?) "
                     "ON CONFLICT DO NOTHING", [(rule, fingerprint, stamp) for rule, fingerprint in rules])

    def _watched_rules(self, since: str) -> list[WatchedRule]:
        rows = self._q("SELECT rule, fingerprint, checked, matched, status, first_seen FROM rule_versions "
                       "WHERE first_seen > ? AND status != 'accepted'", (since,)).fetchall()
        return [WatchedRule(r["rule"], r["fingerprint"], r["checked"], r["matched"], r["status"], r["first_seen"])
                for r in rows]

    def _set_rule_counts(self, rows: list[WatchedRule]) -> None:
        self._q_many("UPDATE rule_versions SET checked = ?, matched = ?, status = ? WHERE rule = ? AND fingerprint = ?",
                     [(row.checked, row.matched, row.status, row.rule, row.fingerprint) for row in rows])

    def _add_brake(self, row: WatchedRule, stamp: str) -> int:
        return self._insert_id("INSERT INTO brakes (rule, fingerprint, tripped_at, checked, matched, status) "
                               "VALUES (?, ?, ?, ?, ?, 'tripped')",
                               (row.rule, row.fingerprint, stamp, row.checked, row.matched), "brake_id")

    def _reset_brakes(self, rule: str, reviewer: str, stamp: str, reason: str) -> int:
        changed = self._q(
            "UPDATE brakes SET status = 'reset', reset_by = ?, reset_at = ?, reset_reason = ? "
            "WHERE rule = ? AND status = 'tripped'", (reviewer, stamp, reason, rule)).rowcount
        if changed:
            self._q("UPDATE rule_versions SET status = 'accepted' WHERE rule = ? AND status = 'tripped'",
                    (rule,))
        return changed

    def _tripped_rules(self, by: str) -> set[str]:
        rows = self._q("SELECT DISTINCT rule FROM brakes WHERE status = 'tripped' AND tripped_at <= ?", (by,))
        return {r["rule"] for r in rows}

    def brake_status(self) -> dict:
        brakes = [dict(r) for r in self._q("SELECT * FROM brakes ORDER BY tripped_at").fetchall()]
        watched = [dict(r) for r in self._q(
            "SELECT * FROM rule_versions WHERE status != 'accepted' AND matched > 0 ORDER BY matched DESC").fetchall()]
        return {"tripped": [b for b in brakes if b["status"] == "tripped"], "history": brakes, "rules": watched}

    def _outcome_counts(self, rule: str) -> Counter:
        reviews = self._q(
            "SELECT r.decision, COUNT(*) AS n FROM reviews r JOIN sanctions s ON s.sanction_id = r.sanction_id "
            "WHERE s.rule = ? GROUP BY r.decision", (rule,)).fetchall()
        appeals = self._q(
            "SELECT a.outcome, COUNT(*) AS n FROM appeals a JOIN verdicts v ON v.verdict_id = a.verdict_id "
            f"WHERE a.status = 'decided' AND {self._has_rule('v.rules')} "
            "GROUP BY a.outcome", (rule,)).fetchall()
        counts = Counter({f"review.{r['decision']}": r["n"] for r in reviews})
        counts.update({f"appeal.{a['outcome']}": a["n"] for a in appeals})
        return counts

    # ---- policy versions, posts and verdicts ------------------------------------------------------
    def _policy_version_known(self, version: str) -> bool:
        return self._q("SELECT 1 FROM policy_versions WHERE version = ?", (version,)).fetchone() is not None

    def _add_policy_version(self, version: str, name: str, sources: str, stamp: str) -> None:
        self._q("INSERT INTO policy_versions VALUES (?, ?, ?, ?)", (version, name, sources, stamp))

    def _add_post(self, post_id: str, user: str | None, post: str, stamp: str) -> None:
        self._insert("posts", ("post_id", "user_id", "post", "first_seen"), (post_id, user, post, stamp),
                     keep_existing=True)

    def _add_verdict(self, verdict: Verdict, version: str, rules: str, text: str) -> None:
        self._insert("verdicts", ("verdict_id", "post_id", "user_id", "policy_version", "decision", "checked_at",
                                  "rules", "json"),
                     (verdict.verdict_id, verdict.post_id, verdict.user_id, version, verdict.decision,
                      verdict.checked_at, rules, text))

    def _recorded_verdicts(self, post_ids: list[str], version: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(post_ids):
            rows = self._q(f"SELECT post_id, json FROM verdicts WHERE policy_version = ? AND post_id IN "
                           f"({', '.join('?' * len(chunk))}) ORDER BY checked_at", (version, *chunk))
            found.update((r["post_id"], r["json"]) for r in rows)  # the latest last
        return found

    def _post_exists(self, post_id: str) -> bool:
        return self._q("SELECT 1 FROM posts WHERE post_id = ?", (post_id,)).fetchone() is not None

    def _post_owner(self, post_id: str) -> str | None:
        row = self._q("SELECT user_id FROM posts WHERE post_id = ?", (post_id,)).fetchone()
        return row["user_id"] if row is not None else None

    def _verdict_owner(self, verdict_id: str) -> tuple[bool, str | None]:
        row = self._q("SELECT user_id FROM verdicts WHERE verdict_id = ?", (verdict_id,)).fetchone()
        return (row is not None, row["user_id"] if row is not None else None)

    def _verdict_post(self, verdict_id: str) -> str:
        return self._q("SELECT post_id FROM verdicts WHERE verdict_id = ?", (verdict_id,)).fetchone()["post_id"]

    def _latest_verdict(self, post_id: str) -> tuple[str, str | None] | None:
        row = self._q("SELECT verdict_id, user_id FROM verdicts WHERE post_id = ? "
                      "ORDER BY checked_at DESC LIMIT 1", (post_id,)).fetchone()
        return (row["verdict_id"], row["user_id"]) if row is not None else None

    def verdict(self, verdict_id: str) -> dict:
        row = self._q("SELECT json FROM verdicts WHERE verdict_id = ?", (verdict_id,)).fetchone()
        if row is None:
            raise UnknownRecord(f"no verdict {verdict_id!r} in the ledger")
        return json.loads(row["json"])

    def verdicts(self, post_id: str | None = None, user: str | None = None) -> list[dict]:
        where, args = _where(("post_id = ?", post_id), ("user_id = ?", user))
        rows = self._q(f"SELECT json FROM verdicts{where} ORDER BY checked_at", args).fetchall()
        return [json.loads(r["json"]) for r in rows]

    def posts(self) -> list[Post]:
        return [Post.from_dict(json.loads(r["post"]))
                for r in self._q("SELECT post FROM posts ORDER BY first_seen, post_id").fetchall()]

    def post(self, post_id: str) -> Post:
        row = self._q("SELECT post FROM posts WHERE post_id = ?", (post_id,)).fetchone()
        if row is None:
            raise UnknownRecord(f"no post {post_id!r} in the ledger")
        return Post.from_dict(json.loads(row["post"]))

    def policy_sources(self, version: str) -> dict[str, str]:
        row = self._q("SELECT sources FROM policy_versions WHERE version = ?", (version,)).fetchone()
        return json.loads(row["sources"]) if row else {}

    # ---- strikes and sanctions ------------------------------------------------------------------
    def strikes(self, user: str) -> list[dict]:
        rows = self._q("SELECT * FROM strikes WHERE user_id = ? ORDER BY at", (user,)).fetchall()
        return [dict(r) for r in rows]

    def _strike_id(self, post_id: str) -> int | None:
        row = self._q("SELECT strike_id FROM strikes WHERE post_id = ?", (post_id,)).fetchone()
        return row["strike_id"] if row is not None else None

    def _strike_rows(self, user: str, status: str) -> list[tuple[int, str, str, str, int, str]]:
        rows = self._q("SELECT * FROM strikes WHERE user_id = ? AND status = ? ORDER BY strike_id",
                       (user, status)).fetchall()
        return [(r["strike_id"], r["post_id"], r["verdict_id"], r["rule"], r["severity"], r["at"]) for r in rows]

    def _strike_rows_of(self, users: list[str], status: str) -> dict[str, list[tuple[int, str, str, str, int, str]]]:
        found: dict[str, list[tuple[int, str, str, str, int, str]]] = {}
        for chunk in _chunks(users):
            rows = self._q(f"SELECT * FROM strikes WHERE status = ? AND user_id IN ({', '.join('?' * len(chunk))}) "
                           "ORDER BY strike_id", (status, *chunk))
            for r in rows:
                found.setdefault(r["user_id"], []).append(
                    (r["strike_id"], r["post_id"], r["verdict_id"], r["rule"], r["severity"], r["at"]))
        return found

    def _struck_posts(self, post_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(post_ids):
            found.update(r["post_id"] for r in self._q(
                f"SELECT post_id FROM strikes WHERE post_id IN ({', '.join('?' * len(chunk))})", chunk))
        return found

    def _strikes_after(self, user: str, strike_id: int) -> dict[str, int]:
        return {r["post_id"]: r["strike_id"] for r in self._q(
            "SELECT post_id, strike_id FROM strikes WHERE user_id = ? AND strike_id > ?", (user, strike_id))}

    def _add_strike(self, user: str, post_id: str, verdict_id: str, rule: str, severity: int, at: str,
                    status: str) -> None:
        self._insert("strikes", ("strike_id", "user_id", "post_id", "verdict_id", "rule", "severity", "at", "status"),
                     (self._new_id("strikes", "strike_id"), user, post_id, verdict_id, rule, severity, at, status))

    def _set_strike_status(self, post_id: str, status: str, from_statuses: tuple[str, ...]) -> bool:
        marks = ", ".join("?" * len(from_statuses))
        self._touch("strikes", "post_id", post_id)
        return bool(self._q(f"UPDATE strikes SET status = ? WHERE post_id = ? AND status IN ({marks})",
                            (status, post_id, *from_statuses)).rowcount)

    def _add_sanction(self, user: str, verdict_id: str, post_id: str, sanction: Sanction, starts: str,
                      ends: str | None, detail: str, replaces: int | None) -> int:
        sanction_id = self._new_id("sanctions", "sanction_id")
        self._insert("sanctions", ("sanction_id", "user_id", "verdict_id", "post_id", "rule", "step", "action", "days",
                                   "permanent", "starts_at", "ends_at", "status", "reviewers_needed", "detail",
                                   "replaces"),
                     (sanction_id, user, verdict_id, post_id, sanction.rule, sanction.step, sanction.action,
                      sanction.days, int(sanction.permanent), starts, ends, sanction.status, sanction.reviewers_needed,
                      detail, replaces))
        return sanction_id

    def _set_sanction_status(self, sanction_id: int, status: str) -> None:
        self._q("UPDATE sanctions SET status = ? WHERE sanction_id = ?", (status, sanction_id))
        self._touch("sanctions", "sanction_id", sanction_id)

    def _replaced(self, sanction_id: int) -> int | None:
        row = self._q("SELECT replaces FROM sanctions WHERE sanction_id = ?", (sanction_id,)).fetchone()
        return row["replaces"] if row else None

    def sanctions(self, user: str | None = None, status: str | None = None,
                  verdict_id: str | None = None, post_id: str | None = None) -> list[SanctionRow]:
        where, args = _where(("user_id = ?", user), ("status = ?", status), ("verdict_id = ?", verdict_id),
                             ("post_id = ?", post_id))
        rows = self._q(f"SELECT * FROM sanctions{where} ORDER BY starts_at, sanction_id", args).fetchall()
        return [_sanction_row(r) for r in rows]

    def sanction(self, sanction_id: int) -> SanctionRow:
        row = self._q("SELECT * FROM sanctions WHERE sanction_id = ?", (sanction_id,)).fetchone()
        if row is None:
            raise UnknownRecord(f"no sanction {sanction_id} in the ledger")
        return _sanction_row(row)

    def _live_sanctions_of_rule(self, rule: str, since: str, until: str | None,
                                version: str | None) -> list[SanctionRow]:
        where, args = _where(("s.rule = ?", rule), ("s.starts_at >= ?", since), ("s.starts_at < ?", until),
                             ("v.policy_version = ?", version))
        rows = self._q("SELECT s.* FROM sanctions s JOIN verdicts v ON v.verdict_id = s.verdict_id" + where
                       + " AND s.status IN ('active', 'pending_review') ORDER BY s.starts_at, s.sanction_id",
                       args).fetchall()
        return [_sanction_row(r) for r in rows]

    # ---- reviewers and reviews ---------------------------------------------------------------------
    def _reviewer_exists(self, name: str) -> bool:
        return self._q("SELECT 1 FROM reviewers WHERE name = ?", (name,)).fetchone() is not None

    def _add_reviewer(self, name: str, stamp: str) -> None:
        self._q("INSERT INTO reviewers VALUES (?, ?)", (name, stamp))

    def _add_review(self, sanction_id: int | None, post_id: str, reviewer: str, decision: str, step: str | None,
                    reason: str, stamp: str) -> None:
        review_id = self._insert_id("INSERT INTO reviews (sanction_id, post_id, reviewer, decision, step, reason, at) "
                                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    (sanction_id, post_id, reviewer, decision, step, reason, stamp), "review_id")
        self._touch("reviews", "review_id", review_id)

    def _reviews(self, sanction_id: int) -> list[dict]:
        rows = self._q("SELECT * FROM reviews WHERE sanction_id = ? ORDER BY at", (sanction_id,)).fetchall()
        return [dict(r) for r in rows]

    def _has_review(self, sanction_id: int) -> bool:
        return self._q("SELECT 1 FROM reviews WHERE sanction_id = ?", (sanction_id,)).fetchone() is not None

    # ---- reports ----------------------------------------------------------------------------------
    def _add_report(self, post_id: str, reporter: str, reason: str, stamp: str) -> int:
        report_id = self._insert_id("INSERT INTO reports (post_id, reporter, reason, at, status) "
                                    "VALUES (?, ?, ?, ?, 'open')", (post_id, reporter, reason, stamp), "report_id")
        self._touch("reports", "report_id", report_id)
        return report_id

    def reports(self, post_id: str) -> list[dict]:
        rows = self._q("SELECT * FROM reports WHERE post_id = ? ORDER BY at", (post_id,)).fetchall()
        return [dict(r) for r in rows]

    def _has_open_report(self, post_id: str) -> bool:
        return self._q("SELECT 1 FROM reports WHERE post_id = ? AND status = 'open'",
                       (post_id,)).fetchone() is not None

    def _close_open_reports(self, post_id: str) -> bool:
        self._touch("reports", "post_id", post_id)
        return bool(self._q("UPDATE reports SET status = 'closed' WHERE post_id = ? AND status = 'open'",
                            (post_id,)).rowcount)

    def _reported_unsanctioned(self) -> list[tuple[str, int, str]]:
        rows = self._q(
            "SELECT post_id, COUNT(*) AS n, MIN(at) AS since FROM reports WHERE status = 'open' "
            "AND post_id NOT IN (SELECT post_id FROM sanctions WHERE status IN ('active', 'pending_review')) "
            "GROUP BY post_id ORDER BY since").fetchall()
        return [(r["post_id"], r["n"], r["since"]) for r in rows]

    # ---- accounts and sessions ------------------------------------------------------------------------
    def _account(self, name: str) -> tuple[str, str, str | None] | None:
        row = self._q("SELECT role, password, disabled_at FROM accounts WHERE name = ?", (name,)).fetchone()
        return (row["role"], row["password"], row["disabled_at"]) if row is not None else None

    def _add_account(self, name: str, role: str, password: str, stamp: str) -> None:
        self._q("INSERT INTO accounts (name, role, password, created_at) VALUES (?, ?, ?, ?)",
                (name, role, password, stamp))

    def _add_session(self, digest: str, name: str, stamp: str, expires: str) -> None:
        self._q("INSERT INTO sessions VALUES (?, ?, ?, ?)", (digest, name, stamp, expires))

    def _session(self, digest: str, stamp: str) -> tuple[str, str] | None:
        row = self._q("SELECT a.name, a.role FROM sessions s JOIN accounts a ON a.name = s.name "
                      "WHERE s.digest = ? AND s.expires_at > ? AND a.disabled_at IS NULL",
                      (digest, stamp)).fetchone()
        return (row["name"], row["role"]) if row is not None else None

    def _end_session(self, digest: str, stamp: str) -> None:
        self._q("UPDATE sessions SET expires_at = ? WHERE digest = ? AND expires_at > ?",
                (stamp, digest, stamp))

    def _disable_account(self, name: str, stamp: str) -> None:
        self._q("UPDATE accounts SET disabled_at = ? WHERE name = ?", (stamp, name))
        self._q("UPDATE sessions SET expires_at = ? WHERE name = ? AND expires_at > ?", (stamp, name, stamp))

    def accounts(self) -> list[dict]:
        rows = self._q("SELECT name, role, created_at, disabled_at FROM accounts ORDER BY name")
        return [dict(row) for row in rows]

    # ---- API keys ---------------------------------------------------------------------------------
    def api_keys(self) -> list[dict]:
        rows = self._q("SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, name")
        return [dict(r) for r in rows.fetchall()]

    def _live_api_key(self, name: str) -> str | None:
        row = self._q("SELECT role FROM api_keys WHERE name = ? AND revoked_at IS NULL", (name,)).fetchone()
        return row["role"] if row is not None else None

    def _add_api_key(self, name: str, role: str, digest: str, stamp: str) -> None:
        self._q("INSERT INTO api_keys (digest, name, role, created_at) VALUES (?, ?, ?, ?)",
                (digest, name, role, stamp))

    def _revoke_api_key(self, name: str, stamp: str) -> None:
        self._q("UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (stamp, name))

    def _api_key_by_digest(self, digest: str) -> tuple[str, str] | None:
        row = self._q("SELECT name, role FROM api_keys WHERE digest = ? AND revoked_at IS NULL",
                      (digest,)).fetchone()
        return (row["name"], row["role"]) if row is not None else None

    # ---- appeals ----------------------------------------------------------------------------------
    def _has_open_appeal(self, verdict_id: str) -> bool:
        return self._q("SELECT 1 FROM appeals WHERE verdict_id = ? AND status = 'open'",
                       (verdict_id,)).fetchone() is not None

    def _add_appeal(self, verdict_id: str, user: str | None, reason: str, stamp: str) -> int:
        appeal_id = self._insert_id("INSERT INTO appeals (verdict_id, user_id, reason, status, filed_at) "
                                    "VALUES (?, ?, ?, 'open', ?)", (verdict_id, user, reason, stamp), "appeal_id")
        self._touch("appeals", "appeal_id", appeal_id)
        return appeal_id

    def _close_appeal(self, appeal_id: int, outcome: str, reviewer: str, reason: str, stamp: str) -> None:
        self._q("UPDATE appeals SET status = 'decided', outcome = ?, reviewer = ?, decision_reason = ?, "
                "decided_at = ? WHERE appeal_id = ?", (outcome, reviewer, reason, stamp, appeal_id))
        self._touch("appeals", "appeal_id", appeal_id)

    def appeals(self, status: str | None = None, user: str | None = None, rule: str | None = None,
                since: str | None = None, verdict_id: str | None = None, post_id: str | None = None) -> list[AppealRow]:
        where, args = _where(("a.status = ?", status), ("a.user_id = ?", user), ("a.filed_at >= ?", since),
                             ("a.verdict_id = ?", verdict_id), ("v.post_id = ?", post_id),
                             (self._has_rule("v.rules"), rule))
        rows = self._q("SELECT a.* FROM appeals a JOIN verdicts v ON v.verdict_id = a.verdict_id"
                       f"{where} ORDER BY a.filed_at, a.appeal_id", args).fetchall()
        return [AppealRow(**dict(r)) for r in rows]

    def appeal_row(self, appeal_id: int) -> AppealRow:
        row = self._q("SELECT * FROM appeals WHERE appeal_id = ?", (appeal_id,)).fetchone()
        if row is None:
            raise UnknownRecord(f"no appeal {appeal_id} in the ledger")
        return AppealRow(**dict(row))



def _sanction_row(r: Any) -> SanctionRow:
    return SanctionRow(r["sanction_id"], r["user_id"], r["verdict_id"], r["post_id"], r["rule"], r["step"],
                       r["action"], r["days"], bool(r["permanent"]), r["starts_at"], r["ends_at"], r["status"],
                       r["reviewers_needed"], Sanction.from_dict(json.loads(r["detail"])), r["replaces"])


def _where(*tests: tuple[str, object]) -> tuple[str, list]:
    """A WHERE clause of the tests whose value is given (None: no filter)."""
    given = [(sql, value) for sql, value in tests if value is not None]
    return (" WHERE " + " AND ".join(sql for sql, _ in given) if given else "", [value for _, value in given])


def _insert_sql(table: str, columns: tuple[str, ...], keep_existing: bool = False) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            + (" ON CONFLICT DO NOTHING" if keep_existing else ""))


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    """``values`` in slices for ``IN (…)`` lists, within every SQLite's limit on parameters."""
    for start in range(0, len(values), size):
        yield values[start:start + size]
