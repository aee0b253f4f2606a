"""Queries over the audit trail: events are only ever added, never changed or deleted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, col, func, select

from scheduler.models import AuditEvent, User

# A Core INSERT through the session: events are never read back or changed in the request
# that writes them, and the ORM's unit of work would cost several times the statement.
# inline(): nor is the event's id, so PostgreSQL is not asked for it (RETURNING id).
_INSERT_EVENT = insert(SQLModel.metadata.tables[AuditEvent.__tablename__]).inline()


def insert_event(session: Session, values: dict[str, Any]) -> None:
    """Add one event (column values) in the caller's transaction."""
    session.execute(_INSERT_EVENT, values)


def list_events(
    session: Session,
    *,
    entity_type: str | None,
    entity_id: int | None,
    action: str | None,
    actor: str | None,
    request_id: str | None,
    start_at: datetime | None,
    end_at: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.entity_type, entity_type),
        (AuditEvent.entity_id, entity_id),
        (AuditEvent.action, action),
        (AuditEvent.actor, actor),
        (AuditEvent.request_id, request_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if start_at is not None:
        query = query.where(AuditEvent.occurred_at >= start_at)
    if end_at is not None:
        query = query.where(AuditEvent.occurred_at < end_at)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEvent.id)).limit(limit).offset(offset)).all()
    return list(rows), total


def events_of_entity(
    session: Session, *, entity_type: str, entity_id: int, actions: Sequence[str] | None = None
) -> list[tuple[AuditEvent, User | None]]:
    """An entity's events (only these actions, when given), oldest first, each with the staff
    user who acted (None for the public, the system or a deleted account)."""
    query = (
        select(AuditEvent, User)
        .outerjoin(User, col(User.id) == col(AuditEvent.actor_user_id))
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
    )
    if actions is not None:
        query = query.where(col(AuditEvent.action).in_(actions))
    rows = session.exec(query.order_by(col(AuditEvent.id))).all()
    return [(event, user) for event, user in rows]
