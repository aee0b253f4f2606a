"""The availability editor's dated forms: a provider's time off and extra hours, and the
location's closures, added, changed in place or removed (``/admin/availability/...``).

Each is previewed or saved through ``availability.run_change``: "Save" that would leave
booked visits outside the hours or inside a closure lists them and changes nothing until
"Save anyway". Every change goes through the services the API uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from scheduler.auth.actors import ADMIN, FRONT_DESK
from scheduler.deps import ClockDep
from scheduler.errors import NotFound, SchedulerError
from scheduler.http.transaction import SessionDep
from scheduler.locations import service as locations_service
from scheduler.locations.schemas import ClosureCreate, ClosureUpdate
from scheduler.providers import availability_service
from scheduler.providers.schemas import ProviderExceptionCreate, ProviderExceptionUpdate
from scheduler.providers.weekly_hours import RangeRefused
from scheduler.web import availability_forms as forms
from scheduler.web.availability import (
    Change,
    Editing,
    Editor,
    Kept,
    PathId,
    PostedForm,
    form_editor,
    preview_of,
    run_change,
    saved_page,
    show,
)
from scheduler.web.deps import PageForbidden, Staff, StaffPage
from scheduler.web.templating import FormErrors

router = APIRouter(prefix="/admin", include_in_schema=False)

GONE = "Someone else removed this meanwhile: reload the page."


def _dated_values(form: FormData, prefix: str) -> dict[str, str]:
    return {
        f"{prefix}-{name}": forms.text_of(form, f"{prefix}-{name}", 500 if name == "reason" else 40)
        for name in ("kind", "where", "start", "end", "reason")
    }


def _refused_at(field: str, errors: FormErrors) -> Callable[[SchedulerError | RangeRefused], None]:
    def refused(exc: SchedulerError | RangeRefused) -> None:
        errors.add(field, GONE if isinstance(exc, NotFound) else str(exc))

    return refused


def _exception_where(editor: Editor, where: str, item_id: int | None) -> int | None:
    """ "At every location" is None; "here" is this location, or where a changed one was."""
    if where == "all":
        return None
    if item_id is not None:
        saved = next((e for e in editor.exceptions if e.id == item_id), None)
        if saved is not None and saved.location_id is not None:
            return saved.location_id
    return editor.location_id


def _exception(
    request: Request, staff: Staff, db: Session, form: FormData, now: datetime, item_id: int | None
) -> Response:
    editor = form_editor(db, staff, form, now)
    values = _dated_values(form, "exc")
    errors = FormErrors()
    kind = values["exc-kind"]
    if kind not in ("unavailable", "extra"):
        errors.add("exc-kind", "Choose time off or extra hours.")
    span = forms.dated_instants(form, "exc", editor.zone, errors)
    kept = Kept(errors, values)
    editing = Editing("exc", item_id) if item_id is not None else None
    data = None
    if span is not None and not errors:
        try:
            data = ProviderExceptionCreate(
                kind=kind,
                location_id=_exception_where(editor, values["exc-where"], item_id),
                start_at=span[0],
                end_at=span[1],
                reason=values["exc-reason"],
            )
        except ValidationError as exc:
            forms.schema_errors(exc, "exc", errors)
    if data is None:
        preview = preview_of(db, editor, now)
        return show(request, editor, staff=staff, preview=preview, kept=kept, editing=editing)
    checked = data
    provider_id = editor.provider.id

    def apply() -> object:
        if item_id is None:
            return availability_service.create_exception(
                db, provider_id, checked, actor=staff.actor, now=now
            )
        update = ProviderExceptionUpdate(**checked.model_dump())
        return availability_service.update_exception(
            db, provider_id, item_id, update, actor=staff.actor, now=now
        )

    what = "Time off" if kind == "unavailable" else "Extra hours"
    change = Change(
        apply,
        "exception",
        f"{what} {'saved' if item_id is None else 'changed'}.",
        "fall in this time off" if kind == "unavailable" else "would be outside the new hours",
        provider_id=provider_id,
    )
    refused = _refused_at("exc-start", errors)
    return run_change(
        request, db, staff, editor, form, now, change,
        refused=refused, kept=kept, editing=editing,
    )  # fmt: skip


@router.post("/availability/exceptions")
def add_exception(
    request: Request, staff: StaffPage, db: SessionDep, clock: ClockDep, form: PostedForm
) -> Response:
    """Time off or extra hours, previewed or saved."""
    return _exception(request, staff, db, form, clock.now(), None)


@router.post("/availability/exceptions/{exception_id}")
def change_exception(
    request: Request,
    exception_id: PathId,
    staff: StaffPage,
    db: SessionDep,
    clock: ClockDep,
    form: PostedForm,
) -> Response:
    """A saved time off or extra hours moved or re-worded in place."""
    return _exception(request, staff, db, form, clock.now(), exception_id)


@router.post("/availability/exceptions/{exception_id}/delete")
def delete_exception(
    request: Request,
    exception_id: PathId,
    staff: StaffPage,
    db: SessionDep,
    clock: ClockDep,
    form: PostedForm,
) -> Response:
    now = clock.now()
    editor = form_editor(db, staff, form, now)
    availability_service.delete_exception(
        db, editor.provider.id, exception_id, reason="", actor=staff.actor, now=now
    )
    return saved_page(request, db, editor, "Removed.")


def _desk_only(staff: Staff) -> None:
    if staff.role not in (ADMIN, FRONT_DESK):
        raise PageForbidden("Only the front desk and admins close a location.")


def _closure(
    request: Request, staff: Staff, db: Session, form: FormData, now: datetime, item_id: int | None
) -> Response:
    _desk_only(staff)
    editor = form_editor(db, staff, form, now)
    values = _dated_values(form, "cl")
    errors = FormErrors()
    span = forms.dated_instants(form, "cl", editor.zone, errors)
    kept = Kept(errors, values)
    editing = Editing("cl", item_id) if item_id is not None else None
    data = None
    if span is not None:
        try:
            data = ClosureCreate(start_at=span[0], end_at=span[1], reason=values["cl-reason"])
        except ValidationError as exc:
            forms.schema_errors(exc, "cl", errors)
    if data is None:
        preview = preview_of(db, editor, now)
        return show(request, editor, staff=staff, preview=preview, kept=kept, editing=editing)
    checked = data
    location_id = editor.location_id

    def apply() -> object:
        if item_id is None:
            return locations_service.create_closure(
                db, location_id, checked, actor=staff.actor, now=now
            )
        update = ClosureUpdate(**checked.model_dump())
        return locations_service.update_closure(
            db, location_id, item_id, update, actor=staff.actor, now=now
        )

    change = Change(
        apply,
        "closure",
        "Closure saved." if item_id is None else "Closure changed.",
        "fall in this closure",
        location_id=location_id,
    )
    refused = _refused_at("cl-start", errors)
    return run_change(
        request, db, staff, editor, form, now, change,
        refused=refused, kept=kept, editing=editing,
    )  # fmt: skip


@router.post("/availability/closures")
def add_closure(
    request: Request, staff: StaffPage, db: SessionDep, clock: ClockDep, form: PostedForm
) -> Response:
    """A closure of the whole location (a holiday), previewed or saved."""
    return _closure(request, staff, db, form, clock.now(), None)


@router.post("/availability/closures/{closure_id}")
def change_closure(
    request: Request,
    closure_id: PathId,
    staff: StaffPage,
    db: SessionDep,
    clock: ClockDep,
    form: PostedForm,
) -> Response:
    """A saved closure moved or re-worded in place."""
    return _closure(request, staff, db, form, clock.now(), closure_id)


@router.post("/availability/closures/{closure_id}/delete")
def delete_closure(
    request: Request,
    closure_id: PathId,
    staff: StaffPage,
    db: SessionDep,
    clock: ClockDep,
    form: PostedForm,
) -> Response:
    _desk_only(staff)
    now = clock.now()
    editor = form_editor(db, staff, form, now)
    locations_service.delete_closure(db, editor.location_id, closure_id, actor=staff.actor, now=now)
    return saved_page(request, db, editor, "Closure removed; the location is open again then.")
