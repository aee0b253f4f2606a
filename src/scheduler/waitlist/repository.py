"""Every SQL statement of the waitlist: entries, offers, and the offer's outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Exists, case, exists, func
from sqlmodel import Session, col, select

from scheduler.models import (
    ACTIVE_STATUSES,
    Booking,
    Location,
    Notification,
    Patient,
    Series,
    WaitlistEntry,
    WaitlistOffer,
)


def _skip_locked(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def get_entry(session: Session, entry_id: int, *, for_update: bool = False) -> WaitlistEntry | None:
    query = select(WaitlistEntry).where(WaitlistEntry.id == entry_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def names_and_zones(
    session: Session, entries: Sequence[WaitlistEntry]
) -> tuple[dict[int, str], dict[int, str]]:
    """Patients' display names and locations' zones of ``entries`` (two statements)."""
    patient_ids = {e.patient_id for e in entries}
    location_ids = {e.location_id for e in entries}
    names: dict[int, str] = {}
    zones: dict[int, str] = {}
    if patient_ids:
        for pid, first, last in session.exec(
            select(Patient.id, Patient.first_name, Patient.last_name).where(
                col(Patient.id).in_(patient_ids)
            )
        ):
            assert pid is not None
            names[pid] = f"{first} {last}".strip()
    if location_ids:
        for lid, zone in session.exec(
            select(Location.id, Location.timezone).where(col(Location.id).in_(location_ids))
        ):
            assert lid is not None
            zones[lid] = zone
    return names, zones


def list_entries(
    session: Session,
    *,
    location_id: int | None,
    appointment_type_id: int | None,
    statuses: Sequence[str],
    patient_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[WaitlistEntry], int]:
    """First come first: by ``created_at``."""
    conditions = []
    if location_id is not None:
        conditions.append(col(WaitlistEntry.location_id) == location_id)
    if appointment_type_id is not None:
        conditions.append(col(WaitlistEntry.appointment_type_id) == appointment_type_id)
    if statuses:
        conditions.append(col(WaitlistEntry.status).in_(statuses))
    if patient_id is not None:
        conditions.append(col(WaitlistEntry.patient_id) == patient_id)
    query = (
        select(WaitlistEntry)
        .where(*conditions)
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(WaitlistEntry).where(*conditions)
    return list(session.exec(query)), int(session.exec(count).one())


def entries_of_patients(
    session: Session, patient_ids: Sequence[int], statuses: Sequence[str], *, limit: int
) -> list[WaitlistEntry]:
    """The entries of these patient records with these statuses, first come first."""
    if not patient_ids:
        return []
    query = (
        select(WaitlistEntry)
        .where(
            col(WaitlistEntry.patient_id).in_(patient_ids),
            col(WaitlistEntry.status).in_(statuses),
        )
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
        .limit(limit)
    )
    return list(session.exec(query))


def offers_in_flight(session: Session, entry_ids: Sequence[int]) -> dict[int, WaitlistOffer]:
    if not entry_ids:
        return {}
    query = select(WaitlistOffer).where(
        col(WaitlistOffer.entry_id).in_(entry_ids), WaitlistOffer.status == "offered"
    )
    return {offer.entry_id: offer for offer in session.exec(query)}


def offer_for_entry(
    session: Session, entry_id: int, *, for_update: bool = False
) -> WaitlistOffer | None:
    query = select(WaitlistOffer).where(
        WaitlistOffer.entry_id == entry_id, WaitlistOffer.status == "offered"
    )
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def offered_times(session: Session, entry_id: int) -> list[tuple[datetime, datetime]]:
    """The times already offered to this entry (a slot it let pass goes to the next entry,
    so no start overlapping one of these is offered to it again)."""
    query = select(WaitlistOffer.start_at, WaitlistOffer.end_at).where(
        WaitlistOffer.entry_id == entry_id
    )
    return [(start, end) for start, end in session.exec(query)]


def waiting_groups(session: Session) -> list[tuple[int, int]]:
    """The (location, appointment type) pairs that have waiting entries."""
    query = (
        select(WaitlistEntry.location_id, WaitlistEntry.appointment_type_id)
        .where(WaitlistEntry.status == "waiting")
        .distinct()
        .order_by(col(WaitlistEntry.location_id), col(WaitlistEntry.appointment_type_id))
    )
    return [(lid, tid) for lid, tid in session.exec(query)]


def series_would_slip(now: datetime) -> Exists:
    """SQL truth: the entry's patient has an active series with no visit to come (its next
    visit is not booked yet, so without this chair the course slips)."""
    upcoming = exists().where(
        col(Booking.series_id) == col(Series.id),
        col(Booking.status).in_(ACTIVE_STATUSES),
        col(Booking.start_at) >= now,
    )
    return exists().where(
        col(Series.patient_id) == col(WaitlistEntry.patient_id),
        col(Series.status) == "active",
        ~upcoming,
    )


def waiting_entries(
    session: Session, location_id: int, appointment_type_id: int, *, now: datetime, limit: int
) -> list[tuple[WaitlistEntry, bool]]:
    """Waiting entries of one location and type in offer order: patients whose series would
    slip first, then first come; each with that priority flag. Locked for this worker
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: another worker skips them)."""
    slip = series_would_slip(now)
    query = (
        select(WaitlistEntry, case((slip, True), else_=False))
        .where(
            WaitlistEntry.location_id == location_id,
            WaitlistEntry.appointment_type_id == appointment_type_id,
            WaitlistEntry.status == "waiting",
        )
        .order_by(case((slip, 0), else_=1), col(WaitlistEntry.created_at), col(WaitlistEntry.id))
        .limit(limit)
    )
    if _skip_locked(session):
        query = query.with_for_update(skip_locked=True, of=WaitlistEntry)
    return [(entry, bool(flag)) for entry, flag in session.exec(query)]


def due_offers(session: Session, now: datetime, *, limit: int) -> list[WaitlistOffer]:
    """Offers still open whose time ran out, locked (skipped if another worker has them)."""
    query = (
        select(WaitlistOffer)
        .where(WaitlistOffer.status == "offered", col(WaitlistOffer.expires_at) <= now)
        .order_by(col(WaitlistOffer.expires_at), col(WaitlistOffer.id))
        .limit(limit)
    )
    if _skip_locked(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query))


def ending_entries(session: Session, before_date: date, *, limit: int) -> list[WaitlistEntry]:
    """Waiting entries whose last day is before ``before_date`` (a day after the earliest
    "today" on earth; the service checks each against its clinic's own today)."""
    query = (
        select(WaitlistEntry)
        .where(WaitlistEntry.status == "waiting", col(WaitlistEntry.latest_date) < before_date)
        .order_by(col(WaitlistEntry.id))
        .limit(limit)
    )
    if _skip_locked(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query))


def offer_by_token_hash(
    session: Session, token_hash: str, *, for_update: bool = False
) -> WaitlistOffer | None:
    query = select(WaitlistOffer).where(WaitlistOffer.token_hash == token_hash)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def offer_by_notification(session: Session, notification_id: int) -> WaitlistOffer | None:
    query = select(WaitlistOffer).where(WaitlistOffer.notification_id == notification_id)
    return session.exec(query).first()


def offers_of(session: Session, entry_id: int) -> list[WaitlistOffer]:
    query = (
        select(WaitlistOffer)
        .where(WaitlistOffer.entry_id == entry_id)
        .order_by(col(WaitlistOffer.created_at), col(WaitlistOffer.id))
    )
    return list(session.exec(query))


def add_notification(session: Session, notification: Notification) -> int:
    session.add(notification)
    session.flush()
    assert notification.id is not None
    return notification.id
