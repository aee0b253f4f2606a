"""Public self-scheduling endpoints (no account). Rate limited per client address."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from scheduler.auth.actors import Actor
from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.feeds.router import ics_response
from scheduler.http.query_ids import (
    appointment_type_id_query,
    location_id_query,
)
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.idempotency.service import create_once
from scheduler.kit.ids import RowId
from scheduler.kit.metrics import BOOKINGS_CREATED, HOLDS_CREATED, SLOT_SEARCH_DURATION
from scheduler.kit.ratelimit import rate_limit
from scheduler.kit.secrets import derived_token, hash_token, new_token
from scheduler.kit.timeutil import Instant
from scheduler.public import service
from scheduler.public.schemas import (
    PublicAppointmentType,
    PublicBookingConfirmation,
    PublicBookingCreate,
    PublicBookingRead,
    PublicCancel,
    PublicHoldCreate,
    PublicHoldRead,
    PublicLocation,
    PublicReschedule,
    PublicSlotList,
)

SESSION_COOKIE = "booking_session"
read_limit = Depends(rate_limit("public-read", lambda r: r.app.state.settings.public_rate_limit))
write_limit = Depends(
    rate_limit("public-write", lambda r: r.app.state.settings.public_write_rate_limit)
)
hold_limit = Depends(
    rate_limit("public-hold", lambda r: r.app.state.settings.public_hold_rate_limit)
)
router = APIRouter(
    prefix="/public",
    tags=["public self-scheduling"],
    dependencies=[read_limit],
    route_class=CommitRoute,
)

SessionHeader = Annotated[
    str | None,
    Header(alias="X-Booking-Session", description="The session_token from your hold"),
]
SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]


IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe: the same key replays the result"),
]


def _idempotency_scope(session_token: str) -> str:
    return f"public:{hash_token(session_token)}"


def _session_token(header: str | None, cookie: str | None) -> str | None:
    token = header or cookie
    return token if token and len(token) <= 200 else None


@router.get("/locations", response_model=list[PublicLocation])
def list_locations(session: SessionDep) -> list[PublicLocation]:
    return service.list_locations(session)


@router.get(
    "/locations/{location_id}/appointment-types", response_model=list[PublicAppointmentType]
)
def list_appointment_types(location_id: RowId, session: SessionDep) -> list[PublicAppointmentType]:
    return service.list_types(session, location_id)


@router.get("/slots", response_model=PublicSlotList, summary="Free times (times only)")
def find_times(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    appointment_type: Annotated[int, Depends(appointment_type_id_query)],
    location: Annotated[int, Depends(location_id_query)],
    start: Annotated[Instant, Query()],
    end: Annotated[Instant, Query()],
) -> PublicSlotList:
    with SLOT_SEARCH_DURATION.labels("public").time():
        return service.find_times(
            session,
            location_id=location,
            appointment_type_id=appointment_type,
            start_at=start,
            end_at=end,
            now=clock.now(),
            settings=settings,
        )


@router.post(
    "/holds",
    response_model=PublicHoldRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[write_limit, hold_limit],
    summary="Hold a time while you fill in your details (replaces your previous hold)",
)
def place_hold(
    data: PublicHoldCreate,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    header: SessionHeader = None,
    cookie: SessionCookie = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    token = _session_token(header, cookie) or new_token()
    actor = Actor(kind="public", label=f"public:{hash_token(token)[:12]}", request_id=request_id)

    def produce() -> tuple[int, dict[str, Any]]:
        hold = service.place_hold(
            session, data, session_token=token, actor=actor, now=clock.now(), settings=settings
        )
        HOLDS_CREATED.labels("public").inc()
        return status.HTTP_201_CREATED, hold.model_dump(mode="json")

    outcome = create_once(
        session,
        scope=_idempotency_scope(token),
        key=idempotency_key,
        path="/public/holds",
        request=data,
        now=clock.now(),
        produce=produce,
        ttl=timedelta(hours=settings.idempotency_hours),
        secrets={"session_token": token},
        shape=PublicHoldRead,
    )
    response = JSONResponse(outcome.body, status_code=outcome.status_code)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        path="/api/v1/public",
        max_age=3600,
    )
    return response


@router.delete(
    "/holds/{hold_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[write_limit]
)
def release_hold(
    hold_id: RowId,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
    header: SessionHeader = None,
    cookie: SessionCookie = None,
) -> Response:
    token = _session_token(header, cookie)
    actor = Actor(
        kind="public", label=f"public:{hash_token(token or '')[:12]}", request_id=request_id
    )
    service.release_hold(session, hold_id, session_token=token, actor=actor, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/bookings",
    response_model=PublicBookingConfirmation,
    status_code=status.HTTP_201_CREATED,
    dependencies=[write_limit],
    summary="Book your held time with your details and the day-of acknowledgements",
)
def book(
    data: PublicBookingCreate,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    header: SessionHeader = None,
    cookie: SessionCookie = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A retried submit with the same ``Idempotency-Key`` gets the same confirmation back
    (manage link included) instead of "hold expired". The stored answer holds no manage
    link: with a key, the manage token is derived from the booking session and the key
    (``kit.secrets.derived_token``), so the retry, which sends both, gets the same link."""
    token = _session_token(header, cookie)
    key = idempotency_key if token else None
    scope = _idempotency_scope(token or "")
    manage_token = (
        # The hold too: a hold is booked at most once, so an expired key reused later for
        # another hold never derives a token a booking already has.
        derived_token(settings.secret_key, "manage-token", scope, key, str(data.hold_id))
        if key is not None
        else new_token()
    )

    def produce() -> tuple[int, dict[str, Any]]:
        confirmation = service.book(
            session,
            data,
            session_token=token,
            request_id=request_id,
            now=clock.now(),
            settings=settings,
            manage_token=manage_token,
        )
        BOOKINGS_CREATED.labels("online").inc()
        return status.HTTP_201_CREATED, confirmation.model_dump(mode="json")

    outcome = create_once(
        session,
        scope=scope,
        key=key,
        path="/public/bookings",
        request=data,
        now=clock.now(),
        produce=produce,
        ttl=timedelta(hours=settings.idempotency_hours),
        secrets=service.manage_links(settings, manage_token),
        shape=PublicBookingConfirmation,
    )
    return JSONResponse(outcome.body, status_code=outcome.status_code)


