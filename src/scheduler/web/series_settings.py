"""Settings: the series templates of an appointment type (admins): how a course of that type
is planned - visits, the window they must fit in, the gap between two, at most N a week, the
booster interval and the soft preferences.

``/admin/settings/types/{id}/series`` lists a type's templates with a form for a new one;
``/admin/settings/series-templates/{id}`` edits one (or withdraws it from new bookings). The
values go to ``SeriesTemplateCreate`` / ``SeriesTemplateUpdate`` and ``series.templates``,
whose errors come back next to the field they name.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from scheduler.appointment_types import service as types_service
from scheduler.deps import ClockDep
from scheduler.errors import SchedulerError
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.series import templates as templates_service
from scheduler.series.schemas import (
    SeriesTemplateCreate,
    SeriesTemplateRead,
    SeriesTemplateUpdate,
)
from scheduler.web.deps import AdminPage
from scheduler.web.settings import ALL, FormDep, IdPath, attempt, status_of
from scheduler.web.settings_forms import checked, service_errors, text, validation_errors
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/settings", include_in_schema=False)

NUMBERS = (
    "visit_count",
    "window_days",
    "min_gap_hours",
    "max_gap_hours",
    "max_per_week",
    "booster_interval_days",
)
FLAGS = ("prefer_same_time", "prefer_same_chair", "prefer_same_provider")
NEW_TEMPLATE: dict[str, Any] = {
    "name": "Induction",
    "visit_count": 6,
    "window_days": 21,
    "min_gap_hours": 48,
    "max_gap_hours": 120,
    "max_per_week": 3,
    "booster_interval_days": 28,
    "prefer_same_time": True,
    "prefer_same_chair": False,
    "prefer_same_provider": False,
    "active": True,
}


def _values(form: FormData, *, with_active: bool) -> dict[str, Any]:
    """The form as typed (numbers kept as text to show them again; blank booster = none)."""
    values: dict[str, Any] = {"name": text(form, "name")}
    for name in NUMBERS:
        values[name] = text(form, name) or None
    for name in FLAGS:
        values[name] = checked(form, name)
    if with_active:
        values["active"] = checked(form, "active")
    return values


WORDS = {
    "max_gap_hours": "the most gap",
    "min_gap_hours": "the least gap",
    "window_days": "the window",
}


def _in_words(errors: FormErrors) -> FormErrors:
    """The schema's and the service's messages with the fields' names in words."""
    out = FormErrors()
    for name, message in errors:
        for key, words in WORDS.items():
            message = message.replace(key, words)
        # The only check across fields: the most gap must not be less than the least.
        out.add(name or "max_gap_hours", message[:1].upper() + message[1:])
    return out


def _errors(exc: ValidationError) -> FormErrors:
    return _in_words(validation_errors(exc))


def _list_page(
    request: Request,
    db: Session,
    type_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    appointment_type = types_service.read_appointment_type(db, type_id)
    found, _ = templates_service.list_templates(
        db, appointment_type_id=type_id, limit=ALL, offset=0
    )
    context = {
        "appointment_type": appointment_type,
        "templates": found,
        "values": values or NEW_TEMPLATE,
        "errors": errors or FormErrors(),
    }
    return render(request, "settings_series.html", context, status_code=status_code)


@router.get("/types/{type_id}/series")
def series_templates(
    request: Request, type_id: IdPath, staff: AdminPage, db: ReadSessionDep
) -> Response:
    return _list_page(request, db, type_id)


@router.post("/types/{type_id}/series")
def create_series_template(
    request: Request,
    type_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    values = _values(form, with_active=False)
    try:
        data = SeriesTemplateCreate.model_validate(values)
        created = attempt(
            db,
            lambda: templates_service.create_template(
                db, type_id, data, actor=staff.actor, now=clock.now()
            ),
        )
    except ValidationError as exc:
        return _list_page(request, db, type_id, values=values, errors=_errors(exc), status_code=422)
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = _in_words(service_errors(exc, default_field="name"))
        return _list_page(
            request, db, type_id, values=values, errors=errors, status_code=status_of(exc)
        )
    flash(request, db, f"Series template “{created.name}” created.")
    return RedirectResponse(f"/admin/settings/types/{type_id}/series", status_code=303)


def _edit_page(
    request: Request,
    db: Session,
    current: SeriesTemplateRead,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    appointment_type = types_service.read_appointment_type(db, current.appointment_type_id)
    context = {
        "appointment_type": appointment_type,
        "current": current,
        "values": values or current.model_dump(),
        "errors": errors or FormErrors(),
    }
    return render(request, "settings_series_template.html", context, status_code=status_code)


@router.get("/series-templates/{template_id}")
def series_template(
    request: Request, template_id: IdPath, staff: AdminPage, db: ReadSessionDep
) -> Response:
    return _edit_page(request, db, templates_service.read_template(db, template_id))


@router.post("/series-templates/{template_id}")
def update_series_template(
    request: Request,
    template_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    current = templates_service.read_template(db, template_id)
    values = _values(form, with_active=True)
    try:
        # Every field is sent; a blank booster interval means no boosters.
        SeriesTemplateCreate.model_validate({k: v for k, v in values.items() if k != "active"})
        data = SeriesTemplateUpdate.model_validate(values)
        saved = attempt(
            db,
            lambda: templates_service.update_template(
                db, template_id, data, actor=staff.actor, now=clock.now()
            ),
        )
    except ValidationError as exc:
        return _edit_page(request, db, current, values=values, errors=_errors(exc), status_code=422)
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = _in_words(service_errors(exc, default_field="name"))
        return _edit_page(
            request, db, current, values=values, errors=errors, status_code=status_of(exc)
        )
    flash(request, db, f"Series template “{saved.name}” saved.")
    return RedirectResponse(
        f"/admin/settings/types/{current.appointment_type_id}/series", status_code=303
    )
