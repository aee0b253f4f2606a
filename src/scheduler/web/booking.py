"""The front desk books (``/admin/book``): the slot picker, finding or adding the patient,
the confirm step and the booking itself. A booking's own page is ``web/booking_actions.py``.

Thin: parse the query or the form (``web/booking_forms.py``), call the services (the same
ones as the API), render. Only ids, dates and slot instants go in URLs; a patient search goes
in a POST body.

- A booking is created under an idempotency key carried in a hidden field of the confirm
  form: a resubmitted form or a second press replays the first booking, never makes another.
- A slot taken meanwhile is said plainly, with the refreshed slot list and the choices kept.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from scheduler.bookings import service as bookings_service
from scheduler.bookings.schemas import BookingCreate, BookingRead
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import Conflict, InvalidInput
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.idempotency.service import create_once
from scheduler.models import Patient
from scheduler.patients import service as patients_service
from scheduler.patients.schemas import PatientCreate
from scheduler.web import booking_view
from scheduler.web.booking_forms import (
    IN_FLIGHT,
    SLOT_TAKEN,
    PickerQuery,
    Text,
    book_url,
    override_of,
    search_of,
    slot_picker_or_reset,
)
from scheduler.web.booking_view import Search
from scheduler.web.deps import DeskPage
from scheduler.web.patient_forms import read_details
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin", include_in_schema=False)


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
    picker, refused = slot_picker_or_reset(db, search, errors, now=now)
    if refused:
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


@router.get("/book")
def book(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    search: PickerQuery,
) -> Response:
    """The slot picker: the patient, the visit type, any provider or one, a date range."""
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
    search = search_of(None, type_id, location_id, provider_id, None, None)
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
    search = search_of(None, type_id, location_id, provider_id, None, None)
    now = clock.now()
    data, errors = read_details(PatientCreate, values, today=now.date())
    if data is not None:
        try:
            patient = patients_service.create_patient(db, data, actor=staff.actor, now=now)
        except InvalidInput as exc:
            errors.add(exc.field or "", exc.detail)
        else:
            search.patient_id = patient.id
            flash(request, db, f"{patient.first_name} {patient.last_name} is on file now.")
            return RedirectResponse(book_url(search), status_code=303)
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


@router.get("/book/confirm")
def confirm(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    search: PickerQuery,
    slot: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    """The confirm step: what is booked, the patient's eligibility, the acknowledgements."""
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
        "back_url": book_url(search),
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
    search = search_of(
        str(patient_id), str(type_id), str(location_id), provider_id, from_day, to_day
    )
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
    override = override_of(view.gate_fails, override_reason, errors)
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
        override=override,
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
