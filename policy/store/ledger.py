"""What a ledger decides, written once for every backend.

A ledger records verdicts, strikes, sanctions, reports, reviews, appeals and the audit chain.
:class:`BaseLedger` holds the logic that does not depend on how rows are stored: what the
pipeline's check records, what the emergency brake decides, what a review, an appeal or a bulk
revert changes (and what an overturn recomputes), and how each audit row is chained to the one
before.  A backend (:mod:`policy.store.sqlite`) subclasses it and supplies transactions and the
storage primitives, the methods whose names start with ``_`` and are declared at the end of the
class; the public reads (``verdict``, ``sanctions`` …) are plain queries, also the backend's.

Every change appends to the audit chain in the same transaction: each row holds the hash of the
row before, and the head holds the last hash and count, so changing, removing or reordering any
row, or cutting rows off the end, is detected by :meth:`BaseLedger.verify_audit`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, Protocol

from policy.compiler.compiled import CompiledBrake, CompiledStep
from policy.engine import Engine
from policy.model.post import Post
from policy.model.sanction import ACTIVE, PENDING, SHADOW, Sanction, Strike
from policy.model.verdict import Verdict, escape_surrogates

GENESIS = "0" * 64
"""The hash the first audit row follows."""

API_ROLES = ("pipeline", "admin")
"""What an API key may do: ``pipeline`` checks and records posts, files reports and appeals;
``admin`` also reloads the policy."""


class LedgerError(Exception):
    """A request the ledger refuses: an unknown id, an unknown reviewer, a wrong state."""


class LedgerUnavailable(LedgerError):
    """The ledger cannot be reached just now (a lost connection, a server restarting, every pooled
    connection busy): nothing of the change was written, and the same call may be retried."""


class UnknownRecord(LedgerError):
    """A request naming a verdict, post, sanction, appeal, report or brake the ledger does not hold."""


# ---- time and canonical text --------------------------------------------------------------

def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(when: datetime) -> str:
    """The one time format of the ledger (the verdict's own): UTC, milliseconds, so strings sort as times."""
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def time_arg(text: str) -> str:
    """An ISO 8601 date or time a person gave (naive: UTC), in the ledger's format."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LedgerError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-01 or 2026-11-01T08:00:00Z)") from None
    return iso(when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc))


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""Made once: ``json.dumps`` with options builds an encoder every call, and a record makes a dozen."""


def canonical(data: Any) -> str:
    """JSON with sorted keys and no spaces: what is stored and what the audit chain hashes."""
    return escape_surrogates(_CANONICAL.encode(data))


# ---- the audit chain ---------------------------------------------------------------------------

def chain_hash(prev: str, seq: int, at: str, actor: str, action: str, subject: str, payload: str) -> str:
    text = "\x1f".join((prev, str(seq), at, actor, action, subject, payload))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    rows: int
    bad_seq: int | None = None
    problem: str | None = None
    tampered: tuple[str, ...] = ()
    """State rows that do not match the chain, each as ``TABLE KEY: what``."""


STATE_TABLES = {"verdicts": "verdict_id", "strikes": "post_id", "sanctions": "sanction_id",
                "reviews": "review_id", "reports": "report_id", "appeals": "appeal_id"}
"""The tables a user's standing and a case's history are read from, each with the column that
names a row.  Every transaction that changes rows of them ends with a ``state.sealed`` audit row
holding each changed row's content hash, so the chain covers the state: ``verify_audit``
recomputes every current row's hash and names any row changed, added or removed behind the
ledger's back."""


def row_hash(row: dict) -> str:
    """A state row's content hash (the same on every backend: canonical JSON of its columns)."""
    return hashlib.sha256(canonical(row).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def state_problems(rows: list[dict], current: dict[str, list[dict]]) -> list[str]:
    """Compare the state tables' rows with the last seal the chain holds for each of them."""
    sealed: dict[str, dict[str, str]] = {table: {} for table in STATE_TABLES}
    for row in rows:
        if row["action"] in ("state.sealed", "state.baseline"):
            for table, hashes in json.loads(row["payload"]).items():
                sealed.setdefault(table, {}).update(hashes)
    problems = []
    for table, key in STATE_TABLES.items():
        now_rows = {str(r[key]): row_hash(r) for r in current[table]}
        for name, digest in now_rows.items():
            if name not in sealed[table]:
                problems.append(f"{table} {name}: added outside the ledger (no audit row sealed it)")
            elif sealed[table][name] != digest:
                problems.append(f"{table} {name}: changed outside the ledger (not what the chain sealed)")
        problems += [f"{table} {name}: removed outside the ledger" for name in sealed[table] if name not in now_rows]
    return problems


def verify_chain(rows: list[dict], head: tuple[int, str] | None) -> AuditCheck:
    """Check audit rows (in ``seq`` order) against each other and against the head (seq, hash)."""
    prev = GENESIS
    expected_seq = 1
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
    if head is None or head[0] != len(rows) or head[1] != prev:
        return AuditCheck(False, len(rows), len(rows) + 1, "rows were removed from the end of the chain")
    return AuditCheck(True, len(rows))


REVIEWER_ROLES = ("reviewer", "senior", "admin")
"""A reviewer account's role, each allowed what the one before it is: ``reviewer`` decides cases and
appeals; ``senior`` also permanent sanctions, protected accounts, brake resets and bulk reverts;
``admin`` also accounts and policy reloads."""

SESSION_HOURS = 12.0
"""How long a reviewer's sign-in lasts."""

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""scrypt's cost (RFC 7914's interactive setting): about 50 ms and 16 MiB a password check."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A password as the ledger keeps it: scrypt (a memory-hard KDF, in the standard library)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + base64.b64encode(salt).decode() + "$" \
        + base64.b64encode(digest).decode()


def password_matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        found = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=base64.b64decode(salt), dklen=32,
                               n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, base64.b64decode(digest))


def key_digest(token: str) -> str:
    """What the ledger keeps of an API key: its SHA-256.  Keys are 256 random bits, so a fast hash
    is enough (a slow password hash protects guessable secrets; these cannot be guessed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# ---- rows handed out ---------------------------------------------------------------------------

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


@dataclass(slots=True)
class WatchedRule:
    """A rule version the brake watches: checks counted since it first appeared, and matches.
    Mutable: a transaction counts its checks on the rows it read, then writes them once."""

    rule: str
    fingerprint: str
    checked: int
    matched: int
    status: str  # "watched" | "tripped"
    first_seen: str = ""


@dataclass(slots=True)
class Counting:
    """The watched rows a check counts for, by rule: the current version of each rule, first seen
    within the watch window.  A check counts for every one of them (over a hundred in a fresh
    ledger), so the checks are kept as one number owed to them all and added when the rows are read."""

    rows: dict[str, WatchedRule] = field(default_factory=dict)
    owed: int = 0

    def settle(self) -> None:
        """Every row's ``checked`` made current."""
        if self.owed:
            for row in self.rows.values():
                row.checked += self.owed
            self.owed = 0


