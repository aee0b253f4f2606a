"""The availability editor (``/admin/availability``): a provider's weekly hours at one
location, their time off and extra hours, the location's closures, and a preview of the
coming week's free starts before anything is saved.

Front desk and admins choose the provider; a provider sees and edits their own only (another
provider's id is a 403, as in the API). Every change goes through the services the API uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from scheduler.appointment_types import service as types_service
from scheduler.appointment_types.schemas import AppointmentTypeRead
from scheduler.auth.actors import ADMIN, FRONT_DESK, PROVIDER
from scheduler.auth.dependencies import ensure_own_provider
from scheduler.deps import ClockDep
from scheduler.errors import SchedulerError
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.locations import service as locations_service
from scheduler.locations.schemas import ClosureCreate
from scheduler.models import AvailabilityException, AvailabilityRule, Location
from scheduler.providers import availability_service
from scheduler.providers import service as providers_service
from scheduler.providers.schemas import ProviderExceptionCreate, ProviderRead
from scheduler.providers.weekly_hours import RangeRefused, WeekPreview, apply_week, preview_week
from scheduler.web import availability_forms as forms
from scheduler.web import repository
from scheduler.web.deps import PageForbidden, Staff, StaffPage
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin", include_in_schema=False)

LIST_LIMIT = 200
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def posted_form(request: Request) -> FormData:
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]


@dataclass
class Editor:
    """What the page is about: the provider, the location, the type previewed, and what is
    saved for them."""

    providers: list[ProviderRead]
    provider: ProviderRead
    locations: list[Location]
    location: Location | None
    types: list[AppointmentTypeRead]
    kind: AppointmentTypeRead | None
    rules: list[AvailabilityRule]
    exceptions: list[AvailabilityException]
    closures: list[AvailabilityException]
    can_close: bool

    @property
    def location_id(self) -> int:
        assert self.location is not None
        assert self.location.id is not None
        return self.location.id

    @property
    def zone(self) -> str:
        return self.location.timezone if self.location else "UTC"

    def url(self) -> str:
        query = {"provider": self.provider.id}
        if self.location is not None:
            query["location"] = self.location_id
        if self.kind is not None:
            query["type"] = self.kind.id
        return f"/admin/availability?{urlencode(query)}"


def load_editor(
    db: Session,
    staff: Staff,
    provider_id: int | None,
    location_id: int | None,
    type_id: int | None,
    now: datetime,
) -> Editor | None:
    """The page's subject; None when there is no provider to show yet."""
    if staff.role == PROVIDER:
        own = staff.user.provider_id
        if own is None:
            raise PageForbidden("Your account is not linked to a provider record.")
        if provider_id is not None:
            ensure_own_provider(staff.actor, provider_id)
        providers = [providers_service.read_provider(db, own)]
    else:
        providers, _ = providers_service.list_providers(
            db, location_id=None, appointment_type_id=None, active=True, limit=LIST_LIMIT, offset=0
        )
        if provider_id is not None and all(p.id != provider_id for p in providers):
            providers.append(providers_service.read_provider(db, provider_id))
    if not providers:
        return None
    provider = next((p for p in providers if p.id == provider_id), providers[0])
    locations = [loc for loc in repository.location_choices(db) if loc.id in provider.location_ids]
    location = next((loc for loc in locations if loc.id == location_id), None)
    if location is None and locations:
        location = locations[0]
    all_types, _ = types_service.list_appointment_types(
        db, active=True, self_schedulable=None, limit=LIST_LIMIT, offset=0
    )
    types = [t for t in all_types if t.id in provider.appointment_type_ids]
    kind = next((t for t in types if t.id == type_id), types[0] if types else None)
    rules: list[AvailabilityRule] = []
    closures: list[AvailabilityException] = []
    if location is not None and location.id is not None:
        rules, _ = availability_service.list_rules(
            db, provider.id, location_id=location.id, weekday=None, limit=LIST_LIMIT, offset=0
        )
        closures, _ = locations_service.list_closures(
            db, location.id, start_at=now, end_at=None, limit=LIST_LIMIT, offset=0
        )
    exceptions, _ = availability_service.list_exceptions(
        db, provider.id, start_at=now, end_at=None, kind=None, limit=LIST_LIMIT, offset=0
    )
    return Editor(
        providers=providers,
        provider=provider,
        locations=locations,
        location=location,
        types=types,
        kind=kind,
        rules=rules,
        exceptions=exceptions,
        closures=closures,
        can_close=staff.role in (ADMIN, FRONT_DESK),
    )


