"""Staff's list of messages and the failed count (used by ``notifications.service``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    String,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlmodel import Session, SQLModel, col

from scheduler.models import (
    Booking,
    Location,
    Notification,
    Patient,
)

_TABLE = SQLModel.metadata.tables[Notification.__tablename__]


# --- staff's list of messages (notifications/service.py: list_messages) ----------------------


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Which messages staff list; every field left empty matches all. ``patient_id`` is the
    message's patient: its own for a sign-in link or waitlist offer, the booking's for a
    message about a visit. ``provider_id`` keeps messages about that provider's visits only
    (and so no message without a visit). ``due_from`` inclusive, ``due_before`` exclusive."""

    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    patient_id: int | None = None
    booking_id: int | None = None
    provider_id: int | None = None
    due_from: datetime | None = None
    due_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message with what staff see it by: its patient, and its visit and the visit's
    location (None for a message about no visit)."""

    notification: Notification
    patient: Patient
    booking: Booking | None
    location: Location | None
    superseded: bool = False


def _later_of_same(message: Any) -> Any:
    """A later message of the same kind to the same visit (or, for a message about no visit,
    to the same patient): a failed message followed by one (a resend, a new sign-in link)
    no longer waits for staff. ``message`` is the aliased or plain notification table."""
    later = _TABLE.alias("later")
    return (
        select(later.c.id)
        .where(
            later.c.id > message.c.id,
            later.c.kind == message.c.kind,
            or_(
                later.c.booking_id == message.c.booking_id,
                (message.c.booking_id.is_(None)) & (later.c.patient_id == message.c.patient_id),
            ),
        )
        .exists()
    )


def _message_conditions(given: MessageFilter) -> list[Any]:
    conditions: list[Any] = []
    if given.statuses:
        conditions.append(col(Notification.status).in_(given.statuses))
    if given.kinds:
        conditions.append(col(Notification.kind).in_(given.kinds))
    if given.patient_id is not None:
        conditions.append(
            or_(
                col(Notification.patient_id) == given.patient_id,
                col(Booking.patient_id) == given.patient_id,
            )
        )
    if given.booking_id is not None:
        conditions.append(col(Notification.booking_id) == given.booking_id)
    if given.provider_id is not None:
        conditions.append(col(Booking.provider_id) == given.provider_id)
    if given.due_from is not None:
        conditions.append(col(Notification.due_at) >= given.due_from)
    if given.due_before is not None:
        conditions.append(col(Notification.due_at) < given.due_before)
    return conditions


# ``failed_first``: every failed message, then the rest, each newest due first; ``newest``:
# newest due first; ``oldest``: oldest due first (a booking's messages in the order they go).
MessageOrder = Literal["failed_first", "newest", "oldest"]


def list_messages(
    session: Session, given: MessageFilter, *, order: MessageOrder, limit: int, offset: int
) -> tuple[list[MessageRow], int]:
    """One page of the messages matching ``given`` in ``order`` (ties: by id the same way),
    and how many match in all. The patient of a visit's message is its booking's: one outer
    join, so a sign-in link lists like a reminder."""
    conditions = _message_conditions(given)
    patient_of = func.coalesce(col(Notification.patient_id), col(Booking.patient_id))
    sort: list[Any] = []
    if order == "failed_first":
        sort.append(case((col(Notification.status) == "failed", 0), else_=1))
    if order == "oldest":
        sort += [col(Notification.due_at), col(Notification.id)]
    else:
        sort += [col(Notification.due_at).desc(), col(Notification.id).desc()]
    rows = session.execute(
        select(Notification, Patient, Booking, Location, _later_of_same(_TABLE))
        .select_from(Notification)
        .outerjoin(Booking, col(Booking.id) == col(Notification.booking_id))
        .join(Patient, col(Patient.id) == patient_of)
        .outerjoin(Location, col(Location.id) == col(Booking.location_id))
        .where(*conditions)
        .order_by(*sort)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.execute(
        select(func.count())
        .select_from(Notification)
        .outerjoin(Booking, col(Booking.id) == col(Notification.booking_id))
        .where(*conditions)
    ).scalar_one()
    return [MessageRow(n, p, b, loc, bool(later)) for n, p, b, loc, later in rows], int(total)


def failed_count(session: Session) -> int:
    """How many messages gave up and were not followed by another of their kind to the same
    visit or patient (over the (status, due_at) index; failed messages are few).

    The status is written into the SQL, not bound: PostgreSQL connections plan generically
    (``db/engine.py``), and a plan for "some status" hash-joins the whole outbox with itself,
    which grew with every message ever sent (~100 ms at 86,000 messages, on every staff
    page's badge; benchmarks/history.py). For "failed" it reads the few failed rows.
    """
    failed = bindparam("failed_status", "failed", String, literal_execute=True)
    return int(
        session.execute(
            select(func.count())
            .select_from(_TABLE)
            .where(_TABLE.c.status == failed, ~_later_of_same(_TABLE))
        ).scalar_one()
    )


def is_superseded(session: Session, notification_id: int) -> bool:
    """Whether a later message of the same kind went to the same visit or patient."""
    return bool(
        session.execute(
            select(_later_of_same(_TABLE)).where(_TABLE.c.id == notification_id)
        ).scalar_one_or_none()
    )
