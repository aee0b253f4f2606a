"""Feed token lookups and the one query a feed render needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from scheduler.models import (
    ACTIVE_STATUSES,
    AppointmentType,
    Booking,
    Chair,
    FeedToken,
    Location,
    Patient,
    Provider,
)


def active_token(session: Session, token_hash: str) -> FeedToken | None:
    return session.exec(
        select(FeedToken).where(
            FeedToken.token_hash == token_hash, col(FeedToken.revoked_at).is_(None)
        )
    ).first()


def list_tokens(
    session: Session, *, provider_id: int | None, location_id: int | None, include_revoked: bool
) -> list[FeedToken]:
    query = select(FeedToken)
    if provider_id is not None:
        query = query.where(FeedToken.provider_id == provider_id)
    if location_id is not None:
        query = query.where(FeedToken.location_id == location_id)
    if not include_revoked:
        query = query.where(col(FeedToken.revoked_at).is_(None))
    return list(session.exec(query.order_by(col(FeedToken.id))).all())


@dataclass(frozen=True)
class FeedRow:
    """Exactly what a feed event is rendered from (plain values: cheap to load and to hash)."""

    ical_uid: str
    sequence: int
    start_at: datetime
    end_at: datetime
    status: str
    updated_at: datetime
    type_name: str
    first_name: str
    last_name: str
    chair_name: str | None
    provider_name: str
    location_name: str


def feed_rows(
    session: Session,
    *,
    provider_id: int | None,
    location_id: int | None,
    start_at: datetime,
    end_at: datetime,
    cancelled_since: datetime,
    limit: int,
) -> list[FeedRow]:
    """Bookings in the window: active ones, and recently cancelled ones that were not replaced
    by a reschedule (the replacement carries the same UID)."""
    successor = aliased(Booking)
    replaced = exists().where(col(successor.rescheduled_from_id) == col(Booking.id))
    query = (
        sa_select(
            col(Booking.ical_uid),
            col(Booking.sequence),
            col(Booking.start_at),
            col(Booking.end_at),
            col(Booking.status),
            col(Booking.updated_at),
            col(AppointmentType.name),
            col(Patient.first_name),
            col(Patient.last_name),
            col(Chair.name),
            col(Provider.display_name),
            col(Location.name),
        )
        .join(AppointmentType, col(AppointmentType.id) == col(Booking.appointment_type_id))
        .join(Patient, col(Patient.id) == col(Booking.patient_id))
        .join(Provider, col(Provider.id) == col(Booking.provider_id))
        .join(Location, col(Location.id) == col(Booking.location_id))
        .outerjoin(Chair, col(Chair.id) == col(Booking.chair_id))
        .where(
            col(Booking.start_at) < end_at,
            col(Booking.end_at) > start_at,
            or_(
                col(Booking.status).in_(ACTIVE_STATUSES),
                and_(col(Booking.updated_at) >= cancelled_since, ~replaced),
            ),
        )
        .order_by(col(Booking.start_at), col(Booking.id))
        .limit(limit)
    )
    if provider_id is not None:
        query = query.where(col(Booking.provider_id) == provider_id)
    if location_id is not None:
        query = query.where(col(Booking.location_id) == location_id)
    return [FeedRow(*row) for row in session.execute(query).all()]