def _preview(
    db: Session, editor: Editor, now: datetime, change: Callable[[], object] | None = None
) -> WeekPreview | None:
    if editor.location is None or editor.kind is None:
        return None
    return preview_week(
        db,
        provider_id=editor.provider.id,
        location_id=editor.location_id,
        appointment_type_id=editor.kind.id,
        timezone=editor.zone,
        now=now,
        change=change,
    )


@dataclass
class Kept:
    """A posted form as the page shows it again: its input and its errors."""

    errors: FormErrors
    values: dict[str, str]
    rows: list[forms.RangeRow] | None = None


def _show(
    request: Request,
    editor: Editor | None,
    *,
    staff: Staff,
    preview: WeekPreview | None = None,
    previewing: str = "",
    kept: Kept | None = None,
) -> Response:
    if editor is None:
        return render(request, "availability.html", {"editor": None, "staff": staff})
    step = editor.kind.slot_step_minutes if editor.kind else 15
    rows = kept.rows if kept else None
    errors = kept.errors if kept else FormErrors()
    context: dict[str, Any] = {
        "editor": editor,
        "staff": staff,
        "days": forms.by_weekday(rows if rows is not None else forms.rows_from_rules(editor.rules)),
        "preview": forms.preview_rows(preview, step) if preview else None,
        "previewing": previewing,
        "values": kept.values if kept else {},
        "errors": errors,
        "local": lambda at: forms.local_input(at, editor.zone).replace("T", " "),
    }
    status = 422 if errors else 200
    return render(request, "availability.html", context, status_code=status)


def _int(form: FormData, name: str) -> int | None:
    value = form.get(name)
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def _form_editor(db: Session, staff: Staff, form: FormData, now: datetime) -> Editor:
    editor = load_editor(
        db, staff, _int(form, "provider_id"), _int(form, "location_id"), _int(form, "type_id"), now
    )
    if editor is None or editor.location is None:
        raise PageForbidden("Choose a provider and one of their locations first.")
    if _int(form, "location_id") != editor.location_id:
        # A stale form (the provider left that location) must not edit another location.
        raise PageForbidden("That location is not one of this provider's any more.")
    return editor


