"""Every SQL statement of series and their templates."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from scheduler.models import Booking, Series, SeriesTemplate


def get_template(session: Session, template_id: int) -> SeriesTemplate | None:
    return session.get(SeriesTemplate, template_id)


def list_templates(
    session: Session, *, appointment_type_id: int | None, limit: int, offset: int
) -> tuple[list[SeriesTemplate], int]:
    query = select(SeriesTemplate)
    count = select(func.count()).select_from(SeriesTemplate)
    if appointment_type_id is not None:
        query = query.where(SeriesTemplate.appointment_type_id == appointment_type_id)
        count = count.where(col(SeriesTemplate.appointment_type_id) == appointment_type_id)
    rows = session.exec(query.order_by(col(SeriesTemplate.id)).limit(limit).offset(offset))
    return list(rows), int(session.exec(count).one())


def get_series(session: Session, series_id: int, *, for_update: bool = False) -> Series | None:
    query = select(Series).where(Series.id == series_id)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def list_series(
    session: Session, *, patient_id: int, limit: int, offset: int
) -> tuple[list[Series], int]:
    query = (
        select(Series)
        .where(Series.patient_id == patient_id)
        .order_by(col(Series.created_at).desc(), col(Series.id).desc())
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(Series).where(col(Series.patient_id) == patient_id)
    return list(session.exec(query)), int(session.exec(count).one())


def visits_of(session: Session, series_ids: list[int]) -> list[Booking]:
    """Every booking of the series (every status), by start."""
    if not series_ids:
        return []
    query = (
        select(Booking)
        .where(col(Booking.series_id).in_(series_ids))
        .order_by(col(Booking.start_at), col(Booking.id))
    )
    return list(session.exec(query))
