"""The worker's statements: claiming due messages, renewing and releasing the claim, marking
each result, the batch's manage links and visits (used by ``notifications.delivery``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as select_rows

from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    Location,
    Notification,
    NotificationLink,
    Patient,
)

_TABLE = SQLModel.metadata.tables[Notification.__tablename__]


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


# The results are written hundreds of times a second: each statement is built once, with
# bound parameters, so SQLAlchemy neither rebuilds nor re-keys it per message (a third of a
# result's CPU), and psycopg prepares it on the server after a few uses.
_NOW = bindparam("now", type_=_TABLE.c.updated_at.type)
# The row, while it is still this worker's claim: a slow worker whose lease ran out cannot
# overwrite the outcome of the worker that took the message over.
_MINE = (
    (_TABLE.c.id == bindparam("ident"))
    & (_TABLE.c.claimed_by == bindparam("worker_id"))
    & (_TABLE.c.status == "queued")
)
_MARK_SENT = (
    update(_TABLE)
    .where(_MINE)
    .values(status="sent", sent_at=_NOW, lease_until=None, last_error="", updated_at=_NOW)
)
_MARK_NOT_SENT = (
    update(_TABLE)
    .where(_MINE)
    .values(
        status=bindparam("outcome"),
        last_error=bindparam("reason"),
        lease_until=None,
        updated_at=_NOW,
    )
)
_RETRY_LATER = (
    update(_TABLE)
    .where(_MINE)
    .values(
        due_at=bindparam("due", type_=_TABLE.c.due_at.type),
        last_error=bindparam("reason"),
        lease_until=None,
        updated_at=_NOW,
    )
)


def mark_sent(session: Session, ident: int, *, worker_id: str, now: datetime) -> None:
    session.execute(_MARK_SENT, {"ident": ident, "worker_id": worker_id, "now": now})


def mark_not_sent(
    session: Session, ident: int, status: str, reason: str, *, worker_id: str, now: datetime
) -> None:
    """``failed`` or ``withdrawn``, with ``reason`` (never an address or content)."""
    session.execute(
        _MARK_NOT_SENT,
        {
            "ident": ident,
            "worker_id": worker_id,
            "now": now,
            "outcome": status,
            "reason": reason[:1000],
        },
    )


def retry_later(
    session: Session, ident: int, *, due_at: datetime, error: str, worker_id: str, now: datetime
) -> None:
    """Still ``queued``, due again at ``due_at``, free for any worker then."""
    session.execute(
        _RETRY_LATER,
        {
            "ident": ident,
            "worker_id": worker_id,
            "now": now,
            "due": due_at,
            "reason": error[:1000],
        },
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


def renew(
    session: Session, ids: list[int], *, worker_id: str, now: datetime, lease: timedelta
) -> list[int]:
    """Extend the lease of the claims in ``ids`` still this worker's (not withdrawn, not
    taken over) to ``now + lease``; their ids."""
    return list(
        session.execute(
            update(_TABLE)
            .where(
                _TABLE.c.id.in_(ids),
                _TABLE.c.claimed_by == worker_id,
                _TABLE.c.status == "queued",
                _TABLE.c.lease_until >= now,
            )
            .values(lease_until=now + lease, updated_at=now)
            .returning(_TABLE.c.id)
        ).scalars()
    )


_INSERT_LINKS = insert(SQLModel.metadata.tables[NotificationLink.__tablename__])


def insert_links(session: Session, rows: list[dict[str, Any]]) -> None:
    """A claimed batch's manage links, in one statement (ORM objects cost a worker a tenth of
    its CPU per message to build and flush)."""
    if rows:
        session.execute(_INSERT_LINKS, rows)


def load_visits(session: Session, booking_ids: Collection[int]) -> list[object]:
    """The bookings ``booking_ids`` with their patients, chairs, locations and types, in
    one statement per table (a claimed batch's messages are mostly about different visits:
    fetched one by one, that was three round trips per message). The rows, to be held while
    they are used: the session's identity map keeps them only as long as something does, and
    ``session.get`` then finds them without a query."""
    if not booking_ids:
        return []
    bookings = list(session.exec(select_rows(Booking).where(col(Booking.id).in_(booking_ids))))
    patients = {b.patient_id for b in bookings}
    chairs = {b.chair_id for b in bookings if b.chair_id is not None}
    locations = {b.location_id for b in bookings}
    types = {b.appointment_type_id for b in bookings}
    rows: list[object] = list(bookings)
    rows += session.exec(select_rows(Patient).where(col(Patient.id).in_(patients))).all()
    if chairs:
        rows += session.exec(select_rows(Chair).where(col(Chair.id).in_(chairs))).all()
    rows += session.exec(select_rows(Location).where(col(Location.id).in_(locations))).all()
    rows += session.exec(
        select_rows(AppointmentType).where(col(AppointmentType.id).in_(types))
    ).all()
    return rows
