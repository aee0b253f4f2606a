"""``Idempotency-Key`` for POSTs that create holds and bookings.

The first request with a key stores its response in the same transaction as the row it
created. A retry with the same key and body replays that response; the same key with a
different body is 422; a duplicate that arrives while the first is still in flight is 409.
Exactly one row is ever created. Keys are scoped per caller (a staff user, or a public client).
Failed requests store nothing, so a retry after an error runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from scheduler.db import retry_transient
from scheduler.errors import Conflict, InvalidInput
from scheduler.models import IdempotencyRecord

MAX_KEY_LENGTH = 200
# Built once: composing a statement costs more than running it on a warm connection.
# Plain Core statements: the record is never used as an object in the request that writes
# it, and the ORM's loading and unit of work cost several times the statement.
_TABLE = SQLModel.metadata.tables[IdempotencyRecord.__tablename__]
_RECORD_BY_KEY = select(_TABLE.c.request_hash, _TABLE.c.status_code, _TABLE.c.response_body).where(
    _TABLE.c.scope == bindparam("scope"), _TABLE.c.key == bindparam("key")
)
_INSERT_RECORD = insert(_TABLE).returning(_TABLE.c.id)
_STORE_RESPONSE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("record_id"))
    .values(status_code=bindparam("status_code"), response_body=bindparam("response_body"))
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
    """Run a creating POST under its ``Idempotency-Key``, retried whole on a deadlock."""
    fingerprint = request_fingerprint(path, request)
    return retry_transient(
        session,
        lambda: run_idempotent(
            session, scope=scope, key=key, fingerprint=fingerprint, now=now, produce=produce
        ),
    )


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
    existing = session.execute(_RECORD_BY_KEY, {"scope": scope, "key": key}).first()
    if existing is not None:
        return _replay(*existing, fingerprint=fingerprint)
    try:
        # On PostgreSQL this insert waits for a concurrent twin to finish, then fails. No
        # savepoint: the failure answers the request with 409, so the whole transaction is
        # rolled back anyway.
        record_id = session.execute(
            _INSERT_RECORD,
            {
                "scope": scope,
                "key": key,
                "request_hash": fingerprint,
                "status_code": 0,
                "response_body": {},
                "created_at": now,
            },
        ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(
            "A request with this Idempotency-Key is already being processed; retry shortly "
            "to receive its result.",
            code="idempotency_conflict",
        ) from exc
    status_code, body = produce()
    session.execute(
        _STORE_RESPONSE,
        {"record_id": record_id, "status_code": status_code, "response_body": body},
    )
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
    if status_code == 0:
        raise Conflict(
            "A request with this Idempotency-Key is already being processed.",
            code="idempotency_conflict",
        )
    return Outcome(status_code, response_body, replayed=True)
