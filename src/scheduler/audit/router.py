from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from scheduler.audit import repository
from scheduler.auth.dependencies import Admin
from scheduler.bookings.schemas import AuditEventRead
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.kit.timeutil import Instant

router = APIRouter(prefix="/audit-events", tags=["audit"], route_class=CommitRoute)


@router.get("", response_model=Page[AuditEventRead], summary="The append-only audit trail")
def audit_events(
    _: Admin,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    entity_type: str | None = None,
    entity_id: RowId | None = None,
    action: str | None = None,
    actor: str | None = None,
    request_id: str | None = None,
    start: Annotated[Instant | None, Query()] = None,
    end: Annotated[Instant | None, Query()] = None,
) -> Page[AuditEventRead]:
    rows, total = repository.list_events(
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
