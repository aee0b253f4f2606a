from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from scheduler.auth.dependencies import Admin, AnyStaff, DeskActor, StaffActor
from scheduler.deps import ClockDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.kit.timeutil import Instant
from scheduler.locations import service
from scheduler.locations.schemas import (
    ChairCreate,
    ChairRead,
    ChairUpdate,
    ClosureCreate,
    ClosureRead,
    ClosureUpdate,
    LocationCreate,
    LocationRead,
    LocationUpdate,
)

router = APIRouter(prefix="/locations", tags=["locations"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[LocationRead])
def list_locations(
    _: AnyStaff, session: SessionDep, page: PageDep, active: bool | None = None
) -> Page[LocationRead]:
    items, total = service.list_locations(
        session, active=active, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("", response_model=LocationRead, status_code=status.HTTP_201_CREATED)
def create_location(
    data: LocationCreate, _: Admin, actor: StaffActor, session: SessionDep, clock: ClockDep
) -> LocationRead:
    return service.create_location(session, data, actor=actor, now=clock.now())


@router.get("/{location_id}", response_model=LocationRead)
def get_location(location_id: RowId, _: AnyStaff, session: SessionDep) -> LocationRead:
    return service.read_location(session, location_id)


@router.patch("/{location_id}", response_model=LocationRead)
def update_location(
    location_id: RowId,
    data: LocationUpdate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> LocationRead:
    return service.update_location(session, location_id, data, actor=actor, now=clock.now())


@router.get("/{location_id}/chairs", response_model=Page[ChairRead], tags=["chairs"])
def list_chairs(
    location_id: RowId, _: AnyStaff, session: SessionDep, page: PageDep, active: bool | None = None
) -> Page[ChairRead]:
    rows, total = service.list_chairs(
        session, location_id, active=active, limit=page.limit, offset=page.offset
    )
    items = [ChairRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/{location_id}/chairs",
    response_model=ChairRead,
    status_code=status.HTTP_201_CREATED,
    tags=["chairs"],
)
def create_chair(
    location_id: RowId,
    data: ChairCreate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> ChairRead:
    chair = service.create_chair(session, location_id, data, actor=actor, now=clock.now())
    return ChairRead.model_validate(chair)


@router.get("/{location_id}/chairs/{chair_id}", response_model=ChairRead, tags=["chairs"])
def get_chair(location_id: RowId, chair_id: RowId, _: AnyStaff, session: SessionDep) -> ChairRead:
    return ChairRead.model_validate(service.get_chair(session, location_id, chair_id))


@router.patch("/{location_id}/chairs/{chair_id}", response_model=ChairRead, tags=["chairs"])
def update_chair(
    location_id: RowId,
    chair_id: RowId,
    data: ChairUpdate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> ChairRead:
    chair = service.update_chair(session, location_id, chair_id, data, actor=actor, now=clock.now())
    return ChairRead.model_validate(chair)


@router.get("/{location_id}/closures", response_model=Page[ClosureRead], tags=["closures"])
def list_closures(
    location_id: RowId,
    _: AnyStaff,
    session: SessionDep,
    page: PageDep,
    start: Annotated[Instant | None, Query(description="Closures ending after this")] = None,
    end: Annotated[Instant | None, Query(description="Closures starting before this")] = None,
) -> Page[ClosureRead]:
    rows, total = service.list_closures(
        session, location_id, start_at=start, end_at=end, limit=page.limit, offset=page.offset
    )
    items = [ClosureRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/{location_id}/closures",
    response_model=ClosureRead,
    status_code=status.HTTP_201_CREATED,
    tags=["closures"],
)
def create_closure(
    location_id: RowId,
    data: ClosureCreate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
) -> ClosureRead:
    closure = service.create_closure(session, location_id, data, actor=actor, now=clock.now())
    return ClosureRead.model_validate(closure)


@router.patch("/{location_id}/closures/{closure_id}", response_model=ClosureRead, tags=["closures"])
def update_closure(
    location_id: RowId,
    closure_id: RowId,
    data: ClosureUpdate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
) -> ClosureRead:
    closure = service.update_closure(
        session, location_id, closure_id, data, actor=actor, now=clock.now()
    )
    return ClosureRead.model_validate(closure)


@router.delete(
    "/{location_id}/closures/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["closures"],
)
def delete_closure(
    location_id: RowId,
    closure_id: RowId,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
) -> None:
    service.delete_closure(session, location_id, closure_id, actor=actor, now=clock.now())
