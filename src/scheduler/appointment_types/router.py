from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from scheduler.appointment_types import service
from scheduler.appointment_types.schemas import (
    AppointmentTypeCreate,
    AppointmentTypeRead,
    AppointmentTypeUpdate,
)
from scheduler.auth.dependencies import Admin, AnyStaff, StaffActor
from scheduler.deps import ClockDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId

router = APIRouter(prefix="/appointment-types", tags=["appointment types"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[AppointmentTypeRead])
def list_appointment_types(
    _: AnyStaff,
    session: SessionDep,
    page: PageDep,
    active: bool | None = None,
    self_schedulable: bool | None = None,
) -> Page[AppointmentTypeRead]:
    items, total = service.list_appointment_types(
        session,
        active=active,
        self_schedulable=self_schedulable,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("", response_model=AppointmentTypeRead, status_code=status.HTTP_201_CREATED)
def create_appointment_type(
    data: AppointmentTypeCreate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> AppointmentTypeRead:
    return service.create_appointment_type(session, data, actor=actor, now=clock.now())


@router.get("/{appointment_type_id}", response_model=AppointmentTypeRead)
def get_appointment_type(
    appointment_type_id: RowId, _: AnyStaff, session: SessionDep
) -> AppointmentTypeRead:
    return service.read_appointment_type(session, appointment_type_id)


@router.patch("/{appointment_type_id}", response_model=AppointmentTypeRead)
def update_appointment_type(
    appointment_type_id: RowId,
    data: AppointmentTypeUpdate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> AppointmentTypeRead:
    return service.update_appointment_type(
        session, appointment_type_id, data, actor=actor, now=clock.now()
    )
