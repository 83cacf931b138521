"""The ledger: verdicts, strikes, sanctions, reports, reviews, appeals and the audit chain.

``ledger`` holds what a ledger decides, for every backend (:class:`BaseLedger`, the ``Ledger``
interface, the audit chain's hashing, the brake's counts, what an overturn recomputes);
``sqlite`` is the embedded backend, SQL and transactions only.
"""

from policy.store.ledger import (
    AppealRow,
    AuditCheck,
    BaseLedger,
    BrakeTrip,
    Ledger,
    LedgerError,
    SanctionRow,
    UnknownRecord,
)
from policy.store.sqlite import SqliteLedger

__all__ = ["Ledger", "BaseLedger", "LedgerError", "SqliteLedger", "AuditCheck", "BrakeTrip", "SanctionRow",
           "AppealRow", "UnknownRecord"]
