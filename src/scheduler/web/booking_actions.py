"""A booking's own page (``/admin/bookings/{id}``) and what the front desk does from it:
confirm, check in, complete, mark a no-show, cancel, move, resend a message, download the .ics.

Thin: parse the form (``web/booking_forms.py``), call one service (the same ones as the API),
render. Each action carries the version the page showed: when someone else changed the booking
meanwhile nothing is done, and the page says who changed it and when.

The desk's side panel asks for the same page with ``X-Panel: 1`` and gets its main content
alone (``templates/panel.html``); its forms post to the same endpoints, whose redirect lands
back in the panel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from scheduler.bookings import service as bookings_service
from scheduler.bookings.schemas import CancelRequest, RescheduleRequest
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import Conflict, InvalidInput, PreconditionFailed
from scheduler.feeds import service as feeds_service
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.models import Booking
from scheduler.notifications import service as notifications_service
from scheduler.web import booking_page_view, booking_view
from scheduler.web.booking_forms import (
    SLOT_TAKEN,
    FromQuery,
    OptionalQuery,
    Text,
    ToQuery,
    if_match,
    search_of,
    slot_picker_or_reset,
    stale_notice,
)
from scheduler.web.deps import DeskPage
from scheduler.web.templating import FormErrors, flash, render
from scheduler.web.today import STATUS_LABELS

router = APIRouter(prefix="/admin", include_in_schema=False)

# Sent by the desk's side panel (static/panel.js) when it fetches a booking's page or posts
# one of its forms: the answer is then the page's main content alone (templates/panel.html),
# with the same headers. Redirects keep the header, so an action's result lands in the panel.
PANEL_HEADER = "X-Panel"


def _booking_page(
    request: Request,
    db: Any,
    booking_id: int,
    *,
    staff: Any,
    now: datetime,
    status_code: int = 200,
    errors: FormErrors | None = None,
    stale: bool = False,
    cancel_form: dict[str, str] | None = None,
) -> Response:
    page = booking_page_view.booking_page(db, booking_id, viewer=staff.actor, now=now)
    notice = stale_notice(page.last_change) if stale else None
    panel = request.headers.get(PANEL_HEADER) == "1"
    context = {
        "panel": panel,
        "page": page,
        "b": page.booking,
        "staff": staff,
        "errors": errors or FormErrors(),
        "stale": notice,
        "cancel_form": cancel_form or {},
    }
    # The same URL answers a page or the desk's side panel fragment: caches keep them apart.
    return render(
        request, "booking.html", context, status_code=status_code, headers={"Vary": PANEL_HEADER}
    )


def _refused(
    request: Request,
    db: Any,
    booking_id: int,
    exc: Conflict | PreconditionFailed,
    *,
    staff: Any,
    now: datetime,
) -> Response:
    """The booking's page again after an action was refused (409): who changed the booking
    meanwhile (the version the page showed is stale), or why the action is not possible."""
    if isinstance(exc, PreconditionFailed):
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, stale=True
        )
    errors = FormErrors()
    errors.add("", exc.detail)
    return _booking_page(
        request, db, booking_id, staff=staff, now=now, status_code=409, errors=errors
    )


@router.get("/bookings/{booking_id}")
def booking_detail(
    request: Request, booking_id: int, staff: DeskPage, db: ReadSessionDep, clock: ClockDep
) -> Response:
    """A booking: who, what, when and where, its history, its messages and its actions."""
    return _booking_page(request, db, booking_id, staff=staff, now=clock.now())


@router.post("/bookings/{booking_id}/status")
def change_status(
    request: Request,
    booking_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    version: Annotated[int, Form(ge=1)],
    action: Annotated[str, Form(max_length=20)],
) -> Response:
    """Confirm, check in, complete or mark a no-show, from the version the page showed."""
    now = clock.now()
    if action not in dict(booking_page_view.STATUS_ACTIONS):
        raise InvalidInput("Choose an action on the page.", field="action")
    try:
        booking = bookings_service.transition(
            db,
            booking_id,
            action,
            actor=staff.actor,
            now=now,
            if_match=if_match(booking_id, version),
        )
    except (PreconditionFailed, Conflict) as exc:
        return _refused(request, db, booking_id, exc, staff=staff, now=now)
    label = STATUS_LABELS.get(booking.status, booking.status)
    flash(request, db, f"Done: the booking is {label.lower()} now.")
    return RedirectResponse(f"/admin/bookings/{booking_id}", status_code=303)


@router.post("/bookings/{booking_id}/cancel")
def cancel(
    request: Request,
    booking_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    version: Annotated[int, Form(ge=1)],
    reason: Text = "",
    cancelled_by: Annotated[str, Form(max_length=20)] = "clinic",
) -> Response:
    """Cancel with a reason (required); inside the type's cut-off it counts as late."""
    now = clock.now()
    form = {"reason": reason, "cancelled_by": cancelled_by}
    errors = FormErrors()
    if not reason.strip():
        errors.add("reason", "Give the reason for cancelling.")
    if cancelled_by not in ("clinic", "patient"):
        errors.add("cancelled_by", "Choose who asked to cancel.")
    if errors:
        return _booking_page(
            request,
            db,
            booking_id,
            staff=staff,
            now=now,
            status_code=422,
            errors=errors,
            cancel_form=form,
        )
    try:
        booking = bookings_service.cancel_booking(
            db,
            booking_id,
            CancelRequest(reason=reason.strip(), cancelled_by=cancelled_by),
            actor=staff.actor,
            now=now,
            if_match=if_match(booking_id, version),
        )
    except (PreconditionFailed, Conflict) as exc:
        return _refused(request, db, booking_id, exc, staff=staff, now=now)
    late = " It counts as a late cancellation." if booking.late_cancel else ""
    flash(request, db, f"The booking is cancelled.{late}")
    return RedirectResponse(f"/admin/bookings/{booking_id}", status_code=303)