@router.get("/availability")
def availability_page(
    request: Request,
    staff: StaffPage,
    db: ReadSessionDep,
    clock: ClockDep,
    provider_id: Annotated[int | None, Query(alias="provider", ge=1, le=2**31 - 1)] = None,
    location_id: Annotated[int | None, Query(alias="location", ge=1, le=2**31 - 1)] = None,
    type_id: Annotated[int | None, Query(alias="type", ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The editor of ``?provider=`` (a provider: themselves) at ``?location=``, previewing
    the slots of ``?type=`` (the same names as the board's and the slot search's)."""
    now = clock.now()
    editor = load_editor(db, staff, provider_id, location_id, type_id, now)
    preview = _preview(db, editor, now) if editor else None
    return _show(request, editor, staff=staff, preview=preview)


def _saved(request: Request, db: Session, editor: Editor, message: str) -> Response:
    flash(request, db, message)
    return RedirectResponse(editor.url(), status_code=303)


def _run(
    request: Request,
    db: Session,
    staff: Staff,
    editor: Editor,
    form: FormData,
    now: datetime,
    change: Callable[[], object],
    *,
    which: str,
    saved: str,
    refused: Callable[[SchedulerError | RangeRefused], None],
    kept: Kept,
) -> Response:
    """Preview or save one form's change; a refusal is shown next to its field."""
    errors = kept.errors
    if form.get("action") == "save":
        try:
            with db.begin_nested():  # a refusal half-way leaves nothing behind
                change()
        except (SchedulerError, RangeRefused) as exc:
            refused(exc)
        else:
            return _saved(request, db, editor, saved)
        return _show(request, editor, staff=staff, preview=_preview(db, editor, now), kept=kept)
    try:
        preview = _preview(db, editor, now, change)
    except (SchedulerError, RangeRefused) as exc:
        refused(exc)
        preview = _preview(db, editor, now)
    return _show(
        request,
        editor,
        staff=staff,
        preview=preview,
        previewing="" if errors else which,
        kept=kept,
    )


@router.post("/availability/hours")
def save_hours(
    request: Request, staff: StaffPage, db: SessionDep, clock: ClockDep, form: PostedForm
) -> Response:
    """Weekly hours: "Preview" shows the coming week with the change, "Save" applies it."""
    now = clock.now()
    editor = _form_editor(db, staff, form, now)
    rows = forms.rows_from_form(form)
    errors = FormErrors()
    changes = forms.changes_from_rows(rows, editor.location_id, errors)
    reason = forms.text_of(form, "reason", 500)
    kept = Kept(errors, {"reason": reason}, rows)
    if errors:
        return _show(request, editor, staff=staff, preview=_preview(db, editor, now), kept=kept)

    def change() -> int:
        return apply_week(
            db, editor.provider.id, changes, reason=reason, actor=staff.actor, now=now
        )

    def refused(exc: SchedulerError | RangeRefused) -> None:
        if isinstance(exc, RangeRefused):
            forms.refused_range(exc.key, exc.error, errors)
        else:
            errors.add("", exc.detail)

    return _run(
        request, db, staff, editor, form, now, change,
        which="hours", saved="Weekly hours saved.", refused=refused, kept=kept,
    )  # fmt: skip


def _dated_values(form: FormData, prefix: str) -> dict[str, str]:
    return {
        f"{prefix}-{name}": forms.text_of(form, f"{prefix}-{name}", 500 if name == "reason" else 40)
        for name in ("kind", "where", "start", "end", "reason")
    }


@router.post("/availability/exceptions")
def add_exception(
    request: Request, staff: StaffPage, db: SessionDep, clock: ClockDep, form: PostedForm
) -> Response:
    """Time off or extra hours, previewed or saved."""
    now = clock.now()
    editor = _form_editor(db, staff, form, now)
    values = _dated_values(form, "exc")
    errors = FormErrors()
    kind = values["exc-kind"]
    if kind not in ("unavailable", "extra"):
        errors.add("exc-kind", "Choose time off or extra hours.")
    span = forms.dated_instants(form, "exc", editor.zone, errors)
    kept = Kept(errors, values)
    data = None
    if span is not None and not errors:
        try:
            data = ProviderExceptionCreate(
                kind=kind,
                location_id=None if values["exc-where"] == "all" else editor.location_id,
                start_at=span[0],
                end_at=span[1],
                reason=values["exc-reason"],
            )
        except ValidationError as exc:
            forms.schema_errors(exc, "exc", errors)
    if data is None:
        return _show(request, editor, staff=staff, preview=_preview(db, editor, now), kept=kept)
    checked = data

    def change() -> object:
        return availability_service.create_exception(
            db, editor.provider.id, checked, actor=staff.actor, now=now
        )

    def refused(exc: SchedulerError | RangeRefused) -> None:
        errors.add("exc-start", str(exc))

    saved = "Time off saved." if kind == "unavailable" else "Extra hours saved."
    return _run(
        request, db, staff, editor, form, now, change,
        which="exception", saved=saved, refused=refused, kept=kept,
    )  # fmt: skip


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
    editor = _form_editor(db, staff, form, now)
    availability_service.delete_exception(
        db, editor.provider.id, exception_id, reason="", actor=staff.actor, now=now
    )
    return _saved(request, db, editor, "Removed.")


def _desk_only(staff: Staff) -> None:
    if staff.role not in (ADMIN, FRONT_DESK):
        raise PageForbidden("Only the front desk and admins close a location.")


@router.post("/availability/closures")
def add_closure(
    request: Request, staff: StaffPage, db: SessionDep, clock: ClockDep, form: PostedForm
) -> Response:
    """A closure of the whole location (a holiday), previewed or saved."""
    _desk_only(staff)
    now = clock.now()
    editor = _form_editor(db, staff, form, now)
    values = _dated_values(form, "cl")
    errors = FormErrors()
    span = forms.dated_instants(form, "cl", editor.zone, errors)
    kept = Kept(errors, values)
    data = None
    if span is not None:
        try:
            data = ClosureCreate(start_at=span[0], end_at=span[1], reason=values["cl-reason"])
        except ValidationError as exc:
            forms.schema_errors(exc, "cl", errors)
    if data is None:
        return _show(request, editor, staff=staff, preview=_preview(db, editor, now), kept=kept)
    checked = data

    def change() -> object:
        return locations_service.create_closure(
            db, editor.location_id, checked, actor=staff.actor, now=now
        )

    def refused(exc: SchedulerError | RangeRefused) -> None:
        errors.add("cl-start", str(exc))

    return _run(
        request, db, staff, editor, form, now, change,
        which="closure", saved="Closure saved.", refused=refused, kept=kept,
    )  # fmt: skip


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
    editor = _form_editor(db, staff, form, now)
    locations_service.delete_closure(db, editor.location_id, closure_id, actor=staff.actor, now=now)
    return _saved(request, db, editor, "Closure removed; the location is open again then.")
