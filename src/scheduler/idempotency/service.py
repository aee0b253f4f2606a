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
default, the one setting of their lifetime): an expired key counts as new (its record is
replaced), and ``purge_expired`` deletes expired records (the worker's periodic job).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from scheduler.errors import Conflict, InvalidInput
from scheduler.idempotency import repository

MAX_KEY_LENGTH = 200
DEFAULT_TTL = timedelta(hours=24)
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
    """Run a creating POST under its ``Idempotency-Key`` (a deadlock reruns the whole
    request: ``db.transaction.complete``).

    ``secrets``: response members that are never stored, with the values this request would
    answer (the caller computes them again for a retry). ``shape``: the response model; a
    replay is re-serialised through it, so its members come in the original order (PostgreSQL's
    jsonb does not keep the order).
    """
    fingerprint = request_fingerprint(path, request)
    return run_idempotent(
        session,
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        now=now,
        produce=produce,
        ttl=ttl,
        secrets=secrets or {},
        shape=shape,
    )


def purge_expired(session: Session, now: datetime) -> int:
    """Delete the records that expired by ``now``; how many. The worker's periodic job."""
    return repository.delete_expired(session, now)


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
    if session.get_bind().dialect.name == "postgresql":
        free, existing = repository.lock_and_find(session, scope, key)
        if existing[0] is None:
            if not free:
                raise Conflict(_IN_FLIGHT, code="idempotency_conflict")
            # The lock is ours, but this statement's snapshot may predate a twin's commit
            # (which released the lock): look again with a fresh one.
            existing = repository.find(session, scope, key)
    else:
        existing = repository.find(session, scope, key)
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
        repository.delete_record(session, scope, key)
    status_code, body = produce()
    try:
        repository.insert_record(
            session,
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
