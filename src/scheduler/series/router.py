"""Series templates (admins) and treatment series (front desk) over the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, status
from fastapi.responses import JSONResponse

from scheduler.auth.dependencies import Admin, AnyStaff, DeskActor, StaffActor
from scheduler.deps import ClockDep, SettingsDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.idempotency.service import create_once
from scheduler.kit.ids import RowId
from scheduler.series import service, templates
from scheduler.series.schemas import (
    BoosterBooked,
    BoosterBooking,
    BoosterProposal,
    SeriesCancel,
    SeriesPreview,
    SeriesRead,
    SeriesRequest,
    SeriesTemplateCreate,
    SeriesTemplateRead,
    SeriesTemplateUpdate,
    SeriesVisitReschedule,
)

router = APIRouter(tags=["series"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe creation: same key, same result"),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The visit's ETag; 412 when stale")
]


@router.post(
    "/appointment-types/{appointment_type_id}/series-templates",
    response_model=SeriesTemplateRead,
    status_code=status.HTTP_201_CREATED,
    summary="Plan courses of this type: visits, window, spacing, weekly limit, preferences",
)
def create_series_template(
    appointment_type_id: RowId,
    data: SeriesTemplateCreate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> SeriesTemplateRead:
    return templates.create_template(
        session, appointment_type_id, data, actor=actor, now=clock.now()
    )


@router.get("/series-templates", response_model=Page[SeriesTemplateRead])
def list_series_templates(
    _: AnyStaff,
    session: SessionDep,
    page: PageDep,
    appointment_type_id: RowId | None = None,
) -> Page[SeriesTemplateRead]:
    items, total = templates.list_templates(
        session, appointment_type_id=appointment_type_id, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/series-templates/{template_id}", response_model=SeriesTemplateRead)
def get_series_template(template_id: RowId, _: AnyStaff, session: SessionDep) -> SeriesTemplateRead:
    return templates.read_template(session, template_id)


@router.patch("/series-templates/{template_id}", response_model=SeriesTemplateRead)
def update_series_template(
    template_id: RowId,
    data: SeriesTemplateUpdate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> SeriesTemplateRead:
    return templates.update_template(session, template_id, data, actor=actor, now=clock.now())


@router.post(
    "/series/preview",
    response_model=SeriesPreview,
    summary="Where a series would go (or which visit cannot be placed, and alternatives)",
)
def preview_series(
    data: SeriesRequest, _: DeskActor, session: SessionDep, clock: ClockDep
) -> SeriesPreview:
    return service.preview_series(session, data, now=clock.now())


@router.post(
    "/series",
    response_model=SeriesRead,
    status_code=status.HTTP_201_CREATED,
    summary="Book every visit of a series in one transaction, or none (409 with the reason)",
)
def create_series(
    data: SeriesRequest,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()

    def produce() -> tuple[int, dict[str, Any]]:
        series = service.create_series(session, data, actor=actor, now=now)
        return 201, series.model_dump(mode="json")

    outcome = create_once(
        session,
        scope=actor.label,
        key=idempotency_key,
        path="/series",
        request=data,
        now=now,
        produce=produce,
        ttl=timedelta(hours=settings.idempotency_hours),
        shape=SeriesRead,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get("/series", response_model=Page[SeriesRead], summary="A patient's series")
def list_series(
    _: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    page: PageDep,
    patient_id: RowId,
) -> Page[SeriesRead]:
    items, total = service.list_series(
        session, patient_id=patient_id, now=clock.now(), limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/series/{series_id}", response_model=SeriesRead, summary="Visits and progress")
def get_series(series_id: RowId, _: DeskActor, session: SessionDep, clock: ClockDep) -> SeriesRead:
    return service.get_series(session, series_id, now=clock.now())


@router.post(
    "/series/{series_id}/cancel",
    response_model=SeriesRead,
    summary="Cancel the rest of a series (visits still to come)",
)
def cancel_series(
    series_id: RowId, data: SeriesCancel, actor: DeskActor, session: SessionDep, clock: ClockDep
) -> SeriesRead:
    return service.cancel_series(session, series_id, data, actor=actor, now=clock.now())


@router.post(
    "/series/{series_id}/visits/{booking_id}/reschedule",
    response_model=SeriesRead,
    summary="Move one visit within the series' rules (409 series_spacing otherwise)",
)
def reschedule_series_visit(
    series_id: RowId,
    booking_id: RowId,
    data: SeriesVisitReschedule,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> SeriesRead:
    return service.reschedule_visit(
        session, series_id, booking_id, data, actor=actor, now=clock.now(), if_match=if_match
    )


@router.post(
    "/series/{series_id}/boosters/preview",
    response_model=BoosterProposal,
    summary="After the course: booster starts at the template's interval (changes nothing)",
)
def propose_boosters(
    series_id: RowId, _: DeskActor, session: SessionDep, clock: ClockDep
) -> BoosterProposal:
    return service.propose_boosters(session, series_id, now=clock.now())


@router.post(
    "/series/{series_id}/boosters",
    response_model=BoosterBooked,
    status_code=status.HTTP_201_CREATED,
    summary="After the course: book a booster in the series (usually a proposed start)",
    responses={
        200: {
            "model": BoosterBooked,
            "description": "This start was already booked in the series (a retry)",
        },
        409: {
            "description": "series_incomplete (a visit is still to come), no_boosters, "
            "slot_unavailable (the time was taken meanwhile), outside_availability, "
            "prerequisite_missing, patient_conflict"
        },
        422: {"description": "A start before the series' last visit ends"},
    },
)
def book_booster(
    series_id: RowId,
    data: BoosterBooking,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()

    def produce() -> tuple[int, dict[str, Any]]:
        booked = service.book_booster(session, series_id, data, actor=actor, now=now)
        return (201 if booked.created else 200), booked.model_dump(mode="json")

    outcome = create_once(
        session,
        scope=actor.label,
        key=idempotency_key,
        path=f"/series/{series_id}/boosters",
        request=data,
        now=now,
        produce=produce,
        ttl=timedelta(hours=settings.idempotency_hours),
        shape=BoosterBooked,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