@dataclass
class Batch:
    """What the posts recorded in one transaction keep in memory until its end.

    Inside the transaction nobody else can read or write the ledger, so what it read at its start
    stays true but for its own changes, which it keeps here as it makes them: the authors' active
    strikes, the posts that have a strike, the brake's counters, the audit chain's head.  Its new
    rows (posts, verdicts, strikes, audit rows) wait in ``pending`` and go to the database in one
    statement per table at the end.  Writing at the end is the same as writing after every post,
    and it saves the round trips that were most of a record's cost."""

    head: tuple[int, str]
    strikes: dict[str, list[Strike]]
    """Each author's active strikes, in recording order (only authors of the batch's posts)."""
    struck: set[str]
    """The batch's posts that have a strike (one strike per post)."""
    versions: set[str] = field(default_factory=set)
    """Policy versions known to be in the ledger."""
    watched: dict[tuple[str, str], WatchedRule] | None = None
    changed: set[tuple[str, str]] = field(default_factory=set)
    counting: Counting = field(default_factory=Counting)
    """Valid while the window's start is in ``counting_valid``."""
    window: tuple[str, str] = ("", "")
    """(a check's time, the start of the brake's watch window then)."""
    counting_valid: tuple[str, str, str] = ("", "", "")
    """(policy version, lowest, highest-but-excluded start of the window) ``counting`` holds for."""
    pending: dict[tuple[str, tuple[str, ...], bool], list[tuple]] = field(default_factory=dict)
    """Rows to insert at the end, by (table, columns, keep existing rows), in the order they were made."""


class Processed(NamedTuple):
    """One post of :meth:`BaseLedger.process_batch`: its verdict, whether this call recorded it
    (False: it was recorded before, and this is that verdict), and the verdict's JSON as stored."""

    verdict: Verdict
    recorded: bool
    json: str


class Ledger(Protocol):
    """What the pipeline and the reviewer's commands need from a store.

    Every backend implements it by subclassing :class:`BaseLedger`."""

    def process(self, engine: Engine, post: Post, at: datetime | None = None) -> Verdict: ...
    def process_batch(self, engine: Engine, posts: list[Post],
                      at: datetime | None = None) -> list[Processed]: ...
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
        """Every post the ledger has seen, oldest first (what ``policy replay --db`` re-checks)."""
        ...

    def post(self, post_id: str) -> Post: ...
    def policy_sources(self, version: str) -> dict[str, str]: ...
    def strikes(self, user: str) -> list[dict]: ...
    def sanctions(self, user: str | None = None, status: str | None = None,
                  verdict_id: str | None = None, post_id: str | None = None) -> list[SanctionRow]: ...
    def standing(self, user: str, at: datetime | None = None) -> dict: ...
    def add_reviewer(self, name: str, actor: str = "admin") -> None: ...
    def audit_rows(self) -> list[dict]: ...
    def verify_audit(self) -> AuditCheck: ...


# ---- decisions that need no storage ----------------------------------------------------------------

def count_check(brake: CompiledBrake, counting: Counting, fired: set[str]) -> list[WatchedRule]:
    """Count one more check for every watched rule (in place), and give the rules this check trips:
    it matched them, they reached the minimum, and they match more than the share."""
    counting.owed += 1
    tripped = []
    for rule in sorted(fired):
        row = counting.rows.get(rule)
        if row is None:
            continue
        row.matched += 1
        if row.status == "watched" and row.matched >= brake.minimum \
                and 100.0 * row.matched / (row.checked + counting.owed) > brake.share:
            row.status = "tripped"
            tripped.append(row)
    if tripped:
        counting.settle()  # a trip reports its counts
    return tripped


def counting_rows(watched: dict[tuple[str, str], WatchedRule], current: dict[str, str],
                  since: str) -> tuple[Counting, str, str]:
    """The rows a check made when the watch window starts at ``since`` counts for (the rules'
    current versions, first seen after ``since``), and the range of starts that gives the same rows."""
    counting: dict[str, WatchedRule] = {}
    low, high = "", "\U0010ffff"
    for (rule, fingerprint), row in watched.items():
        if current.get(rule) != fingerprint:
            continue
        if row.first_seen > since:
            counting[rule] = row
            high = min(high, row.first_seen)
        else:
            low = max(low, row.first_seen)
    return Counting(counting), low, high


def brake_hold(sanction: Sanction, tripped: set[str]) -> Sanction:
    """Hold a sanction for review while the brake on its rule is tripped."""
    if sanction.rule not in tripped or sanction.status == SHADOW or any(h[0] == "brake" for h in sanction.holds):
        return sanction
    reason = f"emergency brake: rule {sanction.rule} changed recently and matches far more posts than before"
    return replace(sanction, status=PENDING, holds=sanction.holds + (("brake", reason),),
                   reviewers_needed=max(sanction.reviewers_needed, 1))


def with_step(sanction: Sanction, step: CompiledStep, status: str, note: str) -> Sanction:
    return replace(sanction, step=step.name, title=step.title, action=step.action, days=step.days,
                   permanent=step.permanent, status=status, path=sanction.path + (note,))


def with_path(sanction: Sanction, note: str) -> Sanction:
    return replace(sanction, path=sanction.path + (note,))


def decision_time(what: str, choice: str, allowed: tuple[str, ...], reason: str, at: datetime | None) -> str:
    """Refuse an unknown choice or a missing reason; the time the decision is recorded."""
    if choice not in allowed:
        raise LedgerError(f"unknown {what} {choice!r}: {', '.join(allowed[:-1])} or {allowed[-1]}")
    if not reason.strip():
        raise LedgerError("a decision needs a reason")
    return iso(at or now())


def ladder_step(engine: Engine, name: str | None) -> CompiledStep:
    ladder = engine.policy.ladder
    if ladder is None:
        raise LedgerError("the policy has no ladder")
    for step in ladder.steps:
        if step.name == name:
            return step
    raise LedgerError(f"unknown step {name!r}; steps: {', '.join(s.name for s in ladder.steps)}")


def step_level(engine: Engine, name: str) -> int:
    assert engine.policy.ladder is not None
    return [s.name for s in engine.policy.ladder.steps].index(name) + 1


# ---- the ledger ---------------------------------------------------------------------------------------

