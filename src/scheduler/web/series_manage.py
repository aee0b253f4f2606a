"""A treatment series' own page (``/admin/series/{id}``): its visits and progress, cancel the
rest with a reason, move one visit within the series' rules, and once the course is done the
proposed boosters with a button that books each in the series (``series.book_booster``;
a missed eligibility gate asks for the staff override's reason, as the booking confirm step).

Thin over ``series.service``: parse the form, call the service, render. A refusal (a move
that breaks the spacing, a time taken, a visit changed meanwhile) is shown next to the field
with the input kept, and nothing is changed.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from scheduler.availability.engine import local_instant
from scheduler.deps import ClockDep
from scheduler.errors import SchedulerError
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.series import service as series_service
from scheduler.series.schemas import BoosterBooking, SeriesCancel, SeriesVisitReschedule
from scheduler.web import series_view
from scheduler.web.booking_forms import override_of
from scheduler.web.deps import DeskPage
from scheduler.web.settings import IdPath, attempt
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/series", include_in_schema=False, route_class=CommitRoute)

TAKEN = "That time was taken meanwhile, so nothing was booked: the times below are free now."
STALE = "This visit was changed by someone else while you were looking, so it was not moved."


def _page(
    request: Request,
    db: Session,
    series_id: int,
    *,
    now: datetime,
    errors: FormErrors | None = None,
    moving: dict[str, Any] | None = None,
    cancel_reason: str = "",
    override_reason: str = "",
    status_code: int = 200,
) -> Response:
    page = series_view.series_page(db, series_id, now=now)
    context = {
        "page": page,
        "s": page.series,
        "errors": errors or FormErrors(),
        "moving": moving or {},
        "cancel_reason": cancel_reason,
        "override_reason": override_reason,
        "now": now,
    }
    return render(request, "series.html", context, status_code=status_code)


@router.get("/{series_id}")
def show_series(
    request: Request, series_id: IdPath, staff: DeskPage, db: ReadSessionDep, clock: ClockDep
) -> Response:
    return _page(request, db, series_id, now=clock.now())


@router.post("/{series_id}/cancel")
def cancel_rest(
    request: Request,
    series_id: IdPath,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    reason: Annotated[str, Form(max_length=1000)] = "",
    cancelled_by: Annotated[str, Form(max_length=20)] = "clinic",
) -> Response:
    """Cancel every visit still to come (one transaction); past visits stay as they are."""
    now = clock.now()
    errors = FormErrors()
    if not reason.strip():
        errors.add("cancel_reason", "Give the reason for cancelling the rest of the series.")
        return _page(request, db, series_id, now=now, errors=errors, status_code=422)
    who = "patient" if cancelled_by == "patient" else "clinic"
    try:
        done = attempt(
            db,
            lambda: series_service.cancel_series(
                db,
                series_id,
                SeriesCancel(reason=reason.strip(), cancelled_by=who),
                actor=staff.actor,
                now=now,
            ),
        )
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors.add("cancel_reason", exc.detail)
        return _page(
            request,
            db,
            series_id,
            now=now,
            errors=errors,
            cancel_reason=reason,
            status_code=409 if exc.status == 409 else 422,
        )
    cancelled = done.progress.cancelled
    flash(request, db, f"Cancelled the rest of {done.label} ({cancelled} visits cancelled).")
    return RedirectResponse(f"/admin/series/{series_id}", status_code=303)


def _local_start(day: str, at: str, tz: Any) -> datetime | None:
    try:
        return local_instant(date.fromisoformat(day.strip()), time.fromisoformat(at.strip()), tz)
    except ValueError:
        return None


@router.post("/{series_id}/visits/{booking_id}/reschedule")
def move_visit(
    request: Request,
    series_id: IdPath,
    booking_id: IdPath,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    version: Annotated[int, Form(ge=0)],
    day: Annotated[str, Form(max_length=20)] = "",
    at: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Move one visit to a new local date and time, if the series' rules allow it."""
    now = clock.now()
    page = series_view.series_page(db, series_id, now=now)
    field = f"move-{booking_id}"
    moving = {"booking_id": booking_id, "day": day, "at": at, "reason": reason}
    errors = FormErrors()
    start_at = _local_start(day, at, page.tz)
    if start_at is None:
        errors.add(field, "Enter the new date and time, like 2026-03-10 and 09:30.")
        return _page(request, db, series_id, now=now, errors=errors, moving=moving, status_code=422)
    try:
        data = SeriesVisitReschedule(start_at=start_at, reason=reason.strip())
        attempt(
            db,
            lambda: series_service.reschedule_visit(
                db,
                series_id,
                booking_id,
                data,
                actor=staff.actor,
                now=now,
                if_match=f'"{booking_id}.{version}"',
            ),
        )
    except ValidationError:
        errors.add(field, "Enter the new date and time, like 2026-03-10 and 09:30.")
        status = 422
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors.add(field, STALE if exc.status == 412 else exc.detail)
        status = exc.status if exc.status in (409, 412) else 422
    else:
        local = start_at.astimezone(page.tz)
        flash(request, db, f"Moved the visit to {local:%a %-d %b at %H:%M}.")
        return RedirectResponse(f"/admin/series/{series_id}", status_code=303)
    return _page(request, db, series_id, now=now, errors=errors, moving=moving, status_code=status)


@router.post("/{series_id}/boosters")
def book_booster(
    request: Request,
    series_id: IdPath,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    slot: Annotated[str, Form(max_length=200)] = "",
    override_reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Book a proposed booster in the series; a refusal (the time taken meanwhile, a visit
    still to come) is shown next to the boosters with the times free now. When the patient
    misses a required gate, staff book it anyway with a reason, as on the booking confirm
    step (the reason kept in the booking's history)."""
    now = clock.now()
    errors = FormErrors()
    try:
        chosen = series_view.parse_plan([slot])[0]
    except SchedulerError:
        chosen = None
        errors.add("booster", "Choose one of the proposed times.")
    gate_fails = series_view.booster_gate_fails(db, series_id, now=now)
    override = override_of(gate_fails, override_reason, errors)
    if errors or chosen is None:
        return _page(
            request,
            db,
            series_id,
            now=now,
            errors=errors,
            override_reason=override_reason,
            status_code=422,
        )
    data = BoosterBooking(
        start_at=chosen.start_at,
        chair_id=chosen.chair_id,
        provider_id=chosen.provider_id,
        override=override,
    )
    try:
        booked = attempt(
            db,
            lambda: series_service.book_booster(db, series_id, data, actor=staff.actor, now=now),
        )
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors.add("booster", TAKEN if exc.code == "slot_unavailable" else exc.detail)
        status = 409 if exc.status == 409 else 422
    else:
        page = series_view.series_page(db, series_id, now=now)
        local = booked.booking.start_at.astimezone(page.tz)
        verb = "Booked" if booked.created else "Already booked:"
        flash(request, db, f"{verb} the booster on {local:%a %-d %b at %H:%M}.")
        return RedirectResponse(f"/admin/series/{series_id}", status_code=303)
    return _page(
        request,
        db,
        series_id,
        now=now,
        errors=errors,
        override_reason=override_reason,
        status_code=status,
    )
