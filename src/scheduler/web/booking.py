"""The front desk books (``/admin/book``) and a booking's own page (``/admin/bookings/{id}``).

Thin: parse the query or the form, call the services (the same ones as the API), render.
Only ids, dates and slot instants go in URLs; a patient search goes in a POST body.

- A booking is created under an idempotency key carried in a hidden field of the confirm
  form: a resubmitted form or a second press replays the first booking, never makes another.
- A slot taken meanwhile is said plainly, with the refreshed slot list and the choices kept.
- Each action on a booking carries the version the page showed: when someone else changed
  the booking meanwhile nothing is done, and the page says who changed it and when.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from scheduler.bookings import service as bookings_service
from scheduler.bookings.schemas import (
    BookingCreate,
    BookingRead,
    CancelRequest,
    Override,
    RescheduleRequest,
)
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import Conflict, InvalidInput, PreconditionFailed, SchedulerError
from scheduler.feeds import service as feeds_service
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.idempotency.service import create_once
from scheduler.kit.written_dates import parse_written_date
from scheduler.models import Booking, Patient
from scheduler.notifications import service as notifications_service
from scheduler.patients import service as patients_service
from scheduler.patients.schemas import PatientCreate
from scheduler.web import booking_view
from scheduler.web.booking_view import Search
from scheduler.web.deps import DeskPage
from scheduler.web.templating import FormErrors, flash, render
from scheduler.web.today import STATUS_LABELS

router = APIRouter(prefix="/admin", include_in_schema=False)

Text = Annotated[str, Form(max_length=1000)]
OptionalQuery = Annotated[str | None, Query(max_length=40)]
SLOT_TAKEN = (
    "Sorry, that time was taken by another booking a moment ago, so nothing was booked. "
    "Here are the times still free; your choices are kept."
)
IN_FLIGHT = (
    "This booking is already being saved from your first press. Look for it on the day board "
    "before trying again."
)
STALE = "This booking was changed by {who} at {at} while you were looking, so nothing was done."
PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone")


def _int(value: str | None, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit():
        raise InvalidInput("Choose from the list.", field=name)
    return int(value)


def _day(value: str | None, name: str) -> date | None:
    if value is None or value.strip() == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("Write the date like 2026-12-08.", field=name) from None


def _search(
    patient_id: str | None,
    type_id: str | None,
    location_id: str | None,
    provider_id: str | None,
    from_day: str | None,
    to_day: str | None,
) -> Search:
    return Search(
        patient_id=_int(patient_id, "patient_id"),
        type_id=_int(type_id, "type_id"),
        location_id=_int(location_id, "location_id"),
        provider_id=_int(provider_id, "provider_id"),
        from_date=_day(from_day, "from"),
        to_date=_day(to_day, "to"),
    )


def _book_page(
    request: Request,
    db: Any,
    search: Search,
    *,
    now: datetime,
    staff: Any,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    errors = extra.pop("errors", None) or FormErrors()
    try:
        picker = booking_view.slot_picker(db, search, now=now)
    except InvalidInput as exc:
        errors.add(_field_of(exc), exc.detail)
        search.from_date = search.to_date = None
        picker = booking_view.slot_picker(db, search, now=now)
        status_code = 422
    patient = db.get(Patient, search.patient_id) if search.patient_id else None
    gates = (
        booking_view.gates_of(db, search.patient_id, picker.appointment_type)
        if patient is not None
        and search.patient_id is not None
        and picker.appointment_type is not None
        else []
    )
    context = {
        "picker": picker,
        "patient": patient,
        "gates": gates,
        "staff": staff,
        "errors": errors,
        "query": picker.search.query(),
        "patient_form": {},
        **extra,
    }
    return render(request, "book.html", context, status_code=status_code)


def _field_of(exc: SchedulerError) -> str:
    errors = exc.extra.get("errors") or [{}]
    return str(errors[0].get("field") or "")


@router.get("/book")
def book(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    patient_id: OptionalQuery = None,
    type_id: OptionalQuery = None,
    location_id: OptionalQuery = None,
    provider_id: OptionalQuery = None,
    from_day: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to_day: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Response:
    """The slot picker: the patient, the visit type, any provider or one, a date range."""
    search = _search(patient_id, type_id, location_id, provider_id, from_day, to_day)
    return _book_page(request, db, search, now=clock.now(), staff=staff)


@router.post("/book/find")
def find_patient(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    q: Annotated[str, Form(max_length=200)] = "",
    type_id: Annotated[str, Form(max_length=40)] = "",
    location_id: Annotated[str, Form(max_length=40)] = "",
    provider_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Find a patient by name, date of birth, phone or e-mail (in the body: no PHI in URLs)."""
    search = _search(None, type_id, location_id, provider_id, None, None)
    errors = FormErrors()
    found: list[Patient] = []
    if not q.strip():
        errors.add("q", "Type a name, date of birth, phone number or e-mail address.")
    else:
        _, found, _ = patients_service.find_patients(
            db, q, viewer=staff.actor, now=clock.now(), limit=20
        )
    return _book_page(
        request,
        db,
        search,
        now=clock.now(),
        staff=staff,
        errors=errors,
        status_code=422 if errors else 200,
        found=found,
        q=q,
        searched=not errors,
    )


