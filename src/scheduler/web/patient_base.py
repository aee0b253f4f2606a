"""What the patient pages (``/book``, ``/manage``, ``/me``) share: their layout, the
refused-step page mechanism, rate limits, the booking session's cookie and the time picker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from scheduler.auth.actors import Actor
from scheduler.availability.cache import OpenStartsCache
from scheduler.config import Settings
from scheduler.db.transaction import run_in_transaction
from scheduler.kit.ratelimit import rate_limit
from scheduler.kit.secrets import hash_token
from scheduler.kit.zones import everyday_zone_name
from scheduler.models import Patient
from scheduler.patient_access import service as patient_access
from scheduler.public import service
from scheduler.public.free_days import free_days
from scheduler.public.schemas import (
    PublicAppointmentType,
    PublicLocation,
    PublicSlot,
)
from scheduler.web.patient_view import (
    local_day_bounds,
    month_bounds,
    month_grid,
    parse_day,
    parse_month,
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


def is_patient_page(path: str) -> bool:
    return path in ("/book", "/manage", "/me") or path.startswith(
        ("/book/", "/manage/", "/me/", "/waitlist/")
    )


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
        "zone_name": everyday_zone_name,
        "location": location,
    }
    values.update(context or {})
    html = environment().get_template(f"patient/{template}").render(values)
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return page(
        request, "error.html", {"title": title, "message": message}, status_code=status_code
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


PATIENT_COOKIE = "patient_session"  # a signed-in returning patient (/me), on every path


def patient_cookie(request: Request) -> str | None:
    token = request.cookies.get(PATIENT_COOKIE)
    return token if token and len(token) <= 200 else None


def signed_in(request: Request, db: Session, now: datetime) -> Patient | None:
    """The returning patient signed in on this browser (``/me``), or None."""
    return patient_access.signed_in_patient(db, patient_cookie(request), now=now)


def book_token(request: Request) -> str | None:
    token = request.cookies.get(BOOK_COOKIE)
    return token if token and len(token) <= 200 else None


def actor(token: str, request_id: str) -> Actor:
    return Actor(kind="public", label=f"public:{hash_token(token)[:12]}", request_id=request_id)


# --- the time picker (booking and rescheduling) -----------------------------------------


def picker(
    db: Session,
    *,
    location: PublicLocation,
    kind: PublicAppointmentType,
    month_text: str | None,
    day_text: str | None,
    now: datetime,
    settings: Settings,
    provider_id: int | None = None,
    cache: OpenStartsCache | None = None,
) -> dict[str, Any]:
    """The month grid (days without free times disabled) and the chosen day's times (of
    ``provider_id`` only, when the patient chose a provider); ``cache``: the app's
    (``open_starts_cache``), for the grid."""
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
            provider_id=provider_id,
            cache=cache,
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
            provider_id=provider_id,
        ).items
    return {
        "grid": month_grid(month, free, selected=chosen_day, today=today, last_month=last_month),
        "day": chosen_day,
        "times": times,
        "tz": ZoneInfo(zone),
        "zone": zone,
        "kind": kind,
        "provider_id": provider_id,
    }


def open_starts_cache(request: Request) -> OpenStartsCache | None:
    """The app's cache of the month grid's open starts (``create_app``)."""
    cache: OpenStartsCache | None = getattr(request.app.state, "open_starts_cache", None)
    return cache


def alternatives(
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
