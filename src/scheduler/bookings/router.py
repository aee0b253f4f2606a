from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from scheduler.auth.actors import ADMIN, FRONT_DESK, PROVIDER, Actor
from scheduler.auth.dependencies import AnyStaff, DeskActor, StaffActor, staff_actor
from scheduler.bookings import service
from scheduler.bookings.schemas import (
    ActionRequest,
    BookingCreate,
    BookingRead,
    BookingStatus,
    BookingUpdate,
    CancelRequest,
    HoldCreate,
    HoldRead,
    RescheduleRequest,
)
from scheduler.config import Settings
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import Forbidden, NotAuthenticated
from scheduler.http.json_body import refuse_malformed_json, validated_body
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute, DirectRoute, run_and_commit, served_by
from scheduler.http.transaction import SessionDep, request_transaction
from scheduler.idempotency.service import create_once
from scheduler.kit.clock import Clock
from scheduler.kit.ids import RowId
from scheduler.kit.metrics import BOOKINGS_CREATED, HOLDS_CREATED
from scheduler.kit.timeutil import Instant
from scheduler.models import Booking

router = APIRouter(tags=["bookings"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe creation: same key, same result"),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The booking's ETag; 412 when stale")
]


def booking_response(booking: Booking | BookingRead, status_code: int = 200) -> JSONResponse:
    read = booking if isinstance(booking, BookingRead) else BookingRead.model_validate(booking)
    body = read.model_dump(mode="json")
    return JSONResponse(body, status_code=status_code, headers={"ETag": service.etag_of(booking)})