@router.post("/book/patient")
def new_patient(
    request: Request,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    first_name: Annotated[str, Form(max_length=200)] = "",
    last_name: Annotated[str, Form(max_length=200)] = "",
    date_of_birth: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=60)] = "",
    type_id: Annotated[str, Form(max_length=40)] = "",
    location_id: Annotated[str, Form(max_length=40)] = "",
    provider_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Create a patient inline, then come back to the picker with them chosen."""
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "date_of_birth": date_of_birth,
        "email": email,
        "phone": phone,
    }
    search = _search(None, type_id, location_id, provider_id, None, None)
    errors = FormErrors()
    now = clock.now()
    birth = parse_written_date(date_of_birth.strip(), now.date())
    if not date_of_birth.strip():
        errors.add("date_of_birth", "Enter the date of birth.")
    elif birth is None:
        errors.add(
            "date_of_birth", "Write the date of birth like 1980-03-14, 03/14/1980 or March 14 1980."
        )
    data = None
    try:
        data = PatientCreate.model_validate(
            {
                "first_name": first_name,
                "last_name": last_name,
                "date_of_birth": birth or date(2000, 1, 1),
                "email": email.strip() or None,
                "phone": phone,
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            errors.add(name, _patient_message(name))
    if data is not None and not errors:
        try:
            patient = patients_service.create_patient(db, data, actor=staff.actor, now=now)
        except InvalidInput as exc:
            errors.add(_field_of(exc), exc.detail)
        else:
            search.patient_id = patient.id
            flash(request, db, f"{patient.first_name} {patient.last_name} is on file now.")
            return RedirectResponse(_book_url(search), status_code=303)
    return _book_page(
        request,
        db,
        search,
        now=now,
        staff=staff,
        errors=errors,
        status_code=422,
        patient_form=values,
    )


def _patient_message(name: str) -> str:
    return {
        "first_name": "Enter the first name.",
        "last_name": "Enter the last name.",
        "date_of_birth": "The date of birth must be after 1900 and not in the future.",
        "email": "Enter an e-mail address like name@example.com, or leave it empty.",
        "phone": "Enter a phone number with digits (spaces, dashes, brackets are fine).",
    }.get(name, "Check this value.")


def _book_url(search: Search) -> str:
    return f"/admin/book?{urlencode(search.query())}"


@router.get("/book/confirm")
def confirm(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    slot: Annotated[str, Query(max_length=120)] = "",
    patient_id: OptionalQuery = None,
    type_id: OptionalQuery = None,
    location_id: OptionalQuery = None,
    provider_id: OptionalQuery = None,
    from_day: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to_day: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Response:
    """The confirm step: what is booked, the patient's eligibility, the acknowledgements."""
    search = _search(patient_id, type_id, location_id, provider_id, from_day, to_day)
    if search.patient_id is None or search.type_id is None or search.location_id is None:
        errors = FormErrors()
        errors.add("", "Choose the patient, the visit type and a time first.")
        return _book_page(
            request, db, search, now=clock.now(), staff=staff, errors=errors, status_code=422
        )
    start_at, chair_id, slot_provider = booking_view.parse_slot(slot)
    return _confirm_page(
        request,
        db,
        search,
        slot=slot,
        start_at=start_at,
        chair_id=chair_id,
        provider_id=slot_provider,
        key=secrets.token_urlsafe(18),
        form={},
        errors=FormErrors(),
    )


