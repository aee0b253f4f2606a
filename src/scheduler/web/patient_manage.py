"""Managing a visit by its private link (``/manage/{token}``): see it, download it, cancel
or move it with the same picker as booking. The token is in the URL: the pages are sent
with ``Referrer-Policy: no-referrer`` and ``noindex``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.errors import Conflict, NotFound
from scheduler.feeds.router import ics_response
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.public import service
from scheduler.public.schemas import (
    PublicBookingRead,
)
from scheduler.web.patient_base import (
    Refused,
    alternatives,
    open_starts_cache,
    page,
    picker,
    read_limit,
    redirect,
    write_limit,
)
from scheduler.web.templating import FormErrors

router = APIRouter(include_in_schema=False, route_class=CommitRoute, dependencies=[read_limit])


Token = Annotated[str, Depends(lambda token: token if len(token) <= 200 else "")]


def _view(db: Session, token: str, now: datetime, settings: Settings) -> PublicBookingRead:
    if not token:
        raise NotFound(service.NOT_FOUND)
    return service.view_booking(db, token, now=now, settings=settings)


def _move_view(
    db: Session, token: str, now: datetime, settings: Settings, start: datetime
) -> PublicBookingRead:
    """The visit to move to ``start``; a start without its UTC offset finds nothing."""
    view = _view(db, token, now, settings)
    if start.tzinfo is None:
        raise NotFound(service.NOT_FOUND)
    return view


def _manage_context(
    view: PublicBookingRead, token: str, now: datetime, settings: Settings
) -> dict[str, Any]:
    changeable = view.status in ("booked", "confirmed")
    return {
        "view": view,
        "token": token,
        "tz": ZoneInfo(view.timezone),
        "zone": view.timezone,
        "manage_url": service.manage_url(settings, token),
        "ics_url": f"/manage/{token}/calendar.ics",
        "can_cancel": changeable and now < view.cancel_allowed_until,
        "can_reschedule": changeable and now < view.reschedule_allowed_until,
        "changeable": changeable,
        "noindex": True,
    }


@router.get("/manage/{token}")
def manage(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    token: Token,
    booked: Annotated[str | None, Query(max_length=5)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    now = clock.now()
    view = _view(db, token, now, settings)
    context = {**_manage_context(view, token, now, settings), "booked": bool(booked), "done": done}
    return page(request, "manage.html", context, location=view.location)


@router.get("/manage/{token}/calendar.ics")
def manage_ics(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    token: Token,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    if not token:
        raise NotFound(service.NOT_FOUND)
    body = service.booking_ics(db, token, now=clock.now(), settings=settings)
    return ics_response(
        lambda: body,
        validator=None,
        request=request,
        if_none_match=if_none_match,
        filename="appointment.ics",
    )


@router.get("/manage/{token}/cancel")
def manage_cancel_page(
    request: Request, db: ReadSessionDep, clock: ClockDep, settings: SettingsDep, token: Token
) -> Response:
    """The cancellation step: the late-cancel policy is stated before the patient confirms;
    past the cut-off, the clinic's phone instead of the button."""
    now = clock.now()
    view = _view(db, token, now, settings)
    context = {**_manage_context(view, token, now, settings), "reason": ""}
    return page(request, "cancel.html", context, location=view.location)


@router.post("/manage/{token}/cancel", dependencies=[write_limit])
def manage_cancel(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: Token,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    now = clock.now()
    view = _view(db, token, now, settings)
    try:
        service.cancel(db, token, reason.strip(), request_id=request_id, now=now, settings=settings)
    except Conflict as exc:
        context = {**_manage_context(view, token, now, settings), "reason": reason}
        errors = FormErrors()
        errors.add("", exc.detail)
        context["errors"] = errors

        def build(_db: Session) -> Response:
            return page(request, "cancel.html", context, location=view.location, status_code=409)

        raise Refused(build) from exc
    return redirect(f"/manage/{token}?done=cancelled")


@router.get("/manage/{token}/reschedule")
def manage_reschedule(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    token: Token,
    month: Annotated[str | None, Query(max_length=7)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The same picker as booking; the visit stays as it is until the new time is confirmed."""
    now = clock.now()
    view = _view(db, token, now, settings)
    context = _manage_context(view, token, now, settings)
    booking = service.booking_by_token(db, token, now)
    chosen = picker(
        db,
        location=view.location,
        kind=service.public_type(db, view.location.id, booking.appointment_type_id),
        month_text=month,
        day_text=day,
        now=now,
        settings=settings,
        cache=open_starts_cache(request),
    )
    base = f"/manage/{token}/reschedule?x=1"
    return page(
        request,
        "times.html",
        {**context, **chosen, "base": base, "mode": "reschedule"},
        location=view.location,
    )


@router.get("/manage/{token}/move")
def manage_move_page(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    token: Token,
    start: Annotated[datetime, Query()],
) -> Response:
    now = clock.now()
    view = _move_view(db, token, now, settings, start)
    context = {**_manage_context(view, token, now, settings), "start": start}
    return page(request, "move.html", context, location=view.location)


@router.post("/manage/{token}/move", dependencies=[write_limit])
def manage_move(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    token: Token,
    start: Annotated[datetime, Form()],
) -> Response:
    """Move the visit (one transaction through the public service: the old time is let go
    only when the new one is booked); a time taken meanwhile shows the nearest free ones."""
    now = clock.now()
    view = _move_view(db, token, now, settings, start)
    type_id = service.booking_by_token(db, token, now).appointment_type_id
    try:
        service.reschedule(db, token, start, request_id=request_id, now=now, settings=settings)
    except Conflict as exc:
        context = _manage_context(view, token, now, settings)
        refusal = "cutoff" if exc.code == "cutoff_passed" else "taken"

        def build(read: Session) -> Response:
            others = alternatives(
                read,
                location_id=view.location.id,
                type_id=type_id,
                around=start,
                now=now,
                settings=settings,
            )
            values = {
                **context,
                "reason": refusal,
                "times": others,
                "kind": service.public_type(read, view.location.id, type_id),
                "around": start,
                "mode": "reschedule",
                "back": f"/manage/{token}/reschedule",
            }
            return page(
                request, "unavailable.html", values, location=view.location, status_code=409
            )

        raise Refused(build) from exc
    return redirect(f"/manage/{token}?done=moved")
