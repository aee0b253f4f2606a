"""Read queries over the outbox that are not part of sending (the worker's claim and marks
live in ``delivery``, the hooks that queue messages in ``outbox``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlmodel import Session, SQLModel

from scheduler.models import Notification

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
