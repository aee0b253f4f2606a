"""The page behind a waitlist offer's link: ``/waitlist/offer/{token}``.

GET shows the offered time, how long it is held, and two buttons: take it (POST books it
from the hold) or let it go (POST passes it to the next person at once). An offer that ended
(expired, passed on, withdrawn) or was already taken says so plainly. Like the manage pages:
no account, ``Referrer-Policy: no-referrer`` (the URL holds the token), ``noindex``,
``no-store`` and CSRF on both forms (``web/security.py``). Parse, call one service, render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from scheduler.deps import ClockDep, RequestIdDep
from scheduler.errors import Conflict
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.waitlist import accept_service
from scheduler.waitlist.accept_service import OfferView
from scheduler.web.patient_base import Refused, page, read_limit, write_limit
from scheduler.web.templating import FormErrors

router = APIRouter(include_in_schema=False, route_class=CommitRoute, dependencies=[read_limit])
Token = Annotated[str, Depends(lambda token: token if len(token) <= 200 else "")]


def _show(
    request: Request, view: OfferView, token: str, *, status_code: int = 200, **extra: Any
) -> Response:
    context = {
        "view": view,
        "token": token,
        "tz": ZoneInfo(view.location.timezone),
        "zone": view.location.timezone,
        "noindex": True,
        **extra,
    }
    return page(
        request, "waitlist_offer.html", context, location=view.location, status_code=status_code
    )


@router.get("/waitlist/offer/{token}")
def offer_page(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    token: Token,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    view = accept_service.view_offer(db, token, now=clock.now())
    return _show(request, view, token, done=done)


def _refused(request: Request, token: str, now: datetime, exc: Conflict) -> Refused:
    """The offer as it is now (read afresh, the refused write rolled back), with why."""

    def build(db: Session) -> Response:
        view = accept_service.view_offer(db, token, now=now)
        errors = FormErrors()
        errors.add("", exc.detail)
        return _show(request, view, token, errors=errors, status_code=409)

    return Refused(build)


@router.post("/waitlist/offer/{token}", dependencies=[write_limit])
def accept(
    request: Request, db: SessionDep, clock: ClockDep, request_id: RequestIdDep, token: Token
) -> Response:
    now = clock.now()
    try:
        accept_service.accept_offer(db, token, now=now, request_id=request_id)
    except Conflict as exc:
        raise _refused(request, token, now, exc) from exc
    return RedirectResponse(f"/waitlist/offer/{token}?done=booked", status_code=303)


@router.post("/waitlist/offer/{token}/decline", dependencies=[write_limit])
def decline(
    request: Request, db: SessionDep, clock: ClockDep, request_id: RequestIdDep, token: Token
) -> Response:
    now = clock.now()
    try:
        accept_service.decline_offer(db, token, now=now, request_id=request_id)
    except Conflict as exc:
        raise _refused(request, token, now, exc) from exc
    return RedirectResponse(f"/waitlist/offer/{token}?done=declined", status_code=303)
