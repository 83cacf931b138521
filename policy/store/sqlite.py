"""The embedded ledger backend: SQLite (WAL, synchronous commits).

The connection and its transactions only; the queries and migrations are :class:`policy.store.sql.SqlLedger`'s
and what the ledger decides is :class:`policy.store.ledger.BaseLedger`'s.  Every write runs as one
transaction that starts by taking the database's write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from policy.store.ledger import BrakeTrip, LedgerError
from policy.store.sql import SqlLedger

__all__ = ["SqliteLedger"]


class SqliteLedger(SqlLedger):
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
    @contextmanager
    def _begin(self) -> Iterator[sqlite3.Connection]:
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

    # ---- what the queries run on ---------------------------------------------------------------
    def _q(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, args)

    def _q_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    def _insert_id(self, sql: str, args: Sequence[Any], key: str) -> int:
        return int(self.db.execute(sql, args).lastrowid or 0)

    def _pipelined(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def _ids_given(self, next_ids: dict[tuple[str, str], int]) -> None:
        pass  # SQLite's default id is one past the highest already

    def _has_rule(self, column: str) -> str:
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = ?)"
