"""Sign-in, sign-out and the start page of the staff web app (``/admin``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from limits import parse

from scheduler.auth import service as auth_service
from scheduler.auth.actors import PROVIDER
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import NotAuthenticated
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.ratelimit import RateLimiter, TooManyRequests, client_address
from scheduler.web import my_schedule as my_schedule_service
from scheduler.web import sessions
from scheduler.web import today as today_service
from scheduler.web.board import LocationParam, parse_day, parse_location
from scheduler.web.deps import (
    SESSION_COOKIE,
    SESSION_COOKIE_PATH,
    DeskPage,
    PageForbidden,
    ProviderPage,
    safe_next,
    session_cookie_secure,
    signed_in,
)
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin", include_in_schema=False)

# One message for every failed sign-in: it must not tell whether the e-mail is on file.
SIGN_IN_FAILED = "That e-mail and password do not match an active account."
TOO_MANY_ATTEMPTS = "Too many sign-in attempts from this device. Wait a minute and try again."


@router.get("/login")
async def login_page(
    request: Request,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
    signed_out: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    current = await signed_in(request)
    if current is not None:
        target = safe_next(next_path)
        if current.user.role == PROVIDER and target == "/admin/":
            target = "/admin/my-schedule"
        return RedirectResponse(target, status_code=303)
    notice = {
        "1": "You are signed out.",
        "expired": "Your session ended. Sign in again to continue.",
    }.get(signed_out or "")
    return render(
        request,
        "login.html",
        {"next": safe_next(next_path), "email": "", "notice": notice},
    )


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=500)] = "/admin/",
) -> Response:
    errors = FormErrors()
    if not email.strip():
        errors.add("email", "Enter your e-mail address.")
    if not password:
        errors.add("password", "Enter your password.")
    context = {"next": safe_next(next_path), "email": email, "errors": errors}
    if errors:
        return render(request, "login.html", context, status_code=422)
    if settings.rate_limit_enabled:
        limiter: RateLimiter = request.app.state.rate_limiter
        try:
            limiter.hit(parse(settings.login_rate_limit), "web-login", client_address(request))
        except TooManyRequests as exc:
            errors.add("", TOO_MANY_ATTEMPTS)
            return render(request, "login.html", context, status_code=429, headers=exc.headers)
    try:
        user = auth_service.check_login(db, email=email, password=password)
    except NotAuthenticated:
        errors.add("", SIGN_IN_FAILED)
        return render(request, "login.html", context, status_code=401)
    now = clock.now()
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # a new sign-in replaces whatever session this browser had (no fixation)
        sessions.end_session(db, old, now=now)
    token = sessions.start_session(db, user, now=now)
    target = safe_next(next_path)
    if user.role == PROVIDER and target == "/admin/":
        target = "/admin/my-schedule"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.web_session_absolute_seconds,
        path=SESSION_COOKIE_PATH,
        httponly=True,
        secure=session_cookie_secure(settings),
        samesite="lax",
    )
    return response


@router.post("/logout")
def logout(request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sessions.end_session(db, token, now=clock.now())
    response = RedirectResponse("/admin/login?signed_out=1", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path=SESSION_COOKIE_PATH,
        httponly=True,
        secure=session_cookie_secure(settings),
        samesite="lax",
    )
    return response


@router.get("")
async def home_without_slash() -> Response:
    return RedirectResponse("/admin/", status_code=307)


@router.get("/my-schedule")
def my_schedule(
    request: Request,
    staff: ProviderPage,
    db: ReadSessionDep,
    clock: ClockDep,
    day: Annotated[str | None, Query(alias="date", max_length=20)] = None,
) -> Response:
    """A provider's own day and week, weekly hours and feed links (their own only)."""
    if staff.user.provider_id is None:
        raise PageForbidden("Your account is not linked to a provider record.")
    view = my_schedule_service.my_schedule(
        db, staff.user.provider_id, parse_day(day), now=clock.now()
    )
    return render(request, "my_schedule.html", {"view": view, "staff": staff})


@router.get("/today")
def today(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    location: LocationParam = None,
    location_id: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Today's arrivals at a location (``?location=``, as on the board), with one-click
    check-in. Links of old with ``?location_id=`` are sent to the same page."""
    if location is None and location_id is not None:
        return RedirectResponse(f"/admin/today?{urlencode({'location': location_id})}", 308)
    view = today_service.arrivals_today(db, parse_location(location), now=clock.now())
    return render(request, "today.html", {"view": view, "staff": staff})


@router.post("/bookings/{booking_id}/check-in")
def check_in(
    request: Request,
    booking_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    version: Annotated[int, Form(ge=1)],
    location_id: Annotated[int, Form(ge=1)],
) -> Response:
    """Check a patient in from the arrivals list. The form carries the version the page
    showed: when someone changed the booking meanwhile nothing is done and the list, shown
    again, says so and shows the booking's current state."""
    message = today_service.check_in(
        db, booking_id, version=version, actor=staff.actor, now=clock.now()
    )
    flash(request, db, message)
    return RedirectResponse(f"/admin/today?location={location_id}", status_code=303)
