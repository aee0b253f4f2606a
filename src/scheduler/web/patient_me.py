"""Returning patients (``/me``): "enter your e-mail and date of birth", a link by e-mail,
then "my visits" and booking as themself (the ``/book`` pages, with the patient known).

    GET /me -> POST /me (the same answer for everyone) ... e-mail ...
    GET /me/link/{token} (a button: mail scanners that fetch links do not use it up)
    -> POST /me/link/{token} (session cookie) -> /me/visits -> /book, or a visit's manage page

The request form answers no sooner than ``sign_in_answer_seconds`` whether or not the person
is on file, and never says which (``patient_access.service``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from scheduler.config import Settings
from scheduler.db.transaction import run_in_transaction
from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.ratelimit import rate_limit
from scheduler.kit.zones import everyday_zone_name
from scheduler.patient_access import service
from scheduler.waitlist import patient_service
from scheduler.web.patient_base import (
    PATIENT_COOKIE,
    page,
    patient_cookie,
    read_limit,
    redirect,
    signed_in,
    write_limit,
)
from scheduler.web.patient_view import parse_day
from scheduler.web.templating import FormErrors

sign_in_limit = Depends(rate_limit("sign-in", lambda r: r.app.state.settings.sign_in_rate_limit))
router = APIRouter(include_in_schema=False, route_class=CommitRoute, dependencies=[read_limit])

Token = Annotated[str, Depends(lambda token: token if len(token) <= 200 else "")]
REFUSED_TITLE = "This link cannot be used"


def _refused(request: Request) -> Response:
    return page(
        request,
        "me_refused.html",
        {"title": REFUSED_TITLE, "noindex": True},
        status_code=410,
    )


@router.get("/me")
def me_start(request: Request, db: ReadSessionDep, clock: ClockDep) -> Response:
    if signed_in(request, db, clock.now()) is not None:
        return redirect("/me/visits")
    return page(request, "me.html", {"values": {}, "errors": FormErrors()})


def _check(email: str, date_of_birth: str, today: date) -> tuple[date | None, FormErrors]:
    errors = FormErrors()
    if "@" not in email.strip() or len(email.strip()) < 3:
        errors.add("email", "Enter the e-mail address you gave the clinic, like name@example.com.")
    born = parse_day(date_of_birth.strip())
    if not date_of_birth.strip():
        errors.add("date_of_birth", "Enter your date of birth.")
    elif born is None:
        errors.add("date_of_birth", "Enter your date of birth as year-month-day, like 1985-04-23.")
    elif born >= today or born.year < 1900:
        errors.add("date_of_birth", "Enter your real date of birth; it must be in the past.")
    return (None if errors else born), errors


@router.post("/me", dependencies=[write_limit, sign_in_limit])
async def me_request(
    request: Request,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    email: Annotated[str, Form(max_length=320)] = "",
    date_of_birth: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Queue a link if the person is on file; answer the same, as late, either way."""
    started = time.monotonic()
    now = clock.now()
    born, errors = _check(email, date_of_birth, now.date())
    if born is None:
        values = {"email": email, "date_of_birth": date_of_birth}
        return page(request, "me.html", {"values": values, "errors": errors}, status_code=422)
    factory = request.app.state.sessionmaker
    await run_in_threadpool(
        run_in_transaction,
        factory,
        lambda db: service.request_link(
            db,
            email=email,
            date_of_birth=born,
            request_id=request_id,
            now=now,
            settings=settings,
        ),
    )
    await asyncio.sleep(max(0.0, settings.sign_in_answer_seconds - (time.monotonic() - started)))
    return page(request, "me_sent.html", {"minutes": settings.sign_in_link_minutes})


@router.get("/me/link/{token}")
def me_link(request: Request, db: ReadSessionDep, clock: ClockDep, token: Token) -> Response:
    try:
        service.link_is_live(db, token, now=clock.now())
    except service.LinkRefused:
        return _refused(request)
    return page(request, "me_link.html", {"token": token, "noindex": True})


@router.post("/me/link/{token}", dependencies=[write_limit])
def me_link_use(
    request: Request, db: SessionDep, clock: ClockDep, settings: SettingsDep, token: Token
) -> Response:
    try:
        cookie = service.use_link(db, token, now=clock.now(), settings=settings)
    except service.LinkRefused:
        return _refused(request)
    response = redirect("/me/visits")
    _set_cookie(response, cookie, settings)
    return response


def _set_cookie(response: Response, cookie: str, settings: Settings) -> None:
    response.set_cookie(
        PATIENT_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        path="/",
        max_age=settings.patient_session_minutes * 60,
    )


@router.get("/me/visits")
def me_visits(
    request: Request, db: ReadSessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    now = clock.now()
    patient = signed_in(request, db, now)
    if patient is None:
        return redirect("/me")
    mine = patient_service.my_page(db, patient, now=now, settings=settings)
    context = {
        "visits": mine.visits,
        "waiting": mine.waiting,
        "zone_name": everyday_zone_name,
        "noindex": True,
    }
    return page(request, "me_visits.html", context)


@router.post("/me/visits/{booking_id}/manage", dependencies=[write_limit])
def me_manage(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    booking_id: Annotated[int, Path(ge=1, lt=2**31)],
) -> Response:
    now = clock.now()
    patient = signed_in(request, db, now)
    if patient is None:
        return redirect("/me")
    token = service.manage_link_for(db, patient, booking_id, now=now)
    return redirect(f"/manage/{token}")


@router.post("/me/sign-out", dependencies=[write_limit])
def me_sign_out(request: Request, db: SessionDep, clock: ClockDep) -> Response:
    service.sign_out(db, patient_cookie(request), now=clock.now())
    response = redirect("/me")
    response.delete_cookie(PATIENT_COOKIE, path="/")
    return response
