"""Every SQL statement of the notifications: the outbox's inserts and withdrawals (used by
``outbox``), the worker's claim and the marks of each result (used by ``delivery``), the
manage links and the backlog. ``outbox`` and ``delivery`` decide what happens; the statements
are here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, or_, select, update
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as select_rows

from scheduler.models import Booking, Notification, NotificationLink

_TABLE = SQLModel.metadata.tables[Notification.__tablename__]


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """What the outbox holds now: ``due`` messages wait for a worker, ``scheduled`` ones are
    not due yet (reminders), ``failed`` ones gave up after their last attempt and wait for
    staff. ``oldest_due`` is when the longest-waiting due message fell due (None if none)."""

    due: int
    scheduled: int
    failed: int
    oldest_due: datetime | None


def backlog(session: Session, *, now: datetime) -> OutboxBacklog:
    """One statement over the (status, due_at) index: never reads sent or withdrawn rows."""
    queued = _TABLE.c.status == "queued"
    is_due = _TABLE.c.due_at <= now
    row = session.execute(
        select(
            func.count(case((queued & is_due, 1))),
            func.count(case((queued & ~is_due, 1))),
            func.count(case((_TABLE.c.status == "failed", 1))),
            func.min(case((queued & is_due, _TABLE.c.due_at))),
        ).where(_TABLE.c.status.in_(("queued", "failed")))
    ).one()
    return OutboxBacklog(due=row[0], scheduled=row[1], failed=row[2], oldest_due=row[3])


def link_by_token_hash(session: Session, token_hash: str) -> NotificationLink | None:
    return session.exec(
        select_rows(NotificationLink).where(NotificationLink.token_hash == token_hash)
    ).first()


def latest_successor(session: Session, booking_id: int | None) -> Booking | None:
    """The latest booking made by rescheduling ``booking_id``, if any."""
    return session.exec(
        select_rows(Booking)
        .where(Booking.rescheduled_from_id == booking_id)
        .order_by(col(Booking.id).desc())
    ).first()


# --- the outbox: queueing and withdrawing (notifications/outbox.py) ---------------------------

# Executed with a list of rows: SQLAlchemy's "insertmanyvalues" sends them as one multi-row
# INSERT (RETURNING is what makes it batch on every dialect), and the statement is compiled
# once and cached. ``insert().values([...])`` would also be one statement, but SQLAlchemy
# cannot cache a multi-VALUES construct: it compiled it on every booking (~1 ms of CPU).
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


def insert_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """One statement for all of a change's messages (a multi-row VALUES): the booking is the
    busiest write, and each round trip counts (tests/bookings/test_booking_statements.py)."""
    session.execute(_INSERT, rows)


def withdraw_queued(
    session: Session,
    booking_id: int,
    *,
    now: datetime,
    reason: str,
    kinds: tuple[str, ...] | None = None,
) -> None:
    """The booking's ``queued`` messages (of ``kinds``, or all) become ``withdrawn``."""
    condition = [_TABLE.c.booking_id == booking_id, _TABLE.c.status == "queued"]
    if kinds is not None:
        condition.append(_TABLE.c.kind.in_(kinds))
    session.execute(
        update(_TABLE)
        .where(*condition)
        .values(status="withdrawn", last_error=reason, lease_until=None, updated_at=now)
    )


def queued_for_booking(session: Session, booking_id: int) -> list[Notification]:
    """The booking's messages in any state, oldest first."""
    return list(
        session.exec(
            select_rows(Notification)
            .where(Notification.booking_id == booking_id)
            .order_by(col(Notification.due_at), col(Notification.id))
        ).all()
    )


# --- the worker's claim and results (notifications/delivery.py) ------------------------------


def claim_due(
    session: Session, *, worker_id: str, now: datetime, limit: int, lease: timedelta
) -> list[Notification]:
    """Claim up to ``limit`` due ``queued`` messages nobody holds, oldest due first: each gets
    ``worker_id``, a lease until ``now + lease`` and one more attempt. ``FOR UPDATE SKIP
    LOCKED``: on PostgreSQL a row another worker is claiming is passed over, never waited for
    or taken twice (SQLite ignores it and runs one worker). The rows as now stored."""
    due = (
        select(_TABLE.c.id)
        .where(
            _TABLE.c.status == "queued",
            _TABLE.c.due_at <= now,
            or_(_TABLE.c.lease_until.is_(None), _TABLE.c.lease_until < now),
        )
        .order_by(_TABLE.c.due_at, _TABLE.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.execute(due).scalars())
    if not ids:
        return []
    session.execute(
        update(_TABLE)
        .where(_TABLE.c.id.in_(ids))
        .values(
            lease_until=now + lease,
            claimed_by=worker_id,
            attempts=_TABLE.c.attempts + 1,
            updated_at=now,
        )
    )
    return list(
        session.execute(
            select(Notification)
            .where(col(Notification.id).in_(ids))
            .order_by(col(Notification.due_at), col(Notification.id))
            .execution_options(populate_existing=True)
        ).scalars()
    )


def _mine(ident: int, worker_id: str) -> Any:
    """The row, while it is still ``worker_id``'s claim: a slow worker whose lease ran out
    cannot overwrite the outcome of the worker that took the message over."""
    return (
        (_TABLE.c.id == ident) & (_TABLE.c.claimed_by == worker_id) & (_TABLE.c.status == "queued")
    )


def mark_sent(session: Session, ident: int, *, worker_id: str, now: datetime) -> None:
    session.execute(
        update(_TABLE)
        .where(_mine(ident, worker_id))
        .values(status="sent", sent_at=now, lease_until=None, last_error="", updated_at=now)
    )


def mark_not_sent(
    session: Session, ident: int, status: str, reason: str, *, worker_id: str, now: datetime
) -> None:
    """``failed`` or ``withdrawn``, with ``reason`` (never an address or content)."""
    session.execute(
        update(_TABLE)
        .where(_mine(ident, worker_id))
        .values(status=status, last_error=reason[:1000], lease_until=None, updated_at=now)
    )


def retry_later(
    session: Session, ident: int, *, due_at: datetime, error: str, worker_id: str, now: datetime
) -> None:
    """Still ``queued``, due again at ``due_at``, free for any worker then."""
    session.execute(
        update(_TABLE)
        .where(_mine(ident, worker_id))
        .values(due_at=due_at, last_error=error[:1000], lease_until=None, updated_at=now)
    )


def release(session: Session, ids: list[int], *, worker_id: str, now: datetime) -> None:
    """Give back claims not tried: due again at once, the attempt not counted."""
    session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.id.in_(ids),
            _TABLE.c.claimed_by == worker_id,
            _TABLE.c.status == "queued",
        )
        .values(lease_until=None, attempts=_TABLE.c.attempts - 1, updated_at=now)
    )