@router.get("/manage/{token}", response_model=PublicBookingRead, summary="Your booking")
def view_booking(
    token: str, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> PublicBookingRead:
    return service.view_booking(session, token, now=clock.now(), settings=settings)


@router.get(
    "/manage/{token}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="Your booking as a calendar file",
)
def booking_ics(
    token: str,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    body = service.booking_ics(session, token, now=clock.now(), settings=settings)
    return ics_response(
        lambda: body,
        validator=None,
        request=request,
        if_none_match=if_none_match,
        filename="appointment.ics",
    )


# Calendar apps and link checkers probe with HEAD: answered like GET without a body
# (ics_response), and left out of the OpenAPI document, where it would repeat GET's operation.
router.add_api_route(
    "/manage/{token}/calendar.ics", booking_ics, methods=["HEAD"], include_in_schema=False
)


@router.post("/manage/{token}/cancel", response_model=PublicBookingRead, dependencies=[write_limit])
def cancel(
    token: str,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    data: PublicCancel | None = None,
) -> PublicBookingRead:
    return service.cancel(
        session,
        token,
        data.reason if data else "",
        request_id=request_id,
        now=clock.now(),
        settings=settings,
    )


@router.post(
    "/manage/{token}/reschedule", response_model=PublicBookingRead, dependencies=[write_limit]
)
def reschedule(
    token: str,
    data: PublicReschedule,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> PublicBookingRead:
    return service.reschedule(
        session,
        token,
        data.start_at,
        request_id=request_id,
        now=clock.now(),
        settings=settings,
    )
