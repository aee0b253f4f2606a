"""Booking a visit without an account (``/book``): every step a link or a form with a
server redirect, over the public self-scheduling service (the same rules as the API):

    /book -> /book/types -> /book/times (month, day, times) -> POST /book/hold
    -> /book/details -> POST /book/details (review) -> POST /book/confirm -> /manage/{token}

The browser's booking session (whose holds these are) is an ``HttpOnly`` cookie on
``/book``. The details travel in the review form's hidden fields, never stored before the
booking. A refused step (a taken or expired time) rolls its transaction back and is shown
as a page with the nearest free times (``Refused``), read in a transaction of its own.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.errors import Conflict, NotFound
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.secrets import new_token
from scheduler.models import Patient
from scheduler.public import service
from scheduler.public.schemas import (
    PatientDetails,
    PublicAppointmentType,
    PublicBookingCreate,
    PublicHoldCreate,
    PublicLocation,
)
from scheduler.web.patient_base import (
    BOOK_COOKIE,
    BOOK_COOKIE_PATH,
    Refused,
    actor,
    alternatives,
    book_token,
    hold_limit,
    open_starts_cache,
    page,
    picker,
    read_limit,
    redirect,
    signed_in,
    write_limit,
)
from scheduler.web.patient_view import (
    DetailsForm,
    check_details,
    needs_fasting,
)
from scheduler.web.templating import FormErrors

router = APIRouter(include_in_schema=False, route_class=CommitRoute, dependencies=[read_limit])


@router.get("/book")
def book_start(request: Request, db: ReadSessionDep) -> Response:
    locations = service.list_locations(db)
    if len(locations) == 1:
        return redirect(f"/book/types?location={locations[0].id}")
    return page(request, "locations.html", {"locations": locations, "step": 1})


@router.get("/book/types")
def book_types(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    location: Annotated[int, Query(ge=1, lt=2**31)],
) -> Response:
    place = service.public_location(db, location)
    me = signed_in(request, db, clock.now())
    kinds = service.list_types(db, location, me)
    several = len(service.list_locations(db)) > 1
    return page(
        request,
        "types.html",
        {"kinds": kinds, "several_locations": several, "step": 1, "me": me},
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
    provider: Annotated[str | None, Query(max_length=12)] = None,  # "": anyone
) -> Response:
    """The month and the day's times; where the clinic shows providers and several do this
    visit, a choice of provider ("anyone" by default) above them."""
    place = service.public_location(db, location)
    me = signed_in(request, db, clock.now())
    appointment_type = service.public_type(db, location, kind, me)
    if not appointment_type.bookable_online:
        raise NotFound(service.NOT_FOUND)
    providers = service.provider_choices(db, location, kind, settings)
    chosen_provider = next((p for p, _ in providers if str(p) == provider), None)
    chosen = picker(
        db,
        location=place,
        kind=appointment_type,
        month_text=month,
        day_text=day,
        now=clock.now(),
        settings=settings,
        provider_id=chosen_provider,
        cache=open_starts_cache(request),
    )
    base = f"/book/times?location={location}&type={kind}" + (
        f"&provider={chosen_provider}" if chosen_provider else ""
    )
    context = {
        **chosen,
        "base": base,
        "step": 2,
        "mode": "book",
        "providers": providers,
        "me": me,
    }
    return page(request, "times.html", context, location=place)


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
        others = alternatives(
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
    provider: Annotated[int | None, Form(ge=1, lt=2**31)] = None,
) -> Response:
    """Hold the picked time for this browser (its previous hold is let go) and go on to the
    details; a time taken meanwhile shows the nearest free ones instead."""
    token = book_token(request) or new_token()
    now = clock.now()
    if start.tzinfo is None:
        raise NotFound(service.NOT_FOUND)
    try:
        hold = service.place_hold(
            db,
            PublicHoldCreate(appointment_type_id=kind, location_id=location, start_at=start),
            session_token=token,
            actor=actor(token, request_id),
            now=now,
            settings=settings,
            patient=signed_in(request, db, now),
            provider_id=provider,
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
    response = redirect(f"/book/details?hold={hold.hold_id}")
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


def _lost_page(
    request: Request,
    held: service.HeldTime,
    *,
    now: datetime,
    settings: Settings,
    reason: str = "expired",
) -> Refused:
    """The times still free around a held time that ran out (410) or was taken (409)."""
    return _taken_page(
        request,
        location_id=held.location_id,
        type_id=held.appointment_type_id,
        around=held.start_at,
        now=now,
        settings=settings,
        reason=reason,
        status_code=410 if reason == "expired" else 409,
    )


def _held(
    request: Request, db: Session, hold: int, *, now: datetime, settings: Settings
) -> tuple[service.HeldTime, PublicLocation, PublicAppointmentType]:
    held = service.held_time(db, hold, session_token=book_token(request), now=now)
    if held.booked:  # the booking form sent twice (a double tap without JavaScript)
        place = service.public_location(db, held.location_id)
        context = {"held": held, "tz": ZoneInfo(held.timezone), "zone": held.timezone}

        def build(_db: Session) -> Response:
            return page(request, "already_booked.html", context, location=place)

        raise Refused(build)
    if not held.live:
        raise _lost_page(request, held, now=now, settings=settings)
    place = service.public_location(db, held.location_id)
    kind = service.public_type(db, held.location_id, held.appointment_type_id)
    return held, place, kind


def _details_context(
    held: service.HeldTime,
    kind: PublicAppointmentType,
    form: DetailsForm,
    errors: FormErrors,
    now: datetime,
    me: Patient | None = None,
) -> dict[str, Any]:
    return {
        "me": me,
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
    me = signed_in(request, db, now)
    form = _as_me(me, DetailsForm(values={}, driver_confirmed=False, fasting_acknowledged=False))
    context = _details_context(held, kind, form, FormErrors(), now, me)
    return page(request, "details.html", context, location=place)


Text = Annotated[str, Form(max_length=320)]
Flag = Annotated[str, Form(max_length=10)]


def _details_form(
    first_name: Text = "",
    last_name: Text = "",
    date_of_birth: Text = "",
    email: Text = "",
    phone: Text = "",
    driver_confirmed: Flag = "",
    fasting_acknowledged: Flag = "",
) -> DetailsForm:
    """The details form's fields as sent (the details and the confirm steps)."""
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


