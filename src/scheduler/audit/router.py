from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session, col, func, select

from scheduler.auth.dependencies import Admin
from scheduler.bookings.schemas import AuditEventRead
from scheduler.db import SessionDep
from scheduler.kit.pagination import Page, PageParams, page_params
from scheduler.kit.timeutil import Instant
from scheduler.models import AuditEvent

router = APIRouter(prefix="/audit-events", tags=["audit"])


def list_events(
    session: Session,
    *,
    entity_type: str | None,
    entity_id: int | None,
    action: str | None,
    actor: str | None,
    request_id: str | None,
    start_at: Instant | None,
    end_at: Instant | None,
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


@router.get("", response_model=Page[AuditEventRead], summary="The append-only audit trail")
def audit_events(
    _: Admin,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    entity_type: str | None = None,
    entity_id: int | None = None,
    action: str | None = None,
    actor: str | None = None,
    request_id: str | None = None,
    start: Annotated[Instant | None, Query()] = None,
    end: Annotated[Instant | None, Query()] = None,
) -> Page[AuditEventRead]:
    rows, total = list_events(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor=actor,
        request_id=request_id,
        start_at=start,
        end_at=end,
        limit=page.limit,
        offset=page.offset,
    )
    items = [AuditEventRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
