"""Taking due messages from the outbox and recording how their sending went.

A worker claims a batch in one short transaction: the due ``queued`` rows nobody holds
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers side by side never take the same row;
SQLite runs one worker), each marked with the worker's id, a lease and one more attempt. In
the same transaction each message is rendered, with a fresh manage-link token whose hash is
stored. Sending happens outside any transaction; each result is then written in its own:

- delivered: ``sent``;
- refused, timed out, unreachable: back to ``queued`` after an exponential backoff
  (``retry_base * 2**(attempts-1)``, at most a day), or ``failed`` after ``max_attempts``,
  with the error (never the address or content) as ``last_error``;
- a worker killed mid-batch leaves its claims to expire with the lease; another worker (or
  the same one restarted) then takes them again. Such a message may go twice at most, with
  the same ``Message-ID`` (fixed when the row was written), so mail clients fold the two.

Results are written only while the row is still this worker's claim, so a slow worker whose
lease ran out cannot overwrite the outcome of the worker that took over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlmodel import Session, SQLModel, col

from scheduler.config import Settings
from scheduler.feeds.service import patient_instructions, render_booking_ics
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    Location,
    Notification,
    NotificationLink,
    Patient,
    ReminderOptOut,
)
from scheduler.notifications.content import MessageContext, render
from scheduler.notifications.sign_in import sign_in_message
from scheduler.notifications.transports import Attachment, OutgoingMessage

_TABLE = SQLModel.metadata.tables[Notification.__tablename__]
REMINDER_KINDS = frozenset({"reminder", "instructions"})
ICS_KINDS = frozenset({"confirmation", "rescheduled", "cancellation"})
MAX_BACKOFF = timedelta(days=1)
LINK_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Claimed:
    """A claimed message: rendered, or the reason it is not to be sent (``outcome``)."""

    id: int
    attempts: int
    message: OutgoingMessage | None
    outcome: tuple[str, str] | None = None  # (status, reason) when not sent


def public_url(settings: Settings, path: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/api/v1/public/{path}"


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
    due = (
        select(_TABLE.c.id, _TABLE.c.attempts)
        .where(
            _TABLE.c.status == "queued",
            _TABLE.c.due_at <= now,
            or_(_TABLE.c.lease_until.is_(None), _TABLE.c.lease_until < now),
        )
        .order_by(_TABLE.c.due_at, _TABLE.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(due).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
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
    notifications = session.execute(
        select(Notification)
        .where(col(Notification.id).in_(ids))
        .order_by(col(Notification.due_at), col(Notification.id))
        .execution_options(populate_existing=True)
    ).scalars()
    # The session's identity map holds rows weakly: keeping them here lets the messages of
    # one visit (or clinic) share one load of the booking, patient, location, type, chair.
    keep: list[object] = []
    return [_prepare(session, n, now=now, settings=settings, keep=keep) for n in notifications]


def _prepare(
    session: Session,
    notification: Notification,
    *,
    now: datetime,
    settings: Settings,
    keep: list[object],
) -> Claimed:
    assert notification.id is not None
    ident, attempts = notification.id, notification.attempts
    if notification.booking_id is None:
        # Kinds about a patient rather than a visit prepare their content here, by kind.
        if notification.kind == "sign_in":
            made = sign_in_message(session, notification, now=now, settings=settings)
            if isinstance(made, OutgoingMessage):
                return Claimed(ident, attempts, made)
            return Claimed(ident, attempts, None, made)
        return Claimed(ident, attempts, None, ("failed", f"no content for {notification.kind}"))
    booking = session.get(Booking, notification.booking_id)
    assert booking is not None
    assert booking.id is not None
    if notification.kind in REMINDER_KINDS:
        if booking.status != "booked":
            return Claimed(ident, attempts, None, ("withdrawn", f"the visit is {booking.status}"))
        if session.get(ReminderOptOut, booking.patient_id) is not None:
            return Claimed(ident, attempts, None, ("withdrawn", "the patient opted out"))
    patient = session.get(Patient, booking.patient_id)
    location = session.get(Location, booking.location_id)
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    assert patient is not None
    assert location is not None
    assert appointment_type is not None
    chair = session.get(Chair, booking.chair_id) if booking.chair_id is not None else None
    keep.extend((booking, patient, location, appointment_type, chair))
    if not patient.email:
        return Claimed(ident, attempts, None, ("failed", "no e-mail address on file"))
    token = new_token()
    session.add(
        NotificationLink(
            token_hash=hash_token(token),
            booking_id=booking.id,
            notification_id=ident,
            expires_at=max(booking.end_at, now) + LINK_GRACE,
            created_at=now,
        )
    )
    tz = ZoneInfo(location.timezone)
    context = MessageContext(
        kind=notification.kind,
        first_name=patient.first_name,
        clinic=location.name,
        address=location.address,
        phone=location.phone,
        timezone=location.timezone,
        start_at=booking.start_at.astimezone(tz),
        end_at=booking.end_at.astimezone(tz),
        instructions=tuple(patient_instructions(appointment_type, booking.start_at, tz)),
        # The patient's manage page (the public API answers the same token too).
        manage_url=f"{settings.public_base_url.rstrip('/')}/manage/{token}",
        opt_out_url=(
            public_url(settings, f"reminders/{token}/opt-out")
            if notification.kind in REMINDER_KINDS
            else None
        ),
        cancelled_by=booking.cancelled_by,
    )
    subject, text, html = render(context, override_dir=settings.mail_template_dir)
    attachments: tuple[Attachment, ...] = ()
    if notification.kind in ICS_KINDS:
        # Named and summarised without the treatment, like the subject (notifications/content).
        ics = render_booking_ics(session, booking, settings=settings, neutral=True)
        method = "CANCEL" if notification.kind == "cancellation" else "PUBLISH"
        # UTF-8 said out loud: without a charset a reader takes the part for US-ASCII.
        params = {"method": method, "charset": "utf-8"}
        attachments = (Attachment("appointment.ics", "text/calendar", ics, params),)
    sender = settings.mail_location_senders.get(booking.location_id)
    headers: dict[str, str] = {}
    if context.opt_out_url:
        headers["List-Unsubscribe"] = f"<{context.opt_out_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = OutgoingMessage(
        to=patient.email,
        sender=(sender.from_address if sender and sender.from_address else settings.mail_from),
        reply_to=(sender.reply_to if sender and sender.reply_to else settings.mail_reply_to),
        subject=subject,
        text=text,
        html=html,
        message_id=notification.message_id,
        attachments=attachments,
        headers=headers,
    )
    return Claimed(ident, attempts, message)


def _mine(ident: int, worker_id: str) -> Any:
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
    session.execute(
        update(_TABLE)
        .where(_mine(ident, worker_id))
        .values(status=status, last_error=reason[:1000], lease_until=None, updated_at=now)
    )


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
    session.execute(
        update(_TABLE)
        .where(_mine(ident, worker_id))
        .values(
            due_at=now + backoff(attempts, retry_base_seconds),
            last_error=error[:1000],
            lease_until=None,
            updated_at=now,
        )
    )
    return "queued"


def release(session: Session, ids: list[int], *, worker_id: str, now: datetime) -> None:
    """Give back claims not tried (shutdown): due again at once, the attempt not counted."""
    if not ids:
        return
    session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.id.in_(ids),
            _TABLE.c.claimed_by == worker_id,
            _TABLE.c.status == "queued",
        )
        .values(lease_until=None, attempts=_TABLE.c.attempts - 1, updated_at=now)
    )
