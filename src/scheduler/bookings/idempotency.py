"""``Idempotency-Key`` for POSTs that create holds and bookings.

The first request with a key stores its response in the same transaction as the row it
created. A retry with the same key and body replays that response; the same key with a
different body is 422; a duplicate that arrives while the first is still in flight is 409.
Exactly one row is ever created. Keys are scoped per caller (a staff user, or a public client).
Failed requests store nothing, so a retry after an error runs again.

How: one statement at the start looks the key up; the record is written once, at the end,
with the response. In between, a twin of the same key must not run too:

- SQLite serializes writing transactions (BEGIN IMMEDIATE), so a twin starts only after the
  first one committed or rolled back, and then finds its record or nothing.
- PostgreSQL runs them side by side. The same statement that looks the key up takes a
  transaction-scoped advisory lock on the key's hash with ``pg_try_advisory_xact_lock``: a
  twin that cannot take it is in flight elsewhere (409). A twin that committed between this
  statement's snapshot and its lock is caught by the record's unique key at the end (also
  409, and the whole transaction, its row included, rolls back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, and_, bindparam, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from scheduler.errors import Conflict, InvalidInput
from scheduler.models import IdempotencyRecord

MAX_KEY_LENGTH = 200
# Built once: composing a statement costs more than running it on a warm connection.
# Plain Core statements: the record is never used as an object in the request that writes
# it, and the ORM's loading and unit of work cost several times the statement.
_TABLE = SQLModel.metadata.tables[IdempotencyRecord.__tablename__]
_RECORD = (_TABLE.c.request_hash, _TABLE.c.status_code, _TABLE.c.response_body)
_BY_KEY = and_(_TABLE.c.scope == bindparam("scope"), _TABLE.c.key == bindparam("key"))
_LOOKUP = select(*_RECORD).where(_BY_KEY)
# One row whether or not the record exists: (lock taken, record columns or NULLs).
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_LOCK_AND_LOOKUP = select(
    func.pg_try_advisory_xact_lock(bindparam("lock_key", type_=BigInteger)).label("free"),
    *_RECORD,
).select_from(_ONE_ROW.outerjoin(_TABLE, _BY_KEY))
_INSERT_RECORD = insert(_TABLE)
_IN_FLIGHT = (
    "A request with this Idempotency-Key is already being processed; retry shortly to "
    "receive its result."
)


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def request_fingerprint(path: str, request: BaseModel) -> str:
    """Same path and same parsed body = the same request (key order and spacing do not count)."""
    body = request.model_dump_json().encode()
    return hashlib.sha256(b"POST " + path.encode() + b"\n" + body).hexdigest()


def create_once(
    session: Session,
    *,
    scope: str,
    key: str | None,
    path: str,
    request: BaseModel,
    now: datetime,
    produce: Callable[[], tuple[int, dict[str, Any]]],
) -> Outcome:
    """Run a creating POST under its ``Idempotency-Key`` (a deadlock reruns the whole
    request: ``db.transaction.complete``)."""
    fingerprint = request_fingerprint(path, request)
    return run_idempotent(
        session, scope=scope, key=key, fingerprint=fingerprint, now=now, produce=produce
    )


def _lock_key(scope: str, key: str) -> int:
    """A signed 64-bit advisory lock key for (scope, key). Advisory locks keyed by one
    bigint do not share a key space with the (class, id) pairs in bookings/repository.py."""
    digest = hashlib.sha256(f"idempotency\n{scope}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def run_idempotent(
    session: Session,
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    now: datetime,
    produce: Callable[[], tuple[int, dict[str, Any]]],
) -> Outcome:
    if key is None:
        status_code, body = produce()
        return Outcome(status_code, body, replayed=False)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            field="Idempotency-Key",
        )
    params: dict[str, Any] = {"scope": scope, "key": key}
    if session.get_bind().dialect.name == "postgresql":
        params["lock_key"] = _lock_key(scope, key)
        free, *existing = session.execute(_LOCK_AND_LOOKUP, params).one()
        if existing[0] is None and not free:
            raise Conflict(_IN_FLIGHT, code="idempotency_conflict")
    else:
        row = session.execute(_LOOKUP, params).first()
        existing = [None, None, None] if row is None else list(row)
    if existing[0] is not None:
        return _replay(*existing, fingerprint=fingerprint)
    status_code, body = produce()
    try:
        session.execute(
            _INSERT_RECORD,
            {
                **params,
                "request_hash": fingerprint,
                "status_code": status_code,
                "response_body": body,
                "created_at": now,
            },
        )
    except IntegrityError as exc:
        # A twin committed after this request looked: its row stands, this one rolls back.
        raise Conflict(_IN_FLIGHT, code="idempotency_conflict") from exc
    return Outcome(status_code, body, replayed=False)


def _replay(
    request_hash: str, status_code: int, response_body: dict[str, Any], *, fingerprint: str
) -> Outcome:
    if request_hash != fingerprint:
        raise InvalidInput(
            "This Idempotency-Key was already used with a different request body.",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return Outcome(status_code, response_body, replayed=True)