def _idempotent_response(
    session: SessionDep,
    *,
    actor: Actor,
    key: str | None,
    path: str,
    data: BaseModel,
    now: datetime,
    produce: Callable[[], tuple[int, dict[str, Any]]],
    ttl: timedelta,
    shape: type[BaseModel],
) -> JSONResponse:
    outcome = create_once(
        session,
        scope=actor.label,
        key=key,
        path=path,
        request=data,
        now=now,
        produce=produce,
        ttl=ttl,
        shape=shape,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if "version" in outcome.body and "id" in outcome.body:
        headers["ETag"] = f'"{outcome.body["id"]}.{outcome.body["version"]}"'
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post(
    "/holds",
    response_model=HoldRead,
    status_code=status.HTTP_201_CREATED,
    tags=["holds"],
    summary="Reserve a slot for a few minutes while a booking is completed",
)
def create_hold(
    data: HoldCreate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()

    def produce() -> tuple[int, dict[str, Any]]:
        hold = service.create_hold(
            session, data, actor=actor, now=now, ttl=timedelta(minutes=settings.hold_minutes)
        )
        HOLDS_CREATED.labels("staff").inc()
        return 201, HoldRead.model_validate(hold).model_dump(mode="json")

    return _idempotent_response(
        session,
        actor=actor,
        key=idempotency_key,
        path="/holds",
        data=data,
        now=now,
        produce=produce,
        ttl=timedelta(hours=settings.idempotency_hours),
        shape=HoldRead,
    )


@router.get("/holds/{hold_id}", response_model=HoldRead, tags=["holds"])
def get_hold(hold_id: RowId, actor: StaffActor, session: SessionDep) -> HoldRead:
    return HoldRead.model_validate(service.get_hold_for(session, hold_id, viewer=actor))


@router.delete("/holds/{hold_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["holds"])
def release_hold(
    hold_id: RowId, actor: DeskActor, session: SessionDep, clock: ClockDep
) -> Response:
    service.release_hold(session, hold_id, actor=actor, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _create_booking_direct(request: Request) -> Response:
    """``create_booking`` below, with its few parameters resolved here rather than by
    FastAPI's dependency solving (the same checks, in the same order, with the same errors).

    The front desk's busiest write: routing and dependency solving cost about a quarter of
    a booking's CPU (benchmarks/README.md)."""
    try:
        actor = await staff_actor(request, (ADMIN, FRONT_DESK))
    except (NotAuthenticated, Forbidden):
        await refuse_malformed_json(request)  # FastAPI parses the body before it checks
        raise
    data = await validated_body(request, BookingCreate)
    key = request.headers.get("idempotency-key")
    clock: Clock = request.app.state.clock
    settings: Settings = request.app.state.settings
    async with request_transaction(request, read_only=False) as session:
        return await run_and_commit(create_booking, data, actor, session, clock, settings, key)


@served_by(_create_booking_direct)
def create_booking(
    data: BookingCreate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()

    def produce() -> tuple[int, dict[str, Any]]:
        booking = service.create_booking(session, data, actor=actor, now=now)
        BOOKINGS_CREATED.labels(booking.source).inc()
        return 201, booking.model_dump(mode="json")

    return _idempotent_response(
        session,
        actor=actor,
        key=idempotency_key,
        path="/bookings",
        data=data,
        now=now,
        produce=produce,
        ttl=timedelta(hours=settings.idempotency_hours),
        shape=BookingRead,
    )


def add_create_booking_route(app_router: APIRouter, prefix: str) -> None:
    """Add ``POST {prefix}/bookings`` to the app's own router, tried right after the feed's:
    an included route is found through FastAPI's inclusion context, matched twice over every
    route of its router, which cost more than the rest of the booking's HTTP edge."""
    app_router.add_api_route(
        f"{prefix}/bookings",
        create_booking,
        methods=["POST"],
        route_class_override=DirectRoute,
        response_model=BookingRead,
        status_code=status.HTTP_201_CREATED,
        tags=["bookings"],
        summary="Book from a hold or directly; every rule is checked again at write time",
    )


@router.get("/bookings", response_model=Page[BookingRead], summary="The day list and more")
def list_bookings(
    user: AnyStaff,
    session: SessionDep,
    page: PageDep,
    day: Annotated[
        date | None,
        Query(alias="date", description="A local date at `location_id` (needs location_id)"),
    ] = None,
    start: Annotated[Instant | None, Query(description="Bookings ending after this")] = None,
    end: Annotated[Instant | None, Query(description="Bookings starting before this")] = None,
    location_id: RowId | None = None,
    chair_id: RowId | None = None,
    provider_id: RowId | None = None,
    patient_id: RowId | None = None,
    status_filter: Annotated[
        list[BookingStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
) -> Page[BookingRead]:
    if day is not None:
        start, end = service.local_day_window(session, day, location_id)
    if user.role == PROVIDER and provider_id not in (None, user.provider_id):
        raise Forbidden("Providers can only see their own schedule.")
    if user.role == PROVIDER:
        provider_id = user.provider_id  # providers see their own schedule only
    rows, total = service.list_bookings(
        session,
        start_at=start,
        end_at=end,
        location_id=location_id,
        chair_id=chair_id,
        provider_id=provider_id,
        patient_id=patient_id,
        statuses=status_filter or [],
        limit=page.limit,
        offset=page.offset,
    )
    items = [BookingRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/bookings/{booking_id}", response_model=BookingRead)
def get_booking(booking_id: RowId, actor: StaffActor, session: SessionDep) -> JSONResponse:
    return booking_response(service.get_booking_for(session, booking_id, viewer=actor))


@router.patch("/bookings/{booking_id}", response_model=BookingRead)
def update_booking(
    booking_id: RowId,
    data: BookingUpdate,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    booking = service.update_booking(
        session, booking_id, data, actor=actor, now=clock.now(), if_match=if_match
    )
    return booking_response(booking)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingRead)
def cancel_booking(
    booking_id: RowId,
    data: CancelRequest,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    booking = service.cancel_booking(
        session, booking_id, data, actor=actor, now=clock.now(), if_match=if_match
    )
    return booking_response(booking)


@router.post(
    "/bookings/{booking_id}/reschedule",
    response_model=BookingRead,
    status_code=status.HTTP_201_CREATED,
    summary="Move atomically: returns the new booking; the old one is cancelled and linked",
)
def reschedule_booking(
    booking_id: RowId,
    data: RescheduleRequest,
    actor: DeskActor,
    session: SessionDep,
    clock: ClockDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    booking = service.reschedule_booking(
        session, booking_id, data, actor=actor, now=clock.now(), if_match=if_match
    )
    return booking_response(booking, status_code=201)


def _action_route(action: str, summary: str) -> None:
    def endpoint(
        booking_id: RowId,
        actor: DeskActor,
        session: SessionDep,
        clock: ClockDep,
        data: ActionRequest | None = None,
        if_match: IfMatch = None,
    ) -> JSONResponse:
        booking = service.transition(
            session,
            booking_id,
            action,
            actor=actor,
            now=clock.now(),
            if_match=if_match,
            reason=data.reason if data else "",
        )
        return booking_response(booking)

    endpoint.__name__ = f"booking_{action.replace('-', '_')}"
    router.add_api_route(
        f"/bookings/{{booking_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=BookingRead,
        summary=summary,
    )


_action_route("confirm", "Approve a pending booking")
_action_route("check-in", "The patient has arrived")
_action_route("complete", "The visit is over")
_action_route("no-show", "The patient did not come")
_action_route("entered-in-error", "The booking should never have existed")