@router.get("/bookings/{booking_id}/reschedule")
def reschedule_picker(
    request: Request,
    booking_id: int,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    provider_id: OptionalQuery = None,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> Response:
    """The same slot picker, for the booking's type and location, to move it."""
    return _reschedule_page(
        request,
        db,
        booking_id,
        staff=staff,
        now=clock.now(),
        provider_id=provider_id,
        from_day=from_day,
        to_day=to_day,
    )


def _reschedule_page(
    request: Request,
    db: Any,
    booking_id: int,
    *,
    staff: Any,
    now: datetime,
    provider_id: str | None,
    from_day: str | None,
    to_day: str | None,
    status_code: int = 200,
    errors: FormErrors | None = None,
    reason: str = "",
) -> Response:
    booking = bookings_service.get_booking_for(db, booking_id, viewer=staff.actor)
    search = search_of(
        str(booking.patient_id),
        str(booking.appointment_type_id),
        str(booking.location_id),
        provider_id,
        from_day,
        to_day,
    )
    errors = errors or FormErrors()
    picker, refused = slot_picker_or_reset(db, search, errors, now=now, ignore_booking=booking)
    if refused:
        status_code = 422
    page = booking_page_view.booking_page(db, booking_id, viewer=staff.actor, now=now)
    context = {
        "page": page,
        "b": booking,
        "picker": picker,
        "errors": errors,
        "reason": reason,
        "query": picker.search.query(),
    }
    return render(request, "booking_reschedule.html", context, status_code=status_code)


@router.post("/bookings/{booking_id}/reschedule")
def reschedule(
    request: Request,
    booking_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    version: Annotated[int, Form(ge=1)],
    slot: Annotated[str, Form(max_length=120)] = "",
    reason: Text = "",
    provider_id: Annotated[str, Form(max_length=40)] = "",
    from_day: Annotated[str, Form(alias="from", max_length=20)] = "",
    to_day: Annotated[str, Form(alias="to", max_length=20)] = "",
) -> Response:
    """Move the booking to the picked slot: a new booking, the old one cancelled and linked."""
    now = clock.now()
    start_at, chair_id, slot_provider = booking_view.parse_slot(slot)
    data = RescheduleRequest(
        start_at=start_at, chair_id=chair_id, provider_id=slot_provider, reason=reason.strip()
    )
    try:
        moved = bookings_service.reschedule_booking(
            db,
            booking_id,
            data,
            actor=staff.actor,
            now=now,
            if_match=if_match(booking_id, version),
        )
    except PreconditionFailed as exc:
        return _refused(request, db, booking_id, exc, staff=staff, now=now)
    except Conflict as exc:
        errors = FormErrors()
        errors.add("", SLOT_TAKEN if exc.code == "slot_unavailable" else exc.detail)
        return _reschedule_page(
            request,
            db,
            booking_id,
            staff=staff,
            now=now,
            provider_id=provider_id,
            from_day=from_day,
            to_day=to_day,
            status_code=409,
            errors=errors,
            reason=reason,
        )
    flash(request, db, f"Moved. This is the new booking; the old one (#{booking_id}) is kept.")
    return RedirectResponse(f"/admin/bookings/{moved.id}", status_code=303)


@router.post("/bookings/{booking_id}/messages/{notification_id}/resend")
def resend_message(
    request: Request,
    booking_id: int,
    notification_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
) -> Response:
    """Queue a failed message again, due now."""
    now = clock.now()
    try:
        notifications_service.resend(db, notification_id, actor=staff.actor, now=now)
    except Conflict as exc:
        return _refused(request, db, booking_id, exc, staff=staff, now=now)
    flash(request, db, "The message is queued to be sent again.")
    return RedirectResponse(f"/admin/bookings/{booking_id}", status_code=303)


@router.get("/bookings/{booking_id}/calendar.ics")
def booking_ics(
    booking_id: int, staff: DeskPage, db: ReadSessionDep, settings: SettingsDep
) -> Response:
    """The booking as an .ics file (what the patient's confirmation carries)."""
    booking: Booking = bookings_service.get_booking_for(db, booking_id, viewer=staff.actor)
    body = feeds_service.render_booking_ics(db, booking, settings=settings)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="appointment-{booking_id}.ics"'},
    )
