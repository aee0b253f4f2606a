"""Statements over ``idempotency_record`` (see ``idempotency/service.py`` for the protocol).

Built once: composing a statement costs more than running it on a warm connection. Plain Core
statements: the record is never used as an object in the request that writes it, and the
ORM's loading and unit of work cost several times the statement.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, delete, func, insert, literal, select
from sqlmodel import Session, SQLModel

from scheduler.models import IdempotencyRecord

# A stored record as the service reads it: (request_hash, status_code, response_body,
# expires_at), or four Nones when there is none.
Record = list[Any]
_NO_RECORD: Record = [None, None, None, None]

_TABLE = SQLModel.metadata.tables[IdempotencyRecord.__tablename__]
_RECORD = (
    _TABLE.c.request_hash,
    _TABLE.c.status_code,
    _TABLE.c.response_body,
    _TABLE.c.expires_at,
)
_BY_KEY = and_(_TABLE.c.scope == bindparam("scope"), _TABLE.c.key == bindparam("key"))
_LOOKUP = select(*_RECORD).where(_BY_KEY)
# One row whether or not the record exists: (lock taken, record columns or NULLs).
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_LOCK_AND_LOOKUP = select(
    func.pg_try_advisory_xact_lock(bindparam("lock_key", type_=BigInteger)).label("free"),
    *_RECORD,
).select_from(_ONE_ROW.outerjoin(_TABLE, _BY_KEY))
# inline(): the record's id is never read, so PostgreSQL is not asked for it (RETURNING id)
# and no inserted primary key is built for it.
_INSERT_RECORD = insert(_TABLE).inline()
_DELETE_RECORD = delete(_TABLE).where(_BY_KEY)
_DELETE_EXPIRED = delete(_TABLE).where(_TABLE.c.expires_at <= bindparam("now"))


def _lock_key(scope: str, key: str) -> int:
    """A signed 64-bit advisory lock key for (scope, key). Advisory locks keyed by one
    bigint do not share a key space with the (class, id) pairs in bookings/repository.py."""
    digest = hashlib.sha256(f"idempotency\n{scope}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def find(session: Session, scope: str, key: str) -> Record:
    """The key's record as of this statement (a fresh snapshot under READ COMMITTED)."""
    row = session.execute(_LOOKUP, {"scope": scope, "key": key}).first()
    return list(_NO_RECORD) if row is None else list(row)


def lock_and_find(session: Session, scope: str, key: str) -> tuple[bool, Record]:
    """PostgreSQL only: try the key's transaction-scoped advisory lock and read its record in
    one statement; (whether the lock was taken, the record as of the statement's snapshot)."""
    params = {"scope": scope, "key": key, "lock_key": _lock_key(scope, key)}
    free, *existing = session.execute(_LOCK_AND_LOOKUP, params).one()
    return bool(free), list(existing)


def delete_record(session: Session, scope: str, key: str) -> None:
    session.execute(_DELETE_RECORD, {"scope": scope, "key": key})


def insert_record(session: Session, values: dict[str, Any]) -> None:
    """Write the record; an ``IntegrityError`` means a twin wrote the key first."""
    session.execute(_INSERT_RECORD, values)


def delete_expired(session: Session, now: datetime) -> int:
    """Delete the records that expired by ``now``; how many."""
    result = session.execute(_DELETE_EXPIRED, {"now": now})
    return int(getattr(result, "rowcount", 0) or 0)
