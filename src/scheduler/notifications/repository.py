"""Every SQL statement of the notifications: the outbox's inserts and withdrawals (used by
``outbox``), the worker's claim and the marks of each result (used by ``delivery``), the
manage links and the backlog. ``outbox`` and ``delivery`` decide what happens; the statements
are here."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    String,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
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
