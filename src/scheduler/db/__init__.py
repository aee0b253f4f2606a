"""Database plumbing, free of HTTP: column types (``types``), engine and session setup
(``engine``), the unit of work that ends every transaction (``transaction``), the
pre-compiled statements of the two hot reads (``statements``) and the advisory locks every
writer of bookings takes (``locks``).

The names below are re-exported because migrations refer to ``scheduler.db.UTCDateTime``.
"""

from scheduler.db.engine import build_engine, build_sessionmaker, open_session
from scheduler.db.statements import DriverStatement, StatementReader
from scheduler.db.transaction import run_in_transaction, unit_of_work
from scheduler.db.types import UTCDateTime

__all__ = [
    "DriverStatement",
    "StatementReader",
    "UTCDateTime",
    "build_engine",
    "build_sessionmaker",
    "open_session",
    "run_in_transaction",
    "unit_of_work",
]
