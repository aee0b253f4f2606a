"""Queries of the notification services (the outbox writes and the worker's claims live in
``outbox.py`` and ``delivery.py``, next to the statements they tune)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from scheduler.models import Booking, NotificationLink


def link_by_token_hash(session: Session, token_hash: str) -> NotificationLink | None:
    return session.exec(
        select(NotificationLink).where(NotificationLink.token_hash == token_hash)
    ).first()


def latest_successor(session: Session, booking_id: int | None) -> Booking | None:
    """The latest booking made by rescheduling ``booking_id``, if any."""
    return session.exec(
        select(Booking)
        .where(Booking.rescheduled_from_id == booking_id)
        .order_by(col(Booking.id).desc())
    ).first()
