"""The ledger: verdicts, strikes, sanctions, reports, reviews, appeals and the audit chain.

``sqlite`` is the embedded backend.
"""

from policy.store.sqlite import Ledger, LedgerError, SqliteLedger

__all__ = ["Ledger", "LedgerError", "SqliteLedger"]
