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
- the server had the whole message but did not confirm it (``DeliveryUnconfirmed``):
  ``failed`` with that reason, for staff to check and resend; it may have arrived, and a
  slow server must not give a patient two copies.

A claim's lease outlasts the sending: the worker renews the rest of its batch's claims
(``renew``) whenever less than one send's worst case (``send_budget``) is left, so no other
worker takes a message while it may still be on its way, and a message withdrawn meanwhile
(a rescheduled visit's old reminder) is then passed over.

The one duplicate left: a worker killed mid-batch leaves its claims to expire with the
lease; another worker (or the same one restarted) then takes them again, and the message
being sent when it died may go twice, at most, with the same ``Message-ID`` (fixed when the
row was written), so mail clients fold the two.

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


def send_budget(settings: Settings) -> timedelta:
    """The longest one message takes to send: the commands' timeouts (connect, greeting,
    MAIL, RCPT, DATA) and the wait for the server's confirmation."""
    return timedelta(seconds=4 * settings.smtp_timeout_seconds + settings.smtp_data_timeout_seconds)


def renew(
    session: Session, ids: list[int], *, worker_id: str, now: datetime, lease: timedelta
) -> set[int]:
    """Extend the claims in ``ids`` still held; the ids of those (the others were withdrawn
    or, the lease having run out, taken over: not to be sent)."""
    if not ids:
        return set()
    return set(repository.renew(session, ids, worker_id=worker_id, now=now, lease=lease))


def release(session: Session, ids: list[int], *, worker_id: str, now: datetime) -> None:
    """Give back claims not tried (shutdown): due again at once, the attempt not counted."""
    if ids:
        repository.release(session, ids, worker_id=worker_id, now=now)
