"""The worker's own statement: the advisory lock that lets one worker at a time run a job."""

from __future__ import annotations

import zlib

from sqlalchemy import func, select
from sqlmodel import Session


def try_job_lock(session: Session, name: str) -> bool:
    """Whether this transaction took job ``name``'s transaction-scoped advisory lock
    (``pg_try_advisory_xact_lock``; always true on SQLite, which runs one worker)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = zlib.crc32(f"scheduler.job.{name}".encode())
    return bool(session.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())
