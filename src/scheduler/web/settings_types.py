"""Settings: appointment types (``/admin/settings/types``): list, create, edit.

One form for create and edit, working without JavaScript: a fixed number of phase rows (a
blank row is skipped), every schedule rule in the type's own units. The form's values go to
``AppointmentTypeCreate`` / ``AppointmentTypeUpdate`` and the appointment-type service, which
keep every rule (phases against duration and chair, turnover without a chair, notice past the
horizon, fasting); their errors come back next to the field they name.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from scheduler.appointment_types import service as types_service
from scheduler.appointment_types.schemas import (
    AppointmentTypeCreate,
    AppointmentTypeRead,
    AppointmentTypeUpdate,
)
from scheduler.deps import ClockDep
from scheduler.errors import SchedulerError
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.clock import Clock
from scheduler.web.deps import AdminPage, Staff
from scheduler.web.settings import ALL, FormDep, IdPath, attempt, status_of
from scheduler.web.settings_forms import (
    PREREQUISITE_LABELS,
    PROVIDER_USES,
    TypeForm,
    read_type_form,
    service_errors,
    type_form_from,
    validation_errors,
)
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/settings/types", include_in_schema=False)

NO_PHASES = "Enter the minutes of at least one phase."


def _new_type_defaults() -> dict[str, Any]:
    """What a new type's form starts with: the API's defaults for a new type."""
    defaults = {
        name: info.default
        for name, info in AppointmentTypeCreate.model_fields.items()
        if not info.is_required() and info.default_factory is None
    }
    defaults["prerequisites"] = []
    defaults["phases"] = []
    return defaults


@router.get("")
def types_page(request: Request, staff: AdminPage, db: ReadSessionDep) -> Response:
    types, _ = types_service.list_appointment_types(
        db, active=None, self_schedulable=None, limit=ALL, offset=0
    )
    return render(request, "settings_types.html", {"types": types})


def _form_page(
    request: Request,
    form: TypeForm,
    *,
    current: AppointmentTypeRead | None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "form": form,
        "current": current,
        "errors": errors or FormErrors(),
        "provider_uses": PROVIDER_USES,
        "prerequisite_labels": PREREQUISITE_LABELS,
    }
    return render(request, "settings_type.html", context, status_code=status_code)


@router.get("/new")
def new_type_page(request: Request, staff: AdminPage) -> Response:
    return _form_page(request, type_form_from(_new_type_defaults()), current=None)


@router.get("/{type_id}")
def type_page(request: Request, type_id: IdPath, staff: AdminPage, db: ReadSessionDep) -> Response:
    current = types_service.read_appointment_type(db, type_id)
    return _form_page(request, type_form_from(current.model_dump()), current=current)


def _save(
    request: Request,
    db: Session,
    form_data: FormData,
    *,
    type_id: int | None,
    staff: Staff,
    clock: Clock,
) -> Response:
    current = None if type_id is None else types_service.read_appointment_type(db, type_id)
    form, payload, keys = read_type_form(form_data)
    if payload["phases"] is None:
        errors = FormErrors()
        errors.add("phases", NO_PHASES)
        return _form_page(request, form, current=current, errors=errors, status_code=422)
    try:
        if type_id is None:
            create = AppointmentTypeCreate.model_validate(payload)
            saved = attempt(
                db,
                lambda: types_service.create_appointment_type(
                    db, create, actor=staff.actor, now=clock.now()
                ),
            )
        else:
            update = AppointmentTypeUpdate.model_validate(payload)
            saved = attempt(
                db,
                lambda: types_service.update_appointment_type(
                    db, type_id, update, actor=staff.actor, now=clock.now()
                ),
            )
    except ValidationError as exc:
        errors = validation_errors(exc, keys=keys)
        return _form_page(request, form, current=current, errors=errors, status_code=422)
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = service_errors(exc, default_field="code")
        if errors.for_("duration_minutes") or errors.for_("needs_chair"):
            errors = FormErrors({"phases": next(iter(errors))[1]})
        return _form_page(request, form, current=current, errors=errors, status_code=status_of(exc))
    verb = "created" if type_id is None else "saved"
    flash(request, db, f"Appointment type “{saved.name}” {verb}.")
    return RedirectResponse("/admin/settings/types", status_code=303)


@router.post("")
def create_type(
    request: Request, staff: AdminPage, db: SessionDep, clock: ClockDep, form: FormDep
) -> Response:
    return _save(request, db, form, type_id=None, staff=staff, clock=clock)


@router.post("/{type_id}")
def update_type(
    request: Request,
    type_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    return _save(request, db, form, type_id=type_id, staff=staff, clock=clock)
