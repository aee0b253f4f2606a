"""Taking due messages from the outbox and recording how their sending went.

A worker claims a batch in one short transaction: the due ``queued`` rows nobody holds
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers side by side never take the same row;
SQLite runs one worker), each marked with the worker's id, a lease and one more attempt. In
the same transaction each message is prepared (``compose``), with a fresh manage-link token
whose hash is stored. Sending happens outside any transaction; each result is then written
in its own:

- delivered: ``sent``;
- refused, timed out, unreachable: back to ``queued`` after an exponential backoff
  (``retry_base * 2**(attempts-1)``, at most a day), or ``failed`` after ``max_attempts``,
  with the error (never the address or content) as ``last_error``;
- a worker killed mid-batch leaves its claims to expire with the lease; another worker (or
  the same one restarted) then takes them again. Such a message may go twice at most, with
  the same ``Message-ID`` (fixed when the row was written), so mail clients fold the two.

Results are written only while the row is still this worker's claim, so a slow worker whose
lease ran out cannot overwrite the outcome of the worker that took over. The statements are in
``repository``; this module decides what they are given.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from scheduler.config import Settings
from scheduler.notifications import compose, repository
from scheduler.notifications.compose import Claimed

MAX_BACKOFF = timedelta(days=1)


def claim(
    session: Session,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    settings: Settings,
) -> list[Claimed]:
    """Claim up to ``limit`` due messages for ``worker_id`` and render them."""
    notifications = repository.claim_due(
        session, worker_id=worker_id, now=now, limit=limit, lease=lease
    )
    return compose.prepare(session, notifications, now=now, settings=settings)


def mark_sent(session: Session, ident: int, *, worker_id: str, now: datetime) -> None:
    repository.mark_sent(session, ident, worker_id=worker_id, now=now)


def mark_not_sent(
    session: Session, ident: int, status: str, reason: str, *, worker_id: str, now: datetime
) -> None:
    repository.mark_not_sent(session, ident, status, reason, worker_id=worker_id, now=now)


def backoff(attempts: int, base_seconds: float) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)))


def mark_failed_attempt(
    session: Session,
    ident: int,
    attempts: int,
    error: str,
    *,
    worker_id: str,
    now: datetime,
    max_attempts: int,
    retry_base_seconds: float,
) -> str:
    """Retry later, or ``failed`` after the last attempt. The new status."""
    if attempts >= max_attempts:
        mark_not_sent(session, ident, "failed", error, worker_id=worker_id, now=now)
        return "failed"
    repository.retry_later(
        session,
        ident,
        due_at=now + backoff(attempts, retry_base_seconds),
        error=error,
        worker_id=worker_id,
        now=now,
    )
    return "queued"


def release(session: Session, ids: list[int], *, worker_id: str, now: datetime) -> None:
    """Give back claims not tried (shutdown): due again at once, the attempt not counted."""
    if ids:
        repository.release(session, ids, worker_id=worker_id, now=now)
