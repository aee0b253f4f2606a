"""The waitlist over the API (front desk and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from scheduler.auth.dependencies import DeskActor
from scheduler.deps import ClockDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.waitlist import service
from scheduler.waitlist.schemas import (
    EntryStatus,
    WaitlistEntryCreate,
    WaitlistEntryRead,
)

router = APIRouter(tags=["waitlist"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]


class WaitlistCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=1000)


@router.post(
    "/waitlist",
    response_model=WaitlistEntryRead,
    status_code=status.HTTP_201_CREATED,
    summary="Put a patient on the waitlist for a type, a window of dates and daily times",
)
def add_waitlist_entry(
    data: WaitlistEntryCreate, actor: DeskActor, session: SessionDep, clock: ClockDep
) -> WaitlistEntryRead:
    return service.add_entry(session, data, actor=actor, now=clock.now())


@router.get(
    "/waitlist",
    response_model=Page[WaitlistEntryRead],
    summary="The waitlist, first come first, with the offer in flight of each entry",
)
def list_waitlist(
    _: DeskActor,
    session: SessionDep,
    page: PageDep,
    location_id: RowId | None = None,
    appointment_type_id: RowId | None = None,
    status: Annotated[list[EntryStatus] | None, Query()] = None,
) -> Page[WaitlistEntryRead]:
    items, total = service.list_entries(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        statuses=status or [],
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/waitlist/{entry_id}", response_model=WaitlistEntryRead)
def get_waitlist_entry(entry_id: RowId, _: DeskActor, session: SessionDep) -> WaitlistEntryRead:
    return service.get_entry(session, entry_id)


@router.post(
    "/waitlist/{entry_id}/cancel",
    response_model=WaitlistEntryRead,
    summary="Take an entry off the waitlist (an offer in flight is withdrawn, its slot freed)",
)
def cancel_waitlist_entry(
    entry_id: RowId,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    data: WaitlistCancel | None = None,
) -> WaitlistEntryRead:
    return service.cancel_entry(
        session, entry_id, actor=actor, now=clock.now(), reason=data.reason if data else ""
    )
