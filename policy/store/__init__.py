"""The ledger: verdicts, strikes, sanctions, reports, reviews, appeals and the audit chain.

``ledger`` holds what a ledger decides, for every backend (:class:`BaseLedger`, the ``Ledger``
interface, the audit chain's hashing, the brake's counts, what an overturn recomputes); ``sql``
holds the queries both backends share; ``sqlite`` (the embedded default) and ``postgres`` (many
workers, one database) are connections and transactions only.  :func:`open_ledger` picks the
backend by what names the ledger: a ``postgresql://`` URL, or a file path for SQLite.
"""

from __future__ import annotations

from typing import Any

from policy.store.ledger import (
    AppealRow,
    AuditCheck,
    BaseLedger,
    BrakeTrip,
    Ledger,
    LedgerError,
    LedgerUnavailable,
    SanctionRow,
    UnknownRecord,
)
from policy.store.sql import SqlLedger
from policy.store.sqlite import SqliteLedger

SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(target: str) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a SQLite file."""
    return target.startswith(SERVER_SCHEMES)


def open_ledger(target: str, **options: Any) -> SqlLedger:
    """The ledger ``target`` names: a ``postgresql://user@host/db`` URL or a SQLite file's path.
    ``options`` go to the backend (``on_brake``; for PostgreSQL ``pool_size``, ``pool_timeout``)."""
    if is_server_url(target):
        from policy.store.postgres import PostgresLedger  # psycopg is loaded only when a server is named

        return PostgresLedger(target, **options)
    return SqliteLedger(target, **{k: v for k, v in options.items() if k in ("on_brake", "timeout")})


def describe(target: str) -> str:
    """``target`` as it may be shown: a URL without its password."""
    if is_server_url(target):
        from policy.store.postgres import redacted

        return redacted(target)
    return target


__all__ = ["Ledger", "BaseLedger", "SqlLedger", "LedgerError", "LedgerUnavailable", "SqliteLedger", "AuditCheck",
           "BrakeTrip", "SanctionRow", "AppealRow", "UnknownRecord", "open_ledger", "is_server_url", "describe"]
