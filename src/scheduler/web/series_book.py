"""The front desk books a treatment series (``/admin/series/new``): the patient, a template, a
first day and preferences, then the placement preview listing each visit (local time, chair,
provider), then one press books every visit or none.

- The preview is a GET (it changes nothing); only ids, dates and times go in its URL.
- The confirm form sends back the placement it showed. When the placement found at booking
  time differs (someone booked a chair meanwhile) nothing is booked: the page says so and
  shows the new placement to confirm (``series_plan_changed``). Nobody books what they did
  not see.
- When no placement exists, the page says which visit cannot be placed and why in plain
  words, with the nearest alternatives as links.
- The booking runs under an idempotency key in a hidden field (a second press replays), in a
  savepoint, so a refusal keeps nothing of the series.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import Conflict, InvalidInput, SchedulerError
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.idempotency.service import create_once
from scheduler.kit.zones import zone_label
from scheduler.models import Patient
from scheduler.patients import service as patients_service
from scheduler.series import service as series_service
from scheduler.series.planning import SERIES_REASON_TEXT
from scheduler.series.schemas import SeriesPreview, SeriesRead
from scheduler.web import series_view
from scheduler.web.booking_forms import override_of
from scheduler.web.deps import DeskPage, Staff
from scheduler.web.settings import attempt
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/series", include_in_schema=False, route_class=CommitRoute)

PLAN_CHANGED = (
    "The placement changed since you saw it (someone booked one of those times meanwhile), "
    "so nothing was booked. This is the placement now: check it and confirm again."
)
IN_FLIGHT = (
    "This series is already being booked from your first press. Look for it on the "
    "patient's page before trying again."
)
FORM_FIELDS = (
    "patient_id",
    "template_id",
    "location_id",
    "first_day",
    "provider_id",
    "earliest",
    "latest",
    "same_time",
    "same_chair",
    "same_provider",
    "override",
)
Field = Annotated[str, Form(max_length=40)]


def _field_of(exc: SchedulerError) -> str:
    errors = exc.extra.get("errors") or [{}]
    name = str(errors[0].get("field") or "")
    return {"earliest_time": "earliest", "latest_time": "latest"}.get(name, name)


def _page(
    request: Request,
    db: Session,
    form: series_view.SeriesForm,
    *,
    now: datetime,
    errors: FormErrors,
    preview: SeriesPreview | None = None,
    notice: str | None = None,
    notes: str = "",
    override_reason: str = "",
    status_code: int = 200,
    found: list[Patient] | None = None,
    q: str = "",
) -> Response:
    """The form, and the placement (or why there is none) when the form is complete."""
    picks = series_view.choices(db, form.patient_id)
    missing = False
    unreadable = any(name in FORM_FIELDS for name, _ in errors)
    if preview is None and form.complete and not unreadable:
        try:
            preview = series_service.preview_series(db, form.request(), now=now)
        except SchedulerError as exc:
            if exc.status == 404:
                raise
            errors.add(_field_of(exc), exc.detail)
            status_code = 409 if exc.status == 409 else 422
            missing = exc.code == "prerequisite_missing"
    location = next((loc for loc in picks.locations if loc.id == form.location_id), None)
    if location is None and picks.locations:
        location = picks.locations[0]
    tz = ZoneInfo(location.timezone if location else "UTC")
    names = series_view.Names(db)
    rows = series_view.planned_rows(preview.visits, names, tz) if preview else []
    alternatives = (
        series_view.alternatives(preview.alternatives, form, names, tz) if preview else []
    )
    context: dict[str, Any] = {
        "form": form,
        "query": form.query(),
        "picks": picks,
        "location": location,
        "zone_label": zone_label(location.timezone, now) if location else "UTC",
        "preview": preview,
        "rows": rows,
        "alternatives": alternatives,
        "series_reason_text": SERIES_REASON_TEXT,
        "preferences": series_view.PREFERENCES,
        "errors": errors,
        "notice": notice,
        "notes": notes,
        "key": secrets.token_urlsafe(18),
        "missing": missing,
        "override_url": "/admin/series/new?" + urlencode({**form.query(), "override": "1"}),
        "override_reason": override_reason,
        "tz": tz,
        "found": found or [],
        "searched": found is not None,
        "q": q,
    }
    return render(request, "series_book.html", context, status_code=status_code)


@router.get("/new")
def new_series(request: Request, staff: DeskPage, db: ReadSessionDep, clock: ClockDep) -> Response:
    """The form; with a patient, a template, a location and a first day, the placement."""
    values = {k: v for k, v in request.query_params.items() if k in FORM_FIELDS}
    form, problems = series_view.parse_form(values)
    errors = FormErrors()
    for name, message in problems.items():
        errors.add(name, message)
    return _page(
        request,
        db,
        form,
        now=clock.now(),
        errors=errors,
        status_code=422 if errors else 200,
    )


@router.post("/find")
def find_patient(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    q: Annotated[str, Form(max_length=200)] = "",
    template_id: Field = "",
    location_id: Field = "",
    first_day: Field = "",
) -> Response:
    """Find the patient as the booking page does (name, date of birth, phone or e-mail, in
    the body: no PHI in URLs); each one found links to the form with that patient and the
    choices made so far."""
    values = {"template_id": template_id, "location_id": location_id, "first_day": first_day}
    form, problems = series_view.parse_form({k: v for k, v in values.items() if v})
    errors = FormErrors()
    for name, message in problems.items():
        errors.add(name, message)
    found: list[Patient] | None = None
    if not q.strip():
        errors.add("q", "Type a name, date of birth, phone number or e-mail address.")
    else:
        _, found, _ = patients_service.find_patients(
            db, q, viewer=staff.actor, now=clock.now(), limit=20
        )
    return _page(
        request,
        db,
        form,
        now=clock.now(),
        errors=errors,
        status_code=422 if errors else 200,
        found=found,
        q=q,
    )


@router.post("")
def book_series(
    request: Request,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    key: Annotated[str, Form(min_length=8, max_length=100)],
    plan: Annotated[list[str], Form()],
    notes: Annotated[str, Form(max_length=4000)] = "",
    override_reason: Annotated[str, Form(max_length=1000)] = "",
    override: Field = "",
    patient_id: Field = "",
    template_id: Field = "",
    location_id: Field = "",
    first_day: Field = "",
    provider_id: Field = "",
    earliest: Field = "",
    latest: Field = "",
    same_time: Field = "",
    same_chair: Field = "",
    same_provider: Field = "",
) -> Response:
    """Book every visit of the placement shown, once whatever the number of presses; then
    the series' page."""
    now = clock.now()
    values = {
        "patient_id": patient_id,
        "template_id": template_id,
        "location_id": location_id,
        "first_day": first_day,
        "provider_id": provider_id,
        "earliest": earliest,
        "latest": latest,
        "same_time": same_time,
        "same_chair": same_chair,
        "same_provider": same_provider,
        "override": override,
    }
    form, problems = series_view.parse_form(values)
    errors = FormErrors()
    for name, message in problems.items():
        errors.add(name, message)
    if not form.complete:
        errors.add("", "Choose the patient, the series, the location and the first day.")
    given = override_of(form.override, override_reason, errors)
    reason = given.reason if given is not None else ""
    if not errors:
        try:
            data = form.request(
                expected=series_view.parse_plan(plan[:30]),
                notes=notes,
                override_reason=reason or "a prerequisite is missing",
            )
        except InvalidInput as exc:
            errors.add(_field_of(exc), exc.detail)
        else:
            return _book(
                request, db, form, data=data, key=key, staff=staff, now=now, hours=settings
            )
    return _page(
        request,
        db,
        form,
        now=now,
        errors=errors,
        status_code=422,
        notes=notes,
        override_reason=override_reason,
    )


