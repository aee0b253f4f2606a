"""The patient pages: book a visit (``/book``) and manage it by its private link
(``/manage/{token}``), without an account and without JavaScript.

Every step is a link or a form with a server redirect, over the public self-scheduling
service (``public/service.py``, the same rules as the API):

    /book -> /book/types -> /book/times (month, day, times) -> POST /book/hold
    -> /book/details -> POST /book/details (review) -> POST /book/confirm -> /manage/{token}

The browser's booking session (whose holds these are) is an ``HttpOnly`` cookie on
``/book``. The details travel in the review form's hidden fields, never stored before the
booking. A refused step (a taken or expired time) rolls its transaction back and is shown
as a page with the nearest free times (``Refused``), read in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from scheduler.auth.actors import Actor
from scheduler.config import Settings
from scheduler.db.transaction import run_in_transaction
from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.errors import Conflict, NotFound
from scheduler.feeds.router import ics_response
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.ratelimit import rate_limit
from scheduler.kit.secrets import hash_token, new_token
from scheduler.public import service
from scheduler.public.free_days import free_days
from scheduler.public.schemas import (
    PublicAppointmentType,
    PublicBookingCreate,
    PublicBookingRead,
    PublicHoldCreate,
    PublicLocation,
    PublicSlot,
)
from scheduler.web.patient_view import (
    DetailsForm,
    check_details,
    local_day_bounds,
    month_bounds,
    month_grid,
    needs_fasting,
    parse_day,
    parse_month,
    zone_name,
)
from scheduler.web.templating import FormErrors, environment


def _hm(at: datetime) -> str:
    """ "8:00 am": a clock time as patients read it."""
    return f"{at:%-I:%M} {'am' if at.hour < 12 else 'pm'}"


def _day_hm(at: datetime, day_format: str, joiner: str = ", ") -> str:
    return f"{at.strftime(day_format)}{joiner}{_hm(at)}"


environment().filters.update(hm=_hm, dayhm=_day_hm)

BOOK_COOKIE = "book_session"
BOOK_COOKIE_PATH = "/book"
MONTHS_AHEAD = 6
DEFAULT_NAME = "Infusion Scheduler"

read_limit = Depends(rate_limit("public-read", lambda r: r.app.state.settings.public_rate_limit))
write_limit = Depends(
    rate_limit("public-write", lambda r: r.app.state.settings.public_write_rate_limit)
)
hold_limit = Depends(
    rate_limit("public-hold", lambda r: r.app.state.settings.public_hold_rate_limit)
)
router = APIRouter(include_in_schema=False, route_class=CommitRoute, dependencies=[read_limit])


def is_patient_page(path: str) -> bool:
    return path in ("/book", "/manage") or path.startswith(("/book/", "/manage/"))


class Refused(Exception):
    """A step that cannot be done: the transaction is rolled back and ``build`` renders the
    page to show instead, reading what it needs in a fresh read-only transaction."""

    def __init__(self, build: Callable[[Session], Response]) -> None:
        super().__init__("refused")
        self.build = build


async def show_refusal(request: Request, exc: Refused) -> Response:
    factory = request.app.state.sessionmaker
    response: Response = await run_in_threadpool(
        run_in_transaction, factory, exc.build, read_only=True
    )
    return response


# --- rendering -----------------------------------------------------------------------


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    location: PublicLocation | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A patient page in its own layout: the clinic's name, logo, colour and phone."""
    settings: Settings = request.app.state.settings
    values: dict[str, Any] = {
        "request": request,
        "clinic_name": settings.clinic_name or (location.name if location else DEFAULT_NAME),
        "clinic_phone": settings.clinic_phone or (location.phone if location else ""),
        "clinic_logo": settings.clinic_logo_url,
        "brand_color": settings.clinic_brand_color,
        "errors": FormErrors(),
        "zone_name": zone_name,
        "location": location,
    }
    values.update(context or {})
    html = environment().get_template(f"patient/{template}").render(values)
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return page(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _book_token(request: Request) -> str | None:
    token = request.cookies.get(BOOK_COOKIE)
    return token if token and len(token) <= 200 else None


def _actor(token: str, request_id: str) -> Actor:
    return Actor(kind="public", label=f"public:{hash_token(token)[:12]}", request_id=request_id)


# --- the time picker (booking and rescheduling) -----------------------------------------


def _picker(
    db: Session,
    *,
    location: PublicLocation,
    kind: PublicAppointmentType,
    month_text: str | None,
    day_text: str | None,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """The month grid (days without free times disabled) and the chosen day's times."""
    zone = location.timezone
    today = now.astimezone(ZoneInfo(zone)).date()
    chosen_day = parse_day(day_text)
    month = parse_month(month_text) or (chosen_day or today).replace(day=1)
    last_month = (today.replace(day=1) + timedelta(days=31 * MONTHS_AHEAD)).replace(day=1)
    month = min(max(month, today.replace(day=1)), last_month)
    start, end = month_bounds(month, zone)
    start = max(start, now)
    end = min(end, start + timedelta(days=settings.public_search_max_days))
    free = set(
        free_days(
            db,
            location_id=location.id,
            appointment_type_id=kind.id,
            start_at=start,
            end_at=end,
            now=now,
            settings=settings,
        )
    )
    if chosen_day is not None and chosen_day.replace(day=1) != month:
        chosen_day = None
    times: list[PublicSlot] = []
    if chosen_day is not None and chosen_day in free:
        day_start, day_end = local_day_bounds(chosen_day, zone)
        times = service.find_times(
            db,
            location_id=location.id,
            appointment_type_id=kind.id,
            start_at=max(day_start, start),
            end_at=min(day_end, end),
            now=now,
            settings=settings,
        ).items
    return {
        "grid": month_grid(month, free, selected=chosen_day, today=today, last_month=last_month),
        "day": chosen_day,
        "times": times,
        "tz": ZoneInfo(zone),
        "zone": zone,
        "kind": kind,
    }


def _alternatives(
    db: Session,
    *,
    location_id: int,
    type_id: int,
    around: datetime,
    now: datetime,
    settings: Settings,
) -> list[PublicSlot]:
    return service.nearest_times(
        db,
        location_id=location_id,
        appointment_type_id=type_id,
        around=around,
        now=now,
        settings=settings,
    ).items


# --- /book -------------------------------------------------------------------------------


@router.get("/book")
def book_start(request: Request, db: ReadSessionDep) -> Response:
    locations = service.list_locations(db)
    if len(locations) == 1:
        return _redirect(f"/book/types?location={locations[0].id}")
    return page(request, "locations.html", {"locations": locations, "step": 1})


@router.get("/book/types")
def book_types(
    request: Request, db: ReadSessionDep, location: Annotated[int, Query(ge=1, lt=2**31)]
) -> Response:
    place = service.public_location(db, location)
    kinds = service.list_types(db, location)
    several = len(service.list_locations(db)) > 1
    return page(
        request,
        "types.html",
        {"kinds": kinds, "several_locations": several, "step": 1},
        location=place,
    )


@router.get("/book/times")
def book_times(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    location: Annotated[int, Query(ge=1, lt=2**31)],
    kind: Annotated[int, Query(alias="type", ge=1, lt=2**31)],
    month: Annotated[str | None, Query(max_length=7)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    place = service.public_location(db, location)
    appointment_type = service.public_type(db, location, kind)
    if not appointment_type.bookable_online:
        raise NotFound(service.NOT_FOUND)
    picker = _picker(
        db,
        location=place,
        kind=appointment_type,
        month_text=month,
        day_text=day,
        now=clock.now(),
        settings=settings,
    )
    base = f"/book/times?location={location}&type={kind}"
    return page(
        request,
        "times.html",
        {**picker, "base": base, "step": 2, "mode": "book"},
        location=place,
    )


def _taken_page(
    request: Request,
    *,
    location_id: int,
    type_id: int,
    around: datetime,
    now: datetime,
    settings: Settings,
    reason: str,
    status_code: int = 409,
) -> Refused:
    def build(db: Session) -> Response:
        place = service.public_location(db, location_id)
        kind = service.public_type(db, location_id, type_id)
        others = _alternatives(
            db, location_id=location_id, type_id=type_id, around=around, now=now, settings=settings
        )
        context = {
            "reason": reason,
            "kind": kind,
            "times": others,
            "tz": ZoneInfo(place.timezone),
            "zone": place.timezone,
            "around": around,
            "back": f"/book/times?location={location_id}&type={type_id}"
            f"&day={around.astimezone(ZoneInfo(place.timezone)).date().isoformat()}",
        }
        return page(request, "unavailable.html", context, location=place, status_code=status_code)

    return Refused(build)


@router.post("/book/hold", dependencies=[write_limit, hold_limit])
def book_hold(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    location: Annotated[int, Form(ge=1, lt=2**31)],
    kind: Annotated[int, Form(alias="type", ge=1, lt=2**31)],
    start: Annotated[datetime, Form()],
) -> Response:
    """Hold the picked time for this browser (its previous hold is let go) and go on to the
    details; a time taken meanwhile shows the nearest free ones instead."""
    token = _book_token(request) or new_token()
    now = clock.now()
    if start.tzinfo is None:
        raise NotFound(service.NOT_FOUND)
    try:
        hold = service.place_hold(
            db,
            PublicHoldCreate(appointment_type_id=kind, location_id=location, start_at=start),
            session_token=token,
            actor=_actor(token, request_id),
            now=now,
            settings=settings,
        )
    except Conflict as exc:
        raise _taken_page(
            request,
            location_id=location,
            type_id=kind,
            around=start,
            now=now,
            settings=settings,
            reason="taken" if exc.code != "not_bookable_online" else "not_online",
        ) from exc
    response = _redirect(f"/book/details?hold={hold.hold_id}")
    response.set_cookie(
        BOOK_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        path=BOOK_COOKIE_PATH,
        max_age=3600,
    )
    return response


def _expired_page(
    request: Request, held: service.HeldTime, *, now: datetime, settings: Settings
) -> Refused:
    return _taken_page(
        request,
        location_id=held.location_id,
        type_id=held.appointment_type_id,
        around=held.start_at,
        now=now,
        settings=settings,
        reason="expired",
        status_code=410,
    )


def _held(
    request: Request, db: Session, hold: int, *, now: datetime, settings: Settings
) -> tuple[service.HeldTime, PublicLocation, PublicAppointmentType]:
    held = service.held_time(db, hold, session_token=_book_token(request), now=now)
    if held.booked:  # the booking form sent twice (a double tap without JavaScript)
        place = service.public_location(db, held.location_id)
        context = {"held": held, "tz": ZoneInfo(held.timezone), "zone": held.timezone}

        def build(_db: Session) -> Response:
            return page(request, "already_booked.html", context, location=place)

        raise Refused(build)
    if not held.live:
        raise _expired_page(request, held, now=now, settings=settings)
    place = service.public_location(db, held.location_id)
    kind = service.public_type(db, held.location_id, held.appointment_type_id)
    return held, place, kind


def _details_context(
    held: service.HeldTime,
    kind: PublicAppointmentType,
    form: DetailsForm,
    errors: FormErrors,
    now: datetime,
) -> dict[str, Any]:
    return {
        "held": held,
        "kind": kind,
        "form": form,
        "values": form.values,
        "errors": errors,
        "needs_fasting": needs_fasting(kind),
        "seconds_left": max(0, int((held.expires_at - now).total_seconds())),
        "tz": ZoneInfo(held.timezone),
        "zone": held.timezone,
        "step": 3,
    }


@router.get("/book/details")
def book_details(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    hold: Annotated[int, Query(ge=1, lt=2**63)],
) -> Response:
    now = clock.now()
    held, place, kind = _held(request, db, hold, now=now, settings=settings)
    form = DetailsForm(values={}, driver_confirmed=False, fasting_acknowledged=False)
    context = _details_context(held, kind, form, FormErrors(), now)
    return page(request, "details.html", context, location=place)


def _details_form(
    first_name: str,
    last_name: str,
    date_of_birth: str,
    email: str,
    phone: str,
    driver_confirmed: str,
    fasting_acknowledged: str,
) -> DetailsForm:
    return DetailsForm(
        values={
            "first_name": first_name,
            "last_name": last_name,
            "date_of_birth": date_of_birth,
            "email": email,
            "phone": phone,
        },
        driver_confirmed=driver_confirmed == "yes",
        fasting_acknowledged=fasting_acknowledged == "yes",
    )


Text = Annotated[str, Form(max_length=320)]
Flag = Annotated[str, Form(max_length=10)]


@router.post("/book/details")
def book_review(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    hold: Annotated[int, Form(ge=1, lt=2**63)],
    first_name: Text = "",
    last_name: Text = "",
    date_of_birth: Text = "",
    email: Text = "",
    phone: Text = "",
    driver_confirmed: Flag = "",
    fasting_acknowledged: Flag = "",
    edit: Flag = "",
) -> Response:
    """Check the details: errors next to their fields with the input kept, else the review
    step (``edit``: back from the review to the form, as it was filled in)."""
    now = clock.now()
    held, place, kind = _held(request, db, hold, now=now, settings=settings)
    form = _details_form(
        first_name, last_name, date_of_birth, email, phone, driver_confirmed, fasting_acknowledged
    )
    if edit:
        context = _details_context(held, kind, form, FormErrors(), now)
        return page(request, "details.html", context, location=place)
    tz = ZoneInfo(held.timezone)
    details, errors = check_details(form, kind, today=now.astimezone(tz).date())
    context = _details_context(held, kind, form, errors, now)
    if details is None:
        return page(request, "details.html", context, location=place, status_code=422)
    return page(request, "review.html", {**context, "details": details, "step": 4}, location=place)


@router.post("/book/confirm", dependencies=[write_limit])
def book_confirm(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    hold: Annotated[int, Form(ge=1, lt=2**63)],
    first_name: Text = "",
    last_name: Text = "",
    date_of_birth: Text = "",
    email: Text = "",
    phone: Text = "",
    driver_confirmed: Flag = "",
    fasting_acknowledged: Flag = "",
) -> Response:
    now = clock.now()
    held, place, kind = _held(request, db, hold, now=now, settings=settings)
    form = _details_form(
        first_name, last_name, date_of_birth, email, phone, driver_confirmed, fasting_acknowledged
    )
    details, errors = check_details(
        form, kind, today=now.astimezone(ZoneInfo(place.timezone)).date()
    )
    if details is None:
        context = _details_context(held, kind, form, errors, now)
        return page(request, "details.html", context, location=place, status_code=422)
    try:
        confirmation = service.book(
            db,
            PublicBookingCreate(
                hold_id=hold,
                patient=details,
                driver_confirmed=form.driver_confirmed,
                fasting_acknowledged=form.fasting_acknowledged,
            ),
            session_token=_book_token(request),
            request_id=request_id,
            now=now,
            settings=settings,
        )
    except Conflict as exc:
        if exc.code == "hold_expired":
            raise _expired_page(request, held, now=now, settings=settings) from exc
        raise _taken_page(
            request,
            location_id=held.location_id,
            type_id=held.appointment_type_id,
            around=held.start_at,
            now=now,
            settings=settings,
            reason="taken",
        ) from exc
    # The booking session's cookie stays (for an hour): a form sent twice then finds its
    # hold booked and says so, instead of "not found".
    return _redirect(f"/manage/{confirmation.manage_token}?booked=1")


# --- /manage/{token} -------------------------------------------------------------------------

Token = Annotated[str, Depends(lambda token: token if len(token) <= 200 else "")]


def _view(db: Session, token: str, now: datetime, settings: Settings) -> PublicBookingRead:
    if not token:
        raise NotFound(service.NOT_FOUND)
    return service.view_booking(db, token, now=now, settings=settings)


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
    return _redirect(f"/manage/{token}?done=cancelled")


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
    picker = _picker(
        db,
        location=view.location,
        kind=service.public_type(db, view.location.id, booking.appointment_type_id),
        month_text=month,
        day_text=day,
        now=now,
        settings=settings,
    )
    base = f"/manage/{token}/reschedule?x=1"
    return page(
        request,
        "times.html",
        {**context, **picker, "base": base, "mode": "reschedule"},
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
    view = _view(db, token, now, settings)
    if start.tzinfo is None:
        raise NotFound(service.NOT_FOUND)
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
    view = _view(db, token, now, settings)
    if start.tzinfo is None:
        raise NotFound(service.NOT_FOUND)
    type_id = service.booking_by_token(db, token, now).appointment_type_id
    try:
        service.reschedule(db, token, start, request_id=request_id, now=now, settings=settings)
    except Conflict as exc:
        context = _manage_context(view, token, now, settings)
        refusal = "cutoff" if exc.code == "cutoff_passed" else "taken"

        def build(read: Session) -> Response:
            others = _alternatives(
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
    return _redirect(f"/manage/{token}?done=moved")
