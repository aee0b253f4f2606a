"""The outbox's statements: queueing a change's messages and withdrawing them (used by
``notifications.outbox``), the backlog, the manage links' and successors' reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as select_rows

from scheduler.models import (
    Booking,
    Notification,
    NotificationLink,
)

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

# A change's messages share everything but their kind, due time and message id: one
# INSERT ... SELECT over a UNION ALL of those three per message, so each shared value (the
# booking, the time of the change, the constants) is bound and converted once, not once per
# row, and nothing comes back (no RETURNING result to build). Built once per message count
# and cached by SQLAlchemy like any statement (a multi-row ``insert().values([...])`` is
# never cached: it was compiled on every booking, ~1 ms of CPU). One statement, one round
# trip (tests/bookings/test_booking_statements.py).
_QUEUE_STATEMENTS: dict[int, Any] = {}
_QUEUED_COLUMNS = (
    "booking_id",
    "kind",
    "channel",
    "status",
    "due_at",
    "attempts",
    "last_error",
    "message_id",
    "lease_until",
    "claimed_by",
    "sent_at",
    "created_at",
    "updated_at",
)


def _queue_statement(count: int) -> Any:
    statement = _QUEUE_STATEMENTS.get(count)
    if statement is None:
        c = _TABLE.c
        each = [
            select(
                bindparam(f"kind_{i}", type_=c.kind.type).label("kind"),
                bindparam(f"due_at_{i}", type_=c.due_at.type).label("due_at"),
                bindparam(f"message_id_{i}", type_=c.message_id.type).label("message_id"),
            )
            for i in range(count)
        ]
        messages = (each[0] if count == 1 else union_all(*each)).subquery("m")
        now = bindparam("now", type_=c.created_at.type)
        rows = select(
            bindparam("booking_id", type_=c.booking_id.type),
            messages.c.kind,
            literal("email", c.channel.type),
            literal("queued", c.status.type),
            messages.c.due_at,
            literal(0, c.attempts.type),
            literal("", c.last_error.type),
            messages.c.message_id,
            null(),
            literal("", c.claimed_by.type),
            null(),
            now,
            now,
        )
        statement = insert(_TABLE).from_select(_QUEUED_COLUMNS, rows, include_defaults=False)
        _QUEUE_STATEMENTS[count] = statement
    return statement


def insert_messages(
    session: Session, *, booking_id: int, now: datetime, messages: list[tuple[str, datetime, str]]
) -> None:
    """Queue a booking's ``messages`` (kind, due time, message id), in this order, in one
    statement: email, no attempt yet, created at ``now``."""
    params: dict[str, Any] = {"booking_id": booking_id, "now": now}
    for i, (kind, due_at, message_id) in enumerate(messages):
        params[f"kind_{i}"] = kind
        params[f"due_at_{i}"] = due_at
        params[f"message_id_{i}"] = message_id
    session.execute(_queue_statement(len(messages)), params)


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