def _book(
    request: Request,
    db: Session,
    form: series_view.SeriesForm,
    *,
    data: Any,
    key: str,
    staff: Staff,
    now: datetime,
    hours: Any,
) -> Response:
    errors = FormErrors()
    kept = data.override.reason if data.override is not None else ""

    def refuse(
        status_code: int, *, notice: str | None = None, preview: SeriesPreview | None = None
    ) -> Response:
        """The form again with what kept the series from being booked."""
        return _page(
            request,
            db,
            form,
            now=now,
            errors=errors,
            preview=preview,
            notice=notice,
            notes=data.notes,
            override_reason=kept,
            status_code=status_code,
        )

    def produce() -> tuple[int, dict[str, Any]]:
        series = series_service.create_series(db, data, actor=staff.actor, now=now)
        return 201, series.model_dump(mode="json")

    try:
        outcome = attempt(
            db,
            lambda: create_once(
                db,
                scope=staff.actor.label,
                key=key,
                path="/admin/series",
                request=data,
                now=now,
                produce=produce,
                ttl=timedelta(hours=hours.idempotency_hours),
                shape=SeriesRead,
            ),
        )
    except Conflict as exc:
        if exc.code == "series_plan_changed":
            preview = SeriesPreview.model_validate(exc.extra["preview"])
            return refuse(409, notice=PLAN_CHANGED, preview=preview)
        if exc.code == "series_unplaceable":
            return refuse(409, notice="Nothing was booked: the series can no longer be placed.")
        errors.add("", IN_FLIGHT if exc.code == "idempotency_conflict" else exc.detail)
        return refuse(409)
    except InvalidInput as exc:
        errors.add(_field_of(exc), exc.detail)
        return refuse(422)
    series = SeriesRead.model_validate(outcome.body)
    if not outcome.replayed:
        flash(request, db, f"Booked all {len(series.visits)} visits of {series.label}.")
    return RedirectResponse(f"/admin/series/{series.id}", status_code=303)
