"""The outbox: the messages a booking change causes, written in the change's transaction.

A rolled-back change therefore leaves no message, and a committed one always has its
messages. The booking service calls two hooks, one line each:

- ``booking_written`` after a new booking row (created, or the new half of a reschedule);
- ``booking_changed`` after any change to an existing one (confirm, cancel, no-show, ...).

What they queue:

- ``booked`` when written: a confirmation (or, for the new half of a reschedule, a
  "rescheduled" message), then reminders and the day-before instructions (``policy``);
  ``pending`` (awaiting approval): nothing until staff confirm it;
- a reschedule or cancellation withdraws the old booking's messages not yet sent;
- cancelled: a cancellation message (whoever cancelled);
- checked-in, completed, no-show: unsent reminders are withdrawn; entered in error: every
  unsent message is.

The policy (offsets, quiet hours) comes from ``session.info[POLICY_KEY]``, which the app,
the worker and the CLI set on their session factories (``install_policy``); without one the
defaults apply. No personal data is written here: a message names its booking and kind only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.models import AppointmentType, Booking, Location, Notification
from scheduler.notifications import repository
from scheduler.notifications.policy import NotificationPolicy, scheduled_messages

POLICY_KEY = "scheduler.notification_policy"
_DEFAULT_POLICY = NotificationPolicy()
# Kinds withdrawn when the visit no longer needs them.
_TIMED_KINDS = ("reminder", "instructions")
_Row = TypeVar("_Row", Location, AppointmentType)


def install_policy(factory: sessionmaker[Any], policy: NotificationPolicy) -> None:
    """Every session of ``factory`` schedules messages by ``policy``."""
    info = dict(factory.kw.get("info") or {})
    info[POLICY_KEY] = policy
    factory.configure(info=info)


def policy_of(session: Session) -> NotificationPolicy:
    policy = session.info.get(POLICY_KEY)
    return policy if isinstance(policy, NotificationPolicy) else _DEFAULT_POLICY


def new_message_id(policy: NotificationPolicy) -> str:
    return f"<{secrets.token_hex(16)}@{policy.message_id_domain}>"


def booking_written(
    session: Session,
    row: Mapping[str, Any],
    *,
    now: datetime,
    location: Location | None = None,
    appointment_type: AppointmentType | None = None,
) -> None:
    """Queue the messages of a booking just inserted (``row``: its column values and id).
    ``location`` and ``appointment_type``: the booking's, when the caller has them."""
    booking_id = int(row["id"])
    previous = row.get("rescheduled_from_id")
    if previous is not None:
        withdraw(session, int(previous), now=now, reason="the visit was rescheduled")
    status = row["status"]
    if status != "booked" and previous is None:
        return
    kind = "rescheduled" if previous is not None else "confirmation"
    _queue(
        session,
        booking_id=booking_id,
        kind=kind,
        start_at=row["start_at"],
        location=location or _get(session, Location, row["location_id"]),
        appointment_type=appointment_type
        or _get(session, AppointmentType, row["appointment_type_id"]),
        with_reminders=status == "booked",
        now=now,
    )


def booking_changed(session: Session, booking: Booking, *, action: str, now: datetime) -> None:
    """Queue or withdraw messages after ``action`` changed ``booking``."""
    assert booking.id is not None
    if action == "confirm":
        _queue(
            session,
            booking_id=booking.id,
            kind="confirmation",
            start_at=booking.start_at,
            location=_get(session, Location, booking.location_id),
            appointment_type=_get(session, AppointmentType, booking.appointment_type_id),
            with_reminders=True,
            now=now,
        )
    elif action == "cancel":
        withdraw(session, booking.id, now=now, reason="the visit was cancelled")
        repository.insert_messages(
            session,
            booking_id=booking.id,
            now=now,
            messages=[("cancellation", now, new_message_id(policy_of(session)))],
        )
    elif action in ("check-in", "complete", "no-show"):
        withdraw(
            session,
            booking.id,
            now=now,
            reason=f"the visit is {booking.status}",
            kinds=_TIMED_KINDS,
        )
    elif action == "entered-in-error":
        withdraw(session, booking.id, now=now, reason="the booking was entered in error")


def withdraw(
    session: Session,
    booking_id: int,
    *,
    now: datetime,
    reason: str,
    kinds: tuple[str, ...] | None = None,
) -> None:
    """Withdraw the booking's messages not yet sent (all kinds unless ``kinds``)."""
    repository.withdraw_queued(session, booking_id, now=now, reason=reason, kinds=kinds)


def _get(session: Session, model: type[_Row], ident: int) -> _Row:
    """A booking's location or type: usually in the identity map already (the booking's
    checks loaded them)."""
    found = session.get(model, ident)
    assert found is not None
    return found


def _queue(
    session: Session,
    *,
    booking_id: int,
    kind: str,
    start_at: datetime,
    location: Location,
    appointment_type: AppointmentType,
    with_reminders: bool,
    now: datetime,
) -> None:
    policy = policy_of(session)
    messages = [(kind, now, new_message_id(policy))]
    if with_reminders:
        instructions = bool(
            appointment_type.fasting_hours
            or appointment_type.clear_liquids_hours
            or appointment_type.driver_required
        )
        for later_kind, due_at in scheduled_messages(
            start_at=start_at,
            tz=ZoneInfo(location.timezone),
            now=now,
            policy=policy,
            with_instructions=instructions,
        ):
            messages.append((later_kind, due_at, new_message_id(policy)))
    repository.insert_messages(session, booking_id=booking_id, now=now, messages=messages)


def queued_for(session: Session, booking_id: int) -> list[Notification]:
    """The booking's messages, oldest first (tests and the staff view)."""
    return repository.queued_for_booking(session, booking_id)