SentDetails = Annotated[DetailsForm, Depends(_details_form)]


def _as_me(me: Patient | None, form: DetailsForm) -> DetailsForm:
    """A signed-in patient books as their record: its details, whatever the form says."""
    if me is None:
        return form
    values = {
        "first_name": me.first_name,
        "last_name": me.last_name,
        "date_of_birth": me.date_of_birth.isoformat(),
        "email": me.email,
        "phone": me.phone,
    }
    return DetailsForm(
        values=values,
        driver_confirmed=form.driver_confirmed,
        fasting_acknowledged=form.fasting_acknowledged,
    )


def _check(
    me: Patient | None, form: DetailsForm, kind: PublicAppointmentType, today: date
) -> tuple[PatientDetails | None, FormErrors]:
    """``check_details``; for a signed-in patient only the acknowledgements are asked (the
    record's details are the clinic's, shown but not checked again)."""
    details, errors = check_details(form, kind, today=today)
    if me is None:
        return details, errors
    acks = FormErrors()
    for name, message in errors:
        if name in ACKNOWLEDGEMENTS:
            acks.add(name, message)
    if acks:
        return None, acks
    return PatientDetails.model_construct(
        first_name=me.first_name,
        last_name=me.last_name,
        date_of_birth=me.date_of_birth,
        email=me.email,
        phone=me.phone,
    ), acks


def _filled(
    request: Request,
    db: Session,
    hold: int,
    sent: DetailsForm,
    *,
    now: datetime,
    settings: Settings,
) -> tuple[service.HeldTime, PublicLocation, PublicAppointmentType, Patient | None, DetailsForm]:
    """The held time of a details form sent, who is signed in, and the form as it counts
    (a signed-in patient's record in place of what was typed)."""
    held, place, kind = _held(request, db, hold, now=now, settings=settings)
    me = signed_in(request, db, now)
    return held, place, kind, me, _as_me(me, sent)


ACKNOWLEDGEMENTS = ("driver_confirmed", "fasting_acknowledged")


@router.post("/book/details")
def book_review(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    hold: Annotated[int, Form(ge=1, lt=2**63)],
    sent: SentDetails,
    edit: Flag = "",
) -> Response:
    """Check the details: errors next to their fields with the input kept, else the review
    step (``edit``: back from the review to the form, as it was filled in)."""
    now = clock.now()
    held, place, kind, me, form = _filled(request, db, hold, sent, now=now, settings=settings)
    if edit:
        context = _details_context(held, kind, form, FormErrors(), now, me)
        return page(request, "details.html", context, location=place)
    tz = ZoneInfo(held.timezone)
    details, errors = _check(me, form, kind, now.astimezone(tz).date())
    context = _details_context(held, kind, form, errors, now, me)
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
    sent: SentDetails,
) -> Response:
    now = clock.now()
    held, place, kind, me, form = _filled(request, db, hold, sent, now=now, settings=settings)
    details, errors = _check(me, form, kind, now.astimezone(ZoneInfo(place.timezone)).date())
    if details is None:
        context = _details_context(held, kind, form, errors, now, me)
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
            session_token=book_token(request),
            request_id=request_id,
            now=now,
            settings=settings,
            signed_in=me,
        )
    except Conflict as exc:
        reason = "expired" if exc.code == "hold_expired" else "taken"
        raise _lost_page(request, held, now=now, settings=settings, reason=reason) from exc
    # The booking session's cookie stays (for an hour): a form sent twice then finds its
    # hold booked and says so, instead of "not found".
    return redirect(f"/manage/{confirmation.manage_token}?booked=1")