def _confirm_page(
    request: Request,
    db: Any,
    search: Search,
    *,
    slot: str,
    start_at: datetime,
    chair_id: int | None,
    provider_id: int,
    key: str,
    form: dict[str, Any],
    errors: FormErrors,
    status_code: int = 200,
) -> Response:
    assert search.patient_id is not None
    assert search.type_id is not None
    assert search.location_id is not None
    view = booking_view.confirmation(
        db,
        patient_id=search.patient_id,
        type_id=search.type_id,
        location_id=search.location_id,
        start_at=start_at,
        chair_id=chair_id,
        provider_id=provider_id,
    )
    context = {
        "view": view,
        "search": search,
        "query": search.query(),
        "slot": slot,
        "key": key,
        "form": form,
        "errors": errors,
        "back_url": _book_url(search),
    }
    return render(request, "book_confirm.html", context, status_code=status_code)


@router.post("/book")
def create(
    request: Request,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    key: Annotated[str, Form(min_length=8, max_length=100)],
    slot: Annotated[str, Form(max_length=120)],
    patient_id: Annotated[int, Form(ge=1)],
    type_id: Annotated[int, Form(ge=1)],
    location_id: Annotated[int, Form(ge=1)],
    provider_id: Annotated[str, Form(max_length=40)] = "",
    from_day: Annotated[str, Form(alias="from", max_length=20)] = "",
    to_day: Annotated[str, Form(alias="to", max_length=20)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
    driver_confirmed: Annotated[str, Form(max_length=10)] = "",
    fasting_acknowledged: Annotated[str, Form(max_length=10)] = "",
    override_reason: Text = "",
) -> Response:
    """Book the confirmed slot once, whatever the number of presses; then the day board on
    that date with the new booking highlighted."""
    now = clock.now()
    search = _search(str(patient_id), str(type_id), str(location_id), provider_id, from_day, to_day)
    start_at, chair_id, slot_provider = booking_view.parse_slot(slot)
    form = {
        "notes": notes,
        "driver_confirmed": bool(driver_confirmed),
        "fasting_acknowledged": bool(fasting_acknowledged),
        "override_reason": override_reason,
    }
    view = booking_view.confirmation(
        db,
        patient_id=patient_id,
        type_id=type_id,
        location_id=location_id,
        start_at=start_at,
        chair_id=chair_id,
        provider_id=slot_provider,
    )
    errors = FormErrors()
    reason = override_reason.strip()
    if view.gate_fails and len(reason) < 3:
        errors.add(
            "override_reason",
            "This patient does not meet every requirement: give the reason for booking anyway.",
        )
    again: dict[str, Any] = {
        "slot": slot,
        "start_at": start_at,
        "chair_id": chair_id,
        "provider_id": slot_provider,
        "key": key,
        "form": form,
    }
    if errors:
        return _confirm_page(request, db, search, errors=errors, status_code=422, **again)
    data = BookingCreate(
        patient_id=patient_id,
        appointment_type_id=type_id,
        location_id=location_id,
        start_at=start_at,
        chair_id=chair_id,
        provider_id=slot_provider,
        notes=notes,
        driver_confirmed=bool(driver_confirmed),
        fasting_acknowledged=bool(fasting_acknowledged),
        override=Override(reason=reason) if view.gate_fails else None,
    )

    def produce() -> tuple[int, dict[str, Any]]:
        booking = bookings_service.create_booking(db, data, actor=staff.actor, now=now)
        return 201, booking.model_dump(mode="json")

    try:
        outcome = create_once(
            db,
            scope=staff.actor.label,
            key=key,
            path="/admin/book",
            request=data,
            now=now,
            produce=produce,
            ttl=timedelta(hours=settings.idempotency_hours),
            shape=BookingRead,
        )
    except Conflict as exc:
        if exc.code == "idempotency_conflict":
            errors.add("", IN_FLIGHT)
            return _confirm_page(request, db, search, errors=errors, status_code=409, **again)
        if exc.code == "slot_unavailable":  # taken meanwhile: the times still free
            return _book_page(
                request, db, search, now=now, staff=staff, status_code=409, slot_taken=SLOT_TAKEN
            )
        # The patient's own overlapping visit, a requirement, the type withdrawn...
        errors.add("", exc.detail)
        return _confirm_page(request, db, search, errors=errors, status_code=409, **again)
    except InvalidInput as exc:
        errors.add("", exc.detail)
        return _confirm_page(request, db, search, errors=errors, status_code=422, **again)
    booking = BookingRead.model_validate(outcome.body)
    if not outcome.replayed:
        day = view.start_at.strftime("%a %-d %b, %H:%M")
        where = f" in {view.chair.name}" if view.chair else ""
        flash(
            request,
            db,
            f"Booked {view.patient.first_name} {view.patient.last_name}: "
            f"{view.appointment_type.name}, {day}{where} with "
            f"{view.provider.display_name or view.provider.name}.",
        )
    target = urlencode(
        {
            "location": location_id,
            "date": booking.start_at.astimezone(view.start_at.tzinfo).date().isoformat(),
            "highlight": booking.id,
        }
    )
    return RedirectResponse(f"/admin/board?{target}", status_code=303)


# ---- a booking's own page -------------------------------------------------------------


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
    page = booking_view.booking_page(db, booking_id, viewer=staff.actor, now=now)
    notice = None
    if stale and page.last_change is not None:
        change = page.last_change
        notice = STALE.format(who=change.who, at=change.at.strftime("%H:%M on %a %-d %b"))
    context = {
        "page": page,
        "b": page.booking,
        "staff": staff,
        "errors": errors or FormErrors(),
        "stale": notice,
        "cancel_form": cancel_form or {},
    }
    return render(request, "booking.html", context, status_code=status_code)


@router.get("/bookings/{booking_id}")
def booking_detail(
    request: Request, booking_id: int, staff: DeskPage, db: ReadSessionDep, clock: ClockDep
) -> Response:
    """A booking: who, what, when and where, its history, its messages and its actions."""
    return _booking_page(request, db, booking_id, staff=staff, now=clock.now())


def _if_match(booking_id: int, version: int) -> str:
    return f'"{booking_id}.{version}"'


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
    if action not in dict(booking_view.STATUS_ACTIONS):
        raise InvalidInput("Choose an action on the page.", field="action")
    try:
        booking = bookings_service.transition(
            db,
            booking_id,
            action,
            actor=staff.actor,
            now=now,
            if_match=_if_match(booking_id, version),
        )
    except PreconditionFailed:
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, stale=True
        )
    except Conflict as exc:
        errors = FormErrors()
        errors.add("", exc.detail)
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, errors=errors
        )
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
            if_match=_if_match(booking_id, version),
        )
    except PreconditionFailed:
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, stale=True
        )
    except Conflict as exc:
        errors.add("", exc.detail)
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, errors=errors
        )
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
    from_day: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to_day: Annotated[str | None, Query(alias="to", max_length=20)] = None,
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
    search = _search(
        str(booking.patient_id),
        str(booking.appointment_type_id),
        str(booking.location_id),
        provider_id,
        from_day,
        to_day,
    )
    errors = errors or FormErrors()
    try:
        picker = booking_view.slot_picker(db, search, now=now, ignore_booking=booking)
    except InvalidInput as exc:
        errors.add(_field_of(exc), exc.detail)
        search.from_date = search.to_date = None
        picker = booking_view.slot_picker(db, search, now=now, ignore_booking=booking)
        status_code = 422
    page = booking_view.booking_page(db, booking_id, viewer=staff.actor, now=now)
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
            if_match=_if_match(booking_id, version),
        )
    except PreconditionFailed:
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, stale=True
        )
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
        errors = FormErrors()
        errors.add("", exc.detail)
        return _booking_page(
            request, db, booking_id, staff=staff, now=now, status_code=409, errors=errors
        )
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
