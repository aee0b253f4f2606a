from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from scheduler.auth.dependencies import AnyStaff, DeskActor, StaffActor
from scheduler.deps import ClockDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.patients import duplicates, service
from scheduler.patients.schemas import PatientCreate, PatientMerge, PatientRead, PatientUpdate

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
    probable_duplicate: Annotated[
        bool | None,
        Query(
            description="true: only records an online booking flagged as a probable duplicate "
            "(not merged yet); false: only the others"
        ),
    ] = None,
) -> Page[PatientRead]:
    """Desk staff find any patient; a provider only patients booked with them."""
    rows, total = service.list_patients(
        session,
        q=q,
        date_of_birth=date_of_birth,
        viewer=actor,
        limit=page.limit,
        offset=page.offset,
        probable_duplicate=probable_duplicate,
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
    patient_id: RowId, _: AnyStaff, actor: StaffActor, session: SessionDep
) -> PatientRead:
    """Desk staff see any patient; a provider only patients booked with them."""
    return PatientRead.model_validate(service.get_patient_for(session, patient_id, viewer=actor))


@router.patch("/{patient_id}", response_model=PatientRead)
def update_patient(
    patient_id: RowId,
    data: PatientUpdate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
) -> PatientRead:
    return PatientRead.model_validate(
        service.update_patient(session, patient_id, data, actor=actor, now=clock.now())
    )


@router.post(
    "/{patient_id}/merge",
    response_model=PatientRead,
    summary="Merge a duplicate record into this one (moves its bookings, holds and series)",
)
def merge_patients(
    patient_id: RowId,
    data: PatientMerge,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
) -> PatientRead:
    """This record is kept with its details and eligibility flags; the duplicate is marked
    merged (never deleted). 409 ``patient_conflict`` if both have overlapping active visits."""
    # A deadlock (a reschedule locks a booking row, then the patient) reruns the whole
    # request: CommitRoute's unit of work retries transient failures.
    merged = duplicates.merge_patients(session, patient_id, data, actor=actor, now=clock.now())
    return PatientRead.model_validate(merged)