class BaseLedger(ABC):
    """The ledger's logic over a backend's storage primitives (see the module docstring).

    Every public method that changes something runs in one ``_write()`` transaction: all of it
    lands, audit rows included, or none of it."""

    on_brake: Callable[[BrakeTrip], None] | None = None
    _registered: str | None = None
    """The policy version whose rules were last registered with the brake (by this connection)."""

    # ---- the pipeline's path ---------------------------------------------------------------
    def process(self, engine: Engine, post: Post, at: datetime | None = None) -> Verdict:
        """Check a post against its author's standing and record everything, atomically.

        The same post processed again is recorded again but never adds a strike."""
        return self._process_posts(engine, [post], at, skip_recorded=False)[0].verdict

    def process_batch(self, engine: Engine, posts: list[Post],
                      at: datetime | None = None) -> list[Processed]:
        """Process many posts in one transaction (each post still whole: the batch lands or none of
        it does), skipping every post already recorded under this policy version.

        Gives a :class:`Processed` for each post in order: ``recorded`` is False for a post
        skipped, whose verdict is the one recorded before (a post twice in ``posts`` is recorded
        once).  A recording scan that is killed and run again on the same input so records each
        post once, and continues where it stopped."""
        return self._process_posts(engine, posts, at, skip_recorded=True)

    def _process_posts(self, engine: Engine, posts: list[Post], at: datetime | None,
                       skip_recorded: bool) -> list[Processed]:
        trips: list[BrakeTrip] = []
        out: list[Processed] = []
        local = self._thread_state()
        with self._write():
            head = self._audit_head()
            assert head is not None, "the ledger has no audit head"
            post_ids = list(dict.fromkeys(p.id for p in posts))
            authors = sorted({p.user_id for p in posts if p.user_id})
            batch = local.batch = Batch(head, self._active_strikes_of(authors), self._struck_posts(post_ids))
            try:
                done: dict[str, Processed] = {}
                if skip_recorded:
                    done = {post_id: Processed(Verdict.from_dict(json.loads(text)), False, text)
                            for post_id, text in self._recorded_verdicts(post_ids, engine.version).items()}
                for post in posts:
                    if post.id in done:
                        out.append(done[post.id])
                        continue
                    processed = self._process_one(engine, post, at, batch, trips)
                    if skip_recorded:
                        done[post.id] = processed._replace(recorded=False)
                    out.append(processed)
                self._end_batch(batch)
            finally:
                local.batch = None
        self._tell(trips)
        return out

    def _batch(self) -> Batch | None:
        return getattr(self._thread_state(), "batch", None)

    def _end_batch(self, batch: Batch) -> None:
        with self._pipelined():
            if batch.watched is not None:
                batch.counting.settle()
                self._set_rule_counts([batch.watched[key] for key in sorted(batch.changed)])
            self._insert_pending(batch)
            self._set_audit_head(*batch.head)

    def _process_one(self, engine: Engine, post: Post, at: datetime | None, batch: Batch,
                     trips: list[BrakeTrip]) -> Processed:
        history = list(batch.strikes.get(post.user_id, ())) if post.user_id else []
        # checked now (the engine's clock when ``at`` is None), inside the lock: every strike
        # committed before this moment counts
        verdict = engine.check(post, checked_at=at, history=history)
        if engine.policy.brake is not None:
            verdict = self._apply_brake(engine, verdict, batch, trips)
        return Processed(verdict, True, self._record(engine, post, verdict, batch, actor="engine"))

    def _tell(self, trips: list[BrakeTrip]) -> None:
        for trip in trips:  # after the commit: the trip is durable before anyone is told
            if self.on_brake is not None:
                self.on_brake(trip)

    def _audit(self, actor: str, action: str, subject: str, payload: dict, at: str) -> None:
        """Append one row to the audit chain (inside the caller's transaction)."""
        batch = self._batch()
        head = batch.head if batch is not None else self._audit_head()
        assert head is not None, "the ledger has no audit head"
        seq, prev = head
        body = canonical(payload)
        digest = chain_hash(prev, seq + 1, at, actor, action, subject, body)
        self._thread_state().last_at = at
        self._append_audit(seq + 1, at, actor, action, subject, body, prev, digest)
        if batch is not None:
            batch.head = (seq + 1, digest)  # the head row is written once, at the batch's end
        else:
            self._set_audit_head(seq + 1, digest)

    def verify_audit(self) -> AuditCheck:
        """The chain, then the state: every state row as the chain last sealed it."""
        rows = self.audit_rows()
        check = verify_chain(rows, self._audit_head())
        if not check.ok:
            return check
        problems = state_problems(rows, {table: self._rows_where(table) for table in STATE_TABLES})
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            return AuditCheck(False, check.rows, None, "; ".join(problems[:3]) + more, tuple(problems))
        return check

    # ---- transactions and the state seal --------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction holding the write lock from its start (the backend's ``_begin``), ended
        by the seal of every state row it changed; all or nothing (raises LedgerError)."""
        with self._begin():
            local = self._thread_state()
            local.touched, local.inserted, local.next_ids, local.last_at = {}, {}, {}, None
            try:
                yield
                with self._pipelined():
                    if local.touched or local.inserted:
                        self._seal(local.touched, local.inserted, local.last_at or iso(now()))
                    if local.next_ids:
                        self._ids_given(local.next_ids)
            finally:
                local.touched = local.inserted = None

    def _thread_state(self) -> threading.local:
        """This thread's open transaction: what it touched, its batch (made once per ledger)."""
        try:
            return self.__dict__["_thread_local"]
        except KeyError:
            return self.__dict__.setdefault("_thread_local", threading.local())

    def _touch(self, table: str, column: str, value: Any) -> None:
        """A primitive changed the rows of ``table`` whose ``column`` is ``value``."""
        touched = getattr(self._thread_state(), "touched", None)
        if touched is not None:
            touched.setdefault((table, column), set()).add(value)

    def _inserted(self, table: str, row: dict) -> None:
        """A primitive inserted this whole row into a state table (its hash needs no reading back)."""
        inserted = getattr(self._thread_state(), "inserted", None)
        if inserted is not None:
            inserted.setdefault(table, {})[str(row[STATE_TABLES[table]])] = row

    def _seal(self, touched: dict[tuple[str, str], set], inserted: dict[str, dict[str, dict]], stamp: str) -> None:
        """The seal: each changed row's hash, of the row inserted or, for a row changed otherwise,
        as read back (which wins: a row inserted, then changed)."""
        hashes: dict[str, dict[str, str]] = {table: {key: row_hash(row) for key, row in rows.items()}
                                             for table, rows in inserted.items()}
        for (table, column), values in sorted(touched.items()):
            for row in self._rows_where(table, column, sorted(values, key=str)):
                hashes.setdefault(table, {})[str(row[STATE_TABLES[table]])] = row_hash(row)
        if hashes:
            self._audit("ledger", "state.sealed", str(sum(map(len, hashes.values()))), hashes, stamp)

    def _seal_baseline(self) -> None:
        """A ledger from before the seal: its rows as they stand now are taken as the baseline."""
        hashes = {table: {str(r[key]): row_hash(r) for r in self._rows_where(table)}
                  for table, key in STATE_TABLES.items()}
        if any(hashes.values()):
            self._audit("ledger", "state.baseline", "upgrade", hashes, iso(now()))

    # ---- the emergency brake ------------------------------------------------------------------
    def _apply_brake(self, engine: Engine, verdict: Verdict, batch: Batch, trips: list[BrakeTrip]) -> Verdict:
        """Count this check for every watched rule, trip the ones past the thresholds,
        and hold the sanction of a tripped rule for review."""
        brake = engine.policy.brake
        assert brake is not None
        stamp = verdict.checked_at
        if batch.window[0] != stamp:  # posts of one millisecond share a stamp: worked out once
            batch.window = (stamp, iso(parse_time(stamp) - timedelta(days=brake.watch_days)))
        since = batch.window[1]
        if self._registered != engine.version:
            if batch.watched is not None:  # new rule versions: write the counts, then read afresh
                batch.counting.settle()
                self._set_rule_counts([batch.watched[key] for key in sorted(batch.changed)])
                batch.watched, batch.changed, batch.counting_valid = None, set(), ("", "", "")
            self._register_rules([(rule.id, rule.fingerprint) for rule in engine.policy.rules], stamp)
            self._registered = engine.version
        if batch.watched is None:  # a stamp earlier than the batch's first counts against the rows read here
            batch.watched = {(r.rule, r.fingerprint): r for r in self._watched_rules(since)}
        version, low, high = batch.counting_valid
        if version != engine.version or not low <= since < high:
            current = {r.id: r.fingerprint for r in engine.policy.rules}
            batch.counting.settle()
            batch.counting, low, high = counting_rows(batch.watched, current, since)
            batch.counting_valid = (engine.version, low, high)
            batch.changed.update((row.rule, row.fingerprint) for row in batch.counting.rows.values())
        for row in count_check(brake, batch.counting, {v.rule for v in verdict.violations}):
            brake_id = self._add_brake(row, stamp)
            trip = BrakeTrip(brake_id, row.rule, row.fingerprint, stamp, row.checked, row.matched)
            self._audit("engine", "brake.tripped", row.rule,
                        {"fingerprint": row.fingerprint, "checked": row.checked, "matched": row.matched,
                         "share": round(trip.share, 2), "threshold": brake.share, "minimum": brake.minimum},
                        stamp)
            trips.append(trip)
        sanction = verdict.sanction
        if sanction is None:
            return verdict
        row = batch.counting.rows.get(sanction.rule)
        tripped = {sanction.rule} if row is not None and row.status == "tripped" else set()
        return verdict._replace(sanction=brake_hold(sanction, tripped))

    def reset_brake(self, rule: str, reviewer: str, reason: str, at: datetime | None = None) -> int:
        """A reviewer accepts the rule as it now stands: its brake is reset and it is no longer watched.
        Sanctions it held stay in the review queue for their own decisions."""
        if not reason.strip():
            raise LedgerError("a reset needs a reason")
        stamp = iso(at or now())
        with self._write():
            self._known_reviewer(reviewer)
            changed = self._reset_brakes(rule, reviewer, stamp, reason)
            if not changed:
                raise UnknownRecord(f"no tripped brake on rule {rule!r}")
            self._audit(reviewer, "brake.reset", rule, {"reason": reason}, stamp)
        return changed

    def rule_outcomes(self, rule: str) -> dict:
        """What humans decided about the rule's sanctions: reviews and appeals, and the share upheld."""
        counts = self._outcome_counts(rule)
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
        if dry_run:
            return self._live_sanctions_of_rule(rule, since, until, version)
        if not reason.strip():
            raise LedgerError("a revert needs a reason")
        stamp = iso(at or now())
        with self._write():
            self._known_reviewer(reviewer)
            targets = self._live_sanctions_of_rule(rule, since, until, version)
            self._audit(reviewer, "revert.started", rule,
                        {"since": since, "until": until, "version": version, "reason": reason,
                         "sanctions": [t.sanction_id for t in targets]}, stamp)
            for post_id in dict.fromkeys(t.post_id for t in targets):  # by post: recomputing renumbers sanctions
                self._undo(engine, post_id, reviewer, stamp)
        return targets

    # ---- recording a check --------------------------------------------------------------------------
    def _record(self, engine: Engine, post: Post, verdict: Verdict, batch: Batch, actor: str) -> str:
        """Record the check; gives the verdict's JSON as stored."""
        stamp = verdict.checked_at
        policy = engine.policy
        if policy.version not in batch.versions:
            if not self._policy_version_known(policy.version):
                self._add_policy_version(policy.version, policy.name, canonical(policy.sources), stamp)
                self._audit(actor, "policy.first_seen", policy.version, {"name": policy.name}, stamp)
            batch.versions.add(policy.version)
        self._add_post(post.id, post.user_id, canonical(post.to_dict()), stamp)
        text = verdict.to_json()
        self._add_verdict(verdict, policy.version, canonical(verdict.rules), text)
        self._audit(actor, "verdict.recorded", verdict.verdict_id,
                    {"post": post.id, "user": post.user_id, "decision": verdict.decision, "rules": verdict.rules,
                     "policy": policy.version}, stamp)
        sanction = verdict.sanction
        if sanction is None or sanction.status == SHADOW or not post.user_id:
            return text
        if post.id in batch.struck:
            return text  # one strike per post, however often it is processed
        batch.struck.add(post.id)
        strike_status = ACTIVE if sanction.status == ACTIVE else PENDING
        self._add_strike(post.user_id, post.id, verdict.verdict_id, sanction.rule, sanction.severity, stamp,
                         strike_status)
        if strike_status == ACTIVE:
            batch.strikes.setdefault(post.user_id, []).append(
                Strike(post.id, verdict.verdict_id, sanction.rule, sanction.severity, parse_time(stamp)))
        self._audit(actor, "strike.added", post.id, {"user": post.user_id, "rule": sanction.rule,
                                                     "status": strike_status}, stamp)
        self._insert_sanction(post.user_id, verdict.verdict_id, post.id, sanction, stamp, None, actor)
        return text

    def _insert_sanction(self, user: str, verdict_id: str, post_id: str, sanction: Sanction, starts: str,
                         replaces: int | None, actor: str, audit_at: str | None = None) -> int:
        """A sanction counts from ``starts`` (its verdict's time); the audit row is dated
        when the change is made (``audit_at``), so the chain stays in time order."""
        ends = None
        if sanction.days is not None:
            ends = iso(parse_time(starts) + timedelta(days=sanction.days))
        sanction_id = self._add_sanction(user, verdict_id, post_id, sanction, starts, ends,
                                         canonical(sanction.to_dict()), replaces)
        self._audit(actor, "sanction.created", str(sanction_id),
                    {"user": user, "post": post_id, "step": sanction.step, "status": sanction.status,
                     "holds": [h[0] for h in sanction.holds], "replaces": replaces}, audit_at or starts)
        return sanction_id

    def _active_strikes(self, user: str, before_post: str | None = None) -> list[Strike]:
        """The user's counting strikes; with ``before_post``, only those recorded before that
        post's own strike (recording order, not the clock: several can share a millisecond)."""
        rows = self._strike_rows(user, ACTIVE)
        if before_post is not None:
            own = self._strike_id(before_post)
            if own is not None:
                rows = [r for r in rows if r[0] < own]
        return [Strike(post_id, verdict_id, rule, severity, parse_time(at))
                for _, post_id, verdict_id, rule, severity, at in rows]

    def _active_strikes_of(self, users: list[str]) -> dict[str, list[Strike]]:
        """Each user's counting strikes, in recording order (one query for them all)."""
        return {user: [Strike(post_id, verdict_id, rule, severity, parse_time(at))
                       for _, post_id, verdict_id, rule, severity, at in rows]
                for user, rows in self._strike_rows_of(users, ACTIVE).items()}

    # ---- standing and reviewers ------------------------------------------------------------------
    def standing(self, user: str, at: datetime | None = None) -> dict:
        """The user's current state: active strikes and the sanctions in force."""
        stamp = iso(at or now())
        in_force = [s for s in self.sanctions(user=user, status=ACTIVE) if s.ends_at is None or s.ends_at > stamp]
        return {"user": user, "active_strikes": len(self._active_strikes(user)),
                "sanctions_in_force": [(s.sanction_id, s.step) for s in in_force]}

    def add_reviewer(self, name: str, actor: str = "admin") -> None:
        if not name.strip():
            raise LedgerError("a reviewer needs a name")
        with self._write():
            if self._reviewer_exists(name):
                return
            stamp = iso(now())
            self._add_reviewer(name, stamp)
            self._audit(actor, "reviewer.added", name, {}, stamp)

    # ---- API keys ----------------------------------------------------------------------------------
    def add_api_key(self, name: str, role: str, actor: str = "admin", at: datetime | None = None) -> str:
        """A new key for a client of the service; the key itself is returned once and never stored."""
        if not name.strip():
            raise LedgerError("an API key needs a name")
        if role not in API_ROLES:
            raise LedgerError(f"unknown role {role!r}: {' or '.join(API_ROLES)}")
        token = "pk_" + secrets.token_urlsafe(32)
        stamp = iso(at or now())
        with self._write():
            if self._live_api_key(name) is not None:
                raise LedgerError(f"an API key named {name!r} is in use; revoke it first")
            self._add_api_key(name, role, key_digest(token), stamp)
            self._audit(actor, "api_key.added", name, {"role": role}, stamp)
        return token

    def revoke_api_key(self, name: str, actor: str = "admin", at: datetime | None = None) -> None:
        stamp = iso(at or now())
        with self._write():
            if self._live_api_key(name) is None:
                raise UnknownRecord(f"no API key named {name!r} in use")
            self._revoke_api_key(name, stamp)
            self._audit(actor, "api_key.revoked", name, {}, stamp)

    def api_key(self, token: str) -> tuple[str, str] | None:
        """(name, role) of the key a client presented, None when it is unknown or revoked."""
        return self._api_key_by_digest(key_digest(token))

    def record_event(self, actor: str, action: str, subject: str, payload: dict, at: datetime | None = None) -> None:
        """An audited action that changes nothing else in the ledger (a policy reload through the service)."""
        with self._write():
            self._audit(actor, action, subject, payload, iso(at or now()))

    # ---- reviewer accounts and sessions ----------------------------------------------------------------
    def add_account(self, name: str, role: str, password: str, actor: str = "admin",
                    at: datetime | None = None) -> None:
        """A reviewer's account (the name is registered as a reviewer too); the password is kept as
        an scrypt hash."""
        if not name.strip():
            raise LedgerError("an account needs a name")
        if role not in REVIEWER_ROLES:
            raise LedgerError(f"unknown role {role!r}: {', '.join(REVIEWER_ROLES)}")
        if len(password) < 10:
            raise LedgerError("a password needs at least 10 characters")
        stamp = iso(at or now())
        hashed = hash_password(password)
        with self._write():
            if self._account(name) is not None:
                raise LedgerError(f"an account named {name!r} exists")
            self._add_account(name, role, hashed, stamp)
            if not self._reviewer_exists(name):
                self._add_reviewer(name, stamp)
            self._audit(actor, "account.added", name, {"role": role}, stamp)

    def disable_account(self, name: str, actor: str = "admin", at: datetime | None = None) -> None:
        """The account can no longer sign in and its open sessions end; its decisions stay recorded."""
        stamp = iso(at or now())
        with self._write():
            found = self._account(name)
            if found is None or found[2] is not None:
                raise UnknownRecord(f"no enabled account named {name!r}")
            self._disable_account(name, stamp)
            self._audit(actor, "account.disabled", name, {}, stamp)

    def sign_in(self, name: str, password: str, at: datetime | None = None) -> tuple[str, str, str] | None:
        """(session token, role, expiry) for the right password, None otherwise; audited either way."""
        when = at or now()
        found = self._account(name)
        ok = found is not None and found[2] is None and password_matches(password, found[1])
        token = "ps_" + secrets.token_urlsafe(32)
        expires = iso(when + timedelta(hours=SESSION_HOURS))
        with self._write():
            if ok:
                self._add_session(key_digest(token), name, iso(when), expires)
            self._audit(name if found is not None else "unknown", "session.started" if ok else "session.refused",
                        name, {}, iso(when))
        return (token, found[0], expires) if ok and found is not None else None

    def session(self, token: str, at: datetime | None = None) -> tuple[str, str] | None:
        """(name, role) of a signed-in reviewer whose session has not expired and whose account is enabled."""
        return self._session(key_digest(token), iso(at or now()))

    def sign_out(self, token: str, at: datetime | None = None) -> None:
        """End the session the token holds (nothing happens for an unknown one)."""
        with self._write():
            self._end_session(key_digest(token), iso(at or now()))

    def _known_reviewer(self, name: str) -> None:
        if not self._reviewer_exists(name):
            raise LedgerError(f"unknown reviewer {name!r}; add them with `policy reviewer add {name}`")

    # ---- user reports and the review queue ----------------------------------------------------------
    def report(self, post_id: str, reporter: str, reason: str, at: datetime | None = None) -> int:
        """Attach a user's report to a post the ledger has seen.  A reported post that
        no rule flagged waits in the review queue with its reports."""
        if not reporter.strip() or not reason.strip():
            raise LedgerError("a report needs a reporter and a reason")
        stamp = iso(at or now())
        with self._write():
            if not self._post_exists(post_id):
                raise UnknownRecord(f"no post {post_id!r} in the ledger; scan it with --db first")
            report_id = self._add_report(post_id, reporter, reason, stamp)
            self._audit(reporter, "report.filed", post_id, {"report": report_id, "reason": reason}, stamp)
        return report_id

    def queue(self) -> list[dict]:
        """Cases waiting for a human: held sanctions, then reported posts no sanction covers."""
        cases = []
        for s in self.sanctions(status=PENDING):
            cases.append({"case": f"S{s.sanction_id}", "kind": "sanction", "post_id": s.post_id, "user": s.user_id,
                          "rule": s.rule, "step": s.step, "holds": [h[1] for h in s.detail.holds],
                          "hold_names": [h[0] for h in s.detail.holds],
                          "reviewers_needed": s.reviewers_needed,
                          "approvals": self.approvals(s.sanction_id),
                          "since": s.starts_at, "reports": len(self.reports(s.post_id))})
        for post_id, count, since in self._reported_unsanctioned():
            cases.append({"case": f"R{post_id}", "kind": "report", "post_id": post_id,
                          "user": self._post_owner(post_id), "rule": None, "step": None,
                          "holds": ["reported by users; no rule flagged it"], "hold_names": ["report"],
                          "reviewers_needed": 1,
                          "approvals": [], "since": since, "reports": count})
        return cases

    def approvals(self, sanction_id: int) -> list[str]:
        """The distinct reviewers who approved a held sanction so far."""
        return sorted({r["reviewer"] for r in self._reviews(sanction_id) if r["decision"] == "approve"})

    def decide_sanction(self, engine: Engine, sanction_id: int, reviewer: str, decision: str, reason: str,
                        step: str | None = None, at: datetime | None = None) -> SanctionRow:
        """approve (the sanction takes effect once enough distinct reviewers approve),
        reject (no sanction, no strike), or change (a new step, then approve)."""
        stamp = decision_time("decision", decision, ("approve", "reject", "change"), reason, at)
        with self._write():
            self._known_reviewer(reviewer)
            current = self.sanction(sanction_id)
            if current.status != PENDING:
                raise LedgerError(f"sanction {sanction_id} is {current.status}, not waiting for review")
            self._add_review(sanction_id, current.post_id, reviewer, decision, step, reason, stamp)
            self._audit(reviewer, "review.decided", str(sanction_id),
                        {"decision": decision, "step": step, "reason": reason}, stamp)
            if decision == "reject":
                self._set_sanction(sanction_id, "rejected", reviewer, stamp)
                self._remove_strike(current.post_id, reviewer, stamp)
                self._close_reports(current.post_id, reviewer, stamp)
                return self.sanction(sanction_id)
            if decision == "change":
                target = ladder_step(engine, step)
                changed = with_step(current.detail, target, ACTIVE, f"reviewer {reviewer} changed it to {target.name}")
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
        stamp = decision_time("decision", decision, ("dismiss", "sanction"), reason, at)
        with self._write():
            self._known_reviewer(reviewer)
            if not self._has_open_report(post_id):
                raise UnknownRecord(f"no open report on post {post_id!r}")
            self._add_review(None, post_id, reviewer, decision, step, reason, stamp)
            self._audit(reviewer, "report.decided", post_id, {"decision": decision, "step": step,
                                                               "reason": reason}, stamp)
            self._close_reports(post_id, reviewer, stamp)
            if decision == "dismiss":
                return None
            target = ladder_step(engine, step)
            latest = self._latest_verdict(post_id)
            if latest is None or not latest[1]:
                raise LedgerError(f"post {post_id!r} has no author to sanction")
            verdict_id, user = latest
            manual = Sanction(step=target.name, title=target.title, action=target.action, days=target.days,
                              permanent=target.permanent, level=step_level(engine, target.name),
                              rule=f"report:{reviewer}", severity=0, strikes_counted=0, counted_posts=(),
                              factors=(), holds=(), reviewers_needed=0, status=ACTIVE,
                              path=(f"reviewer {reviewer} sanctioned the reported post at {target.name}: {reason}",))
            if self._strike_id(post_id) is None:
                self._add_strike(user, post_id, verdict_id, manual.rule, 0, stamp, ACTIVE)
                self._audit(reviewer, "strike.added", post_id, {"user": user, "rule": manual.rule,
                                                                "status": ACTIVE}, stamp)
            new_id = self._insert_sanction(user, verdict_id, post_id, manual, stamp, None, reviewer)
            return self.sanction(new_id)

    # ---- appeals -----------------------------------------------------------------------------
    def appeal(self, verdict_id: str, reason: str, user: str | None = None, at: datetime | None = None) -> int:
        if not reason.strip():
            raise LedgerError("an appeal needs the user's reason")
        stamp = iso(at or now())
        with self._write():
            found, owner = self._verdict_owner(verdict_id)
            if not found:
                raise UnknownRecord(f"no verdict {verdict_id!r} in the ledger")
            if user is not None and owner is not None and user != owner:
                raise LedgerError(f"verdict {verdict_id!r} is about user {owner!r}, not {user!r}")
            if self._has_open_appeal(verdict_id):
                raise LedgerError(f"verdict {verdict_id!r} already has an open appeal")
            appeal_id = self._add_appeal(verdict_id, owner, reason, stamp)
            self._audit(owner or "user", "appeal.filed", str(appeal_id), {"verdict": verdict_id, "reason": reason},
                        stamp)
        return appeal_id

    def decide_appeal(self, engine: Engine, appeal_id: int, outcome: str, reviewer: str, reason: str,
                      step: str | None = None, at: datetime | None = None) -> AppealRow:
        """uphold (nothing changes), overturn (the sanction is lifted, the strike removed and
        every later sanction it raised recomputed) or modify (the sanction moves to ``step``)."""
        stamp = decision_time("outcome", outcome, ("uphold", "overturn", "modify"), reason, at)
        with self._write():
            self._known_reviewer(reviewer)
            appeal = self.appeal_row(appeal_id)
            if appeal.status != "open":
                raise LedgerError(f"appeal {appeal_id} is already decided ({appeal.outcome})")
            self._close_appeal(appeal_id, outcome, reviewer, reason, stamp)
            self._audit(reviewer, "appeal.decided", str(appeal_id),
                        {"outcome": outcome, "reason": reason, "step": step}, stamp)
            live = [s for s in self.sanctions(verdict_id=appeal.verdict_id) if s.status in (ACTIVE, PENDING)]
            if outcome == "overturn":
                self._undo(engine, self._verdict_post(appeal.verdict_id), reviewer, stamp)
            elif outcome == "modify":
                target = ladder_step(engine, step)
                for s in live:
                    changed = with_step(s.detail, target, s.status,
                                        f"appeal {appeal_id}: reviewer {reviewer} changed it to {target.name}")
                    self._set_sanction(s.sanction_id, "superseded", reviewer, stamp)
                    self._insert_sanction(s.user_id, s.verdict_id, s.post_id, changed, s.starts_at, s.sanction_id,
                                          reviewer, stamp)
        return self.appeal_row(appeal_id)

    # ---- state changes shared by the decisions ---------------------------------------------------------
    def _set_sanction(self, sanction_id: int, status: str, actor: str, stamp: str) -> None:
        self._set_sanction_status(sanction_id, status)
        self._audit(actor, f"sanction.{status}", str(sanction_id), {}, stamp)

    def _remove_strike(self, post_id: str, actor: str, stamp: str) -> None:
        if self._set_strike_status(post_id, "removed", (ACTIVE, PENDING)):
            self._audit(actor, "strike.removed", post_id, {}, stamp)

    def _activate_strike(self, post_id: str, actor: str, stamp: str) -> None:
        if self._set_strike_status(post_id, ACTIVE, (PENDING,)):
            self._audit(actor, "strike.activated", post_id, {}, stamp)

    def _close_reports(self, post_id: str, actor: str, stamp: str) -> None:
        if self._close_open_reports(post_id):
            self._audit(actor, "reports.closed", post_id, {}, stamp)

    def _undo(self, engine: Engine, post_id: str, actor: str, stamp: str) -> None:
        """Lift the post's sanctions, remove its strike, recompute what that strike raised."""
        owner = self._post_owner(post_id)
        for s in self.sanctions(post_id=post_id):
            if s.status in (ACTIVE, PENDING):
                self._set_sanction(s.sanction_id, "lifted", actor, stamp)
        self._remove_strike(post_id, actor, stamp)
        if owner:
            self._recompute_after(engine, owner, post_id, actor, stamp)

    def _recompute_after(self, engine: Engine, user: str, removed_post: str, actor: str, stamp: str) -> None:
        """Re-derive the user's later sanctions, oldest first, with the strikes as they now stand.

        Removing a strike lowers the steps after it, and a lower step can release a hold
        (making a pending strike count) that matters to the next one, so every later
        sanction is re-checked in recording order under the current policy, and its
        strike follows its new status.  A sanction a reviewer has already decided keeps
        the reviewer's status; its step can only go down."""
        removed = self._strike_id(removed_post)
        if removed is None:
            return
        order = self._strikes_after(user, removed)
        later = sorted((s for s in self.sanctions(user=user) if s.status in (ACTIVE, PENDING) and s.post_id in order),
                       key=lambda s: order[s.post_id])
        for s in later:
            history = self._active_strikes(user, before_post=s.post_id)
            fresh = engine.check(self.post(s.post_id), checked_at=parse_time(s.starts_at), history=history).sanction
            if fresh is None:
                continue
            fresh = brake_hold(fresh, self._tripped_rules(by=s.starts_at))
            if self._reviewed(s.sanction_id):
                if fresh.level >= s.detail.level:
                    continue
                fresh = replace(fresh, status=s.status, holds=s.detail.holds, reviewers_needed=s.reviewers_needed)
            if (fresh.step, fresh.status) != (s.step, s.status):
                fresh = with_path(fresh, f"recomputed after the strike of post {removed_post} was removed")
                self._set_sanction(s.sanction_id, "superseded", actor, stamp)
                self._insert_sanction(s.user_id, s.verdict_id, s.post_id, fresh, s.starts_at, s.sanction_id, actor,
                                      stamp)
            wanted = ACTIVE if fresh.status == ACTIVE else PENDING
            if self._set_strike_status(s.post_id, wanted, tuple(x for x in (ACTIVE, PENDING) if x != wanted)):
                self._audit(actor, f"strike.{'activated' if wanted == ACTIVE else 'held'}", s.post_id, {}, stamp)

    def _reviewed(self, sanction_id: int) -> bool:
        """Whether a reviewer decided this sanction or one it replaced."""
        current: int | None = sanction_id
        while current is not None:
            if self._has_review(current):
                return True
            current = self._replaced(current)
        return False

    # ---- what a backend supplies -------------------------------------------------------------------------
    # Reads a caller can make at any time:
    @abstractmethod
    def verdict(self, verdict_id: str) -> dict: ...
    @abstractmethod
    def verdicts(self, post_id: str | None = None, user: str | None = None) -> list[dict]: ...
    @abstractmethod
    def posts(self) -> list[Post]: ...
    @abstractmethod
    def post(self, post_id: str) -> Post: ...
    @abstractmethod
    def policy_sources(self, version: str) -> dict[str, str]: ...
    @abstractmethod
    def strikes(self, user: str) -> list[dict]: ...
    @abstractmethod
    def sanctions(self, user: str | None = None, status: str | None = None,
                  verdict_id: str | None = None, post_id: str | None = None) -> list[SanctionRow]: ...
    @abstractmethod
    def sanction(self, sanction_id: int) -> SanctionRow: ...
    @abstractmethod
    def reports(self, post_id: str) -> list[dict]: ...
    @abstractmethod
    def appeals(self, status: str | None = None, user: str | None = None, rule: str | None = None,
                since: str | None = None, verdict_id: str | None = None,
                post_id: str | None = None) -> list[AppealRow]: ...
    @abstractmethod
    def appeal_row(self, appeal_id: int) -> AppealRow: ...
    @abstractmethod
    def audit_rows(self) -> list[dict]: ...
    @abstractmethod
    def brake_status(self) -> dict: ...

    # One transaction holding the write lock from its start; all or nothing (raises LedgerError):
    @abstractmethod
    def _begin(self) -> AbstractContextManager[Any]: ...
    @abstractmethod
    def _rows_where(self, table: str, column: str | None = None, values: Any = ()) -> list[dict]: ...

    # Primitives, called inside ``_write``:
    @abstractmethod
    def _audit_head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last audit row ((0, GENESIS) before the first)."""
    @abstractmethod
    def _append_audit(self, seq: int, at: str, actor: str, action: str, subject: str, payload: str, prev: str,
                      digest: str) -> None:
        """Write the row (the head moves with ``_set_audit_head``)."""
    @abstractmethod
    def _pipelined(self) -> AbstractContextManager[Any]:
        """Statements that follow one another without waiting for each answer (a database over
        a network sends them in one round trip; an embedded one needs nothing)."""
    @abstractmethod
    def _ids_given(self, next_ids: dict[tuple[str, str], int]) -> None:
        """The transaction gave new rows ids itself (``_new_id``), each (table, id column) up to
        one below its value here: a database that counts ids its own way is brought up to them."""
    @abstractmethod
    def _insert_pending(self, batch: Batch) -> None:
        """Insert the rows a batch kept back (see :class:`Batch`)."""
    @abstractmethod
    def _set_audit_head(self, seq: int, digest: str) -> None:
        """Move the chain's head to row ``seq`` with hash ``digest``."""
    @abstractmethod
    def _recorded_verdicts(self, post_ids: list[str], version: str) -> dict[str, str]:
        """The latest verdict (its JSON) recorded for each of ``post_ids`` under policy ``version``."""
    @abstractmethod
    def _register_rules(self, rules: list[tuple[str, str]], stamp: str) -> None:
        """Remember each (rule, fingerprint) not seen before, first seen at ``stamp``."""
    @abstractmethod
    def _watched_rules(self, since: str) -> list[WatchedRule]:
        """Rule versions first seen after ``since`` and not accepted by a reviewer."""
    @abstractmethod
    def _set_rule_counts(self, rows: list[WatchedRule]) -> None: ...
    @abstractmethod
    def _add_brake(self, row: WatchedRule, stamp: str) -> int: ...
    @abstractmethod
    def _reset_brakes(self, rule: str, reviewer: str, stamp: str, reason: str) -> int:
        """Reset the rule's tripped brakes and accept its tripped versions; how many brakes were reset."""
    @abstractmethod
    def _tripped_rules(self, by: str) -> set[str]:
        """Rules whose brake had tripped by ``by`` and is still tripped."""
    @abstractmethod
    def _outcome_counts(self, rule: str) -> Counter:
        """``review.<decision>`` and ``appeal.<outcome>`` counts of the rule's sanctions and verdicts."""
    @abstractmethod
    def _policy_version_known(self, version: str) -> bool: ...
    @abstractmethod
    def _add_policy_version(self, version: str, name: str, sources: str, stamp: str) -> None: ...
    @abstractmethod
    def _add_post(self, post_id: str, user: str | None, post: str, stamp: str) -> None:
        """Keep the post as first seen (a post processed again keeps its first row)."""
    @abstractmethod
    def _add_verdict(self, verdict: Verdict, version: str, rules: str, text: str) -> None:
        """``text``: the verdict's JSON."""
    @abstractmethod
    def _post_exists(self, post_id: str) -> bool: ...
    @abstractmethod
    def _post_owner(self, post_id: str) -> str | None: ...
    @abstractmethod
    def _verdict_owner(self, verdict_id: str) -> tuple[bool, str | None]:
        """(whether the verdict is in the ledger, its user)."""
    @abstractmethod
    def _verdict_post(self, verdict_id: str) -> str: ...
    @abstractmethod
    def _latest_verdict(self, post_id: str) -> tuple[str, str | None] | None:
        """(verdict id, user) of the post's newest verdict."""
    @abstractmethod
    def _strike_id(self, post_id: str) -> int | None:
        """The post's strike (its recording order), if it has one."""
    @abstractmethod
    def _strike_rows(self, user: str, status: str) -> list[tuple[int, str, str, str, int, str]]:
        """(strike id, post, verdict, rule, severity, at) of the user's strikes in that status, in recording order."""
    @abstractmethod
    def _strike_rows_of(self, users: list[str], status: str) -> dict[str, list[tuple[int, str, str, str, int, str]]]:
        """``_strike_rows`` of many users at once."""
    @abstractmethod
    def _struck_posts(self, post_ids: list[str]) -> set[str]:
        """Those of the posts that have a strike."""
    @abstractmethod
    def _strikes_after(self, user: str, strike_id: int) -> dict[str, int]:
        """Post -> strike id of the user's strikes recorded after ``strike_id``."""
    @abstractmethod
    def _add_strike(self, user: str, post_id: str, verdict_id: str, rule: str, severity: int, at: str,
                    status: str) -> None: ...
    @abstractmethod
    def _set_strike_status(self, post_id: str, status: str, from_statuses: tuple[str, ...]) -> bool:
        """Move the post's strike to ``status`` if it is in one of ``from_statuses``; whether it moved."""
    @abstractmethod
    def _add_sanction(self, user: str, verdict_id: str, post_id: str, sanction: Sanction, starts: str,
                      ends: str | None, detail: str, replaces: int | None) -> int: ...
    @abstractmethod
    def _set_sanction_status(self, sanction_id: int, status: str) -> None: ...
    @abstractmethod
    def _live_sanctions_of_rule(self, rule: str, since: str, until: str | None,
                                version: str | None) -> list[SanctionRow]:
        """Active or held sanctions of the rule that start in [since, until), of one policy version when given."""
    @abstractmethod
    def _replaced(self, sanction_id: int) -> int | None:
        """The sanction this one replaced."""
    @abstractmethod
    def _reviewer_exists(self, name: str) -> bool: ...
    @abstractmethod
    def _add_reviewer(self, name: str, stamp: str) -> None: ...
    @abstractmethod
    def _add_review(self, sanction_id: int | None, post_id: str, reviewer: str, decision: str, step: str | None,
                    reason: str, stamp: str) -> None: ...
    @abstractmethod
    def _reviews(self, sanction_id: int) -> list[dict]: ...
    @abstractmethod
    def _has_review(self, sanction_id: int) -> bool: ...
    @abstractmethod
    def _add_report(self, post_id: str, reporter: str, reason: str, stamp: str) -> int: ...
    @abstractmethod
    def _has_open_report(self, post_id: str) -> bool: ...
    @abstractmethod
    def _close_open_reports(self, post_id: str) -> bool:
        """Close the post's open reports; whether there were any."""
    @abstractmethod
    def _reported_unsanctioned(self) -> list[tuple[str, int, str]]:
        """(post, open reports, first report's time) of reported posts no live sanction covers, oldest first."""
    @abstractmethod
    def _account(self, name: str) -> tuple[str, str, str | None] | None:
        """(role, password hash, disabled_at) of the account."""
    @abstractmethod
    def _add_account(self, name: str, role: str, password: str, stamp: str) -> None: ...
    @abstractmethod
    def _add_session(self, digest: str, name: str, stamp: str, expires: str) -> None: ...
    @abstractmethod
    def _session(self, digest: str, stamp: str) -> tuple[str, str] | None:
        """(name, role) of an unexpired session of an enabled account."""
    @abstractmethod
    def _end_session(self, digest: str, stamp: str) -> None: ...
    @abstractmethod
    def _disable_account(self, name: str, stamp: str) -> None:
        """Mark the account disabled and end its sessions."""
    @abstractmethod
    def accounts(self) -> list[dict]:
        """Every account: name, role, created_at, disabled_at (never the password hash)."""
    @abstractmethod
    def api_keys(self) -> list[dict]:
        """Every key, revoked ones too: name, role, created_at, revoked_at (never the key)."""
    @abstractmethod
    def _live_api_key(self, name: str) -> str | None:
        """The role of the named key in use, if any."""
    @abstractmethod
    def _add_api_key(self, name: str, role: str, digest: str, stamp: str) -> None: ...
    @abstractmethod
    def _revoke_api_key(self, name: str, stamp: str) -> None: ...
    @abstractmethod
    def _api_key_by_digest(self, digest: str) -> tuple[str, str] | None: ...
    @abstractmethod
    def _has_open_appeal(self, verdict_id: str) -> bool: ...
    @abstractmethod
    def _add_appeal(self, verdict_id: str, user: str | None, reason: str, stamp: str) -> int: ...
    @abstractmethod
    def _close_appeal(self, appeal_id: int, outcome: str, reviewer: str, reason: str, stamp: str) -> None: ...
