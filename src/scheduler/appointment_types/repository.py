"""Queries for appointment types."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from scheduler.models import AppointmentType


def list_appointment_types(
    session: Session,
    *,
    active: bool | None,
    self_schedulable: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[AppointmentType], int]:
    query = select(AppointmentType)
    if active is not None:
        query = query.where(AppointmentType.active == active)
    if self_schedulable is not None:
        query = query.where(AppointmentType.self_schedulable == self_schedulable)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AppointmentType.id)).limit(limit).offset(offset)).all()
    return list(rows), total


def code_taken(session: Session, code: str, *, except_id: int | None = None) -> bool:
    query = select(AppointmentType.id).where(AppointmentType.code == code)
    if except_id is not None:
        query = query.where(AppointmentType.id != except_id)
    return session.exec(query).first() is not None
