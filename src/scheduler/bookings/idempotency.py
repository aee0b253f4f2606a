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

  The statement that takes the lock reads the table as it was when the statement began, which
  may be just before a twin committed and let the lock go. So when the lock is taken and no
  record was seen, a second statement looks again with a fresh snapshot (READ COMMITTED):
  a twin that finished in between is replayed, never run a second time (issue 13, item 3).

What is stored: only what a replay needs. Secrets in a response (a public hold's session
token, an online booking's manage token and the links that carry it) are left out of the
record; the caller names them in ``secrets`` with values it can compute again for the retry
(the session token is the retry's own header; the manage token is derived from it, see
``kit.secrets.derived_token``), and the replay puts them back. A replay is thus the same
response as the first, while the database holds no working link.

Records expire ``ttl`` after they were written (``SCHEDULER_IDEMPOTENCY_HOURS``, 24 by
default): an expired key counts as new (its record is replaced), and ``purge_expired`` deletes
expired records (for a periodic job).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import BigInteger, and_, bindparam, delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from scheduler.db import DriverStatement, retry_transient
from scheduler.errors import Conflict, InvalidInput
from scheduler.models import IdempotencyRecord

MAX_KEY_LENGTH = 200
# Built once: composing a statement costs more than running it on a warm connection.
# Plain Core statements: the record is never used as an object in the request that writes
# it, and the ORM's loading and unit of work cost several times the statement.
_TABLE = SQLModel.metadata.tables[IdempotencyRecord.__tablename__]
_RECORD = (
    _TABLE.c.request_hash,
    _TABLE.c.status_code,
    _TABLE.c.response_body,
    _TABLE.c.expires_at,
)
DEFAULT_TTL = timedelta(hours=24)
_BY_KEY = and_(_TABLE.c.scope == bindparam("scope"), _TABLE.c.key == bindparam("key"))
_LOOKUP = select(*_RECORD).where(_BY_KEY)
# One row whether or not the record exists: (lock taken, record columns or NULLs).
_ONE_ROW = select(literal(1).label("one")).subquery("one_row")
_LOCK_AND_LOOKUP = select(
    func.pg_try_advisory_xact_lock(bindparam("lock_key", type_=BigInteger)).label("free"),
    *_RECORD,
).select_from(_ONE_ROW.outerjoin(_TABLE, _BY_KEY))
_INSERT_RECORD = DriverStatement(insert(_TABLE))
_DELETE_RECORD = delete(_TABLE).where(_BY_KEY)
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
    ttl: timedelta = DEFAULT_TTL,
    secrets: Mapping[str, Any] | None = None,
    shape: type[BaseModel] | None = None,
) -> Outcome:
    """Run a creating POST under its ``Idempotency-Key``, retried whole on a deadlock.

    ``secrets``: response members that are never stored, with the values this request would
    answer (the caller computes them again for a retry). ``shape``: the response model; a
    replay is re-serialised through it, so its members come in the original order (PostgreSQL's
    jsonb does not keep the order).
    """
    fingerprint = request_fingerprint(path, request)
    return retry_transient(
        session,
        lambda: run_idempotent(
            session,
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            now=now,
            produce=produce,
            ttl=ttl,
            secrets=secrets or {},
            shape=shape,
        ),
    )


def purge_expired(session: Session, now: datetime) -> int:
    """Delete the records that expired by ``now``; how many. For a periodic job (worker)."""
    result = session.execute(delete(_TABLE).where(_TABLE.c.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


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
    ttl: timedelta = DEFAULT_TTL,
    secrets: Mapping[str, Any] | None = None,
    shape: type[BaseModel] | None = None,
) -> Outcome:
    secrets = secrets or {}
    if key is None:
        status_code, body = produce()
        return Outcome(status_code, body, replayed=False)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            field="Idempotency-Key",
        )
    params: dict[str, Any] = {"scope": scope, "key": key}
    existing: list[Any]
    if session.get_bind().dialect.name == "postgresql":
        params["lock_key"] = _lock_key(scope, key)
        free, *existing = session.execute(_LOCK_AND_LOOKUP, params).one()
        if existing[0] is None:
            if not free:
                raise Conflict(_IN_FLIGHT, code="idempotency_conflict")
            # The lock is ours, but this statement's snapshot may predate a twin's commit
            # (which released the lock): look again with a fresh one.
            row = session.execute(_LOOKUP, params).first()
            if row is not None:
                existing = list(row)
    else:
        row = session.execute(_LOOKUP, params).first()
        existing = [None, None, None, None] if row is None else list(row)
    if existing[0] is not None:
        request_hash, status_code, stored, expires_at = existing
        if expires_at > now:
            return _replay(
                request_hash,
                status_code,
                stored,
                fingerprint=fingerprint,
                secrets=secrets,
                shape=shape,
            )
        # Expired: the key counts as new. The key's lock (PostgreSQL) or the database's write
        # lock (SQLite) is held, so no twin writes it meanwhile.
        session.execute(_DELETE_RECORD, {"scope": scope, "key": key})
    status_code, body = produce()
    try:
        _INSERT_RECORD.execute(
            session.connection(),
            {
                "scope": scope,
                "key": key,
                "request_hash": fingerprint,
                "status_code": status_code,
                "response_body": {k: v for k, v in body.items() if k not in secrets},
                "created_at": now,
                "expires_at": now + ttl,
            },
        )
    except IntegrityError as exc:
        # A twin committed after this request looked: its row stands, this one rolls back.
        raise Conflict(_IN_FLIGHT, code="idempotency_conflict") from exc
    return Outcome(status_code, body, replayed=False)


def _replay(
    request_hash: str,
    status_code: int,
    response_body: dict[str, Any],
    *,
    fingerprint: str,
    secrets: Mapping[str, Any],
    shape: type[BaseModel] | None,
) -> Outcome:
    if request_hash != fingerprint:
        raise InvalidInput(
            "This Idempotency-Key was already used with a different request body.",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    body = {**response_body, **secrets} if 200 <= status_code < 300 else dict(response_body)
    if shape is not None and 200 <= status_code < 300:
        body = shape.model_validate(body).model_dump(mode="json")
    return Outcome(status_code, body, replayed=True)
