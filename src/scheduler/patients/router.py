from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from scheduler.auth.dependencies import AnyStaff, DeskActor, StaffActor
from scheduler.db import CommitRoute, SessionDep
from scheduler.deps import ClockDep
from scheduler.kit.pagination import Page, PageParams, page_params
from scheduler.patients import service
from scheduler.patients.schemas import PatientCreate, PatientRead, PatientUpdate

router = APIRouter(prefix="/patients", tags=["patients"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[PatientRead])
def list_patients(
    actor: StaffActor,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Words to find in name, e-mail or phone (case-insensitive, all must match)",
        ),
    ] = None,
    date_of_birth: date | None = None,
) -> Page[PatientRead]:
    """Desk staff find any patient; a provider only patients booked with them."""
    rows, total = service.list_patients(
        session,
        q=q,
        date_of_birth=date_of_birth,
        viewer=actor,
        limit=page.limit,
        offset=page.offset,
    )
    items = [PatientRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("", response_model=PatientRead, status_code=status.HTTP_201_CREATED)
def create_patient(
    data: PatientCreate, actor: DeskActor, session: SessionDep, clock: ClockDep
) -> PatientRead:
    return PatientRead.model_validate(
        service.create_patient(session, data, actor=actor, now=clock.now())
    )


@router.get("/{patient_id}", response_model=PatientRead)
def get_patient(
    patient_id: int, _: AnyStaff, actor: StaffActor, session: SessionDep
) -> PatientRead:
    """Desk staff see any patient; a provider only patients booked with them."""
    return PatientRead.model_validate(service.get_patient_for(session, patient_id, viewer=actor))


@router.patch("/{patient_id}", response_model=PatientRead)
def update_patient(
    patient_id: int,
    data: PatientUpdate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
) -> PatientRead:
    return PatientRead.model_validate(
        service.update_patient(session, patient_id, data, actor=actor, now=clock.now())
    )
