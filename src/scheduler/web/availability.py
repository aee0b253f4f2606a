"""The availability editor (``/admin/availability``): a provider's weekly hours at one
location, their time off and extra hours, the location's closures, and a preview of the
coming week's free starts before anything is saved.

Front desk and admins choose the provider; a provider sees and edits their own only (another
provider's id is a 403, as in the API). Every change goes through the services the API uses.
This module has the page, the weekly hours form and ``run_change`` (preview, save, or the
list of booked visits a save would strand, with "Save anyway"); the dated forms (time off,
extra hours, closures) are in ``availability_dated``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
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
from scheduler.models import AvailabilityException, AvailabilityRule, Location
from scheduler.providers import availability_service
from scheduler.providers import service as providers_service
from scheduler.providers.schemas import ProviderRead
from scheduler.providers.stranded import StrandedVisit, stranded_visits
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


def preview_of(
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


@dataclass(frozen=True)
class Stranded:
    """The warning shown instead of saving: ``visits`` the change would strand."""

    form: str  # "hours", "exception" or "closure": the form that shows it
    text: str  # "fall in this closure", ...
    visits: list[StrandedVisit]


@dataclass(frozen=True)
class Editing:
    """Which saved time off / extra hours (``exc``) or closure (``cl``) the form changes."""

    form: str
    item_id: int


def show(
    request: Request,
    editor: Editor | None,
    *,
    staff: Staff,
    preview: WeekPreview | None = None,
    previewing: str = "",
    kept: Kept | None = None,
    editing: Editing | None = None,
    stranded: Stranded | None = None,
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
        "editing": editing,
        "stranded": stranded,
        "local": lambda at: forms.local_input(at, editor.zone).replace("T", " "),
        "visit_time": lambda v: forms.visit_text(v.start_at, v.end_at, v.timezone),
    }
    status = 422 if errors else 200
    return render(request, "availability.html", context, status_code=status)


def _int(form: FormData, name: str) -> int | None:
    value = form.get(name)
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def form_editor(db: Session, staff: Staff, form: FormData, now: datetime) -> Editor:
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
    edit: Annotated[str | None, Query(pattern=r"^(exc|cl)-[0-9]{1,9}$")] = None,
) -> Response:
    """The editor of ``?provider=`` (a provider: themselves) at ``?location=``, previewing
    the slots of ``?type=`` (the same names as the board's and the slot search's);
    ``?edit=exc-ID`` / ``?edit=cl-ID`` fills the dated form with a saved one to change it."""
    now = clock.now()
    editor = load_editor(db, staff, provider_id, location_id, type_id, now)
    preview = preview_of(db, editor, now) if editor else None
    editing, kept = None, None
    if editor is not None and edit is not None:
        prefix, _, item_id = edit.partition("-")
        items = editor.exceptions if prefix == "exc" else editor.closures
        item = next((i for i in items if i.id == int(item_id)), None)
        if item is not None and (prefix == "exc" or editor.can_close):
            editing = Editing(prefix, int(item_id))
            kept = Kept(FormErrors(), forms.dated_values_of(item, prefix, editor.zone))
    return show(request, editor, staff=staff, preview=preview, kept=kept, editing=editing)


def saved_page(request: Request, db: Session, editor: Editor, message: str) -> Response:
    flash(request, db, message)
    return RedirectResponse(editor.url(), status_code=303)


@dataclass(frozen=True)
class Change:
    """One form's change: ``apply`` runs the services; ``provider_id`` / ``location_id``
    say whose booked visits it may strand (``warning``: how the page says so)."""

    apply: Callable[[], object]
    which: str
    saved: str
    warning: str
    provider_id: int | None = None
    location_id: int | None = None


def run_change(
    request: Request,
    db: Session,
    staff: Staff,
    editor: Editor,
    form: FormData,
    now: datetime,
    change: Change,
    *,
    refused: Callable[[SchedulerError | RangeRefused], None],
    kept: Kept,
    editing: Editing | None = None,
) -> Response:
    """Preview or save one form's change; a refusal is shown next to its field. "Save"
    that would strand booked visits shows them instead, with "Save anyway" ("confirm")."""
    errors = kept.errors
    action = form.get("action")
    page = partial(show, request, editor, staff=staff, kept=kept, editing=editing)
    if action in ("save", "confirm"):
        try:
            stranded = []
            if action == "save":
                stranded = stranded_visits(
                    db,
                    now=now,
                    provider_id=change.provider_id,
                    location_id=change.location_id,
                    change=change.apply,
                )
            if stranded:
                warning = Stranded(change.which, change.warning, stranded)
                return page(
                    preview=preview_of(db, editor, now, change.apply),
                    previewing=change.which,
                    stranded=warning,
                )
            with db.begin_nested():  # a refusal half-way leaves nothing behind
                change.apply()
        except (SchedulerError, RangeRefused) as exc:
            refused(exc)
        else:
            return saved_page(request, db, editor, change.saved)
        return page(preview=preview_of(db, editor, now))
    try:
        preview = preview_of(db, editor, now, change.apply)
    except (SchedulerError, RangeRefused) as exc:
        refused(exc)
        preview = preview_of(db, editor, now)
    return page(preview=preview, previewing="" if errors else change.which)


@router.post("/availability/hours")
def save_hours(
    request: Request, staff: StaffPage, db: SessionDep, clock: ClockDep, form: PostedForm
) -> Response:
    """Weekly hours: "Preview" shows the coming week with the change, "Save" applies it."""
    now = clock.now()
    editor = form_editor(db, staff, form, now)
    rows = forms.rows_from_form(form)
    errors = FormErrors()
    changes = forms.changes_from_rows(rows, editor.location_id, errors)
    reason = forms.text_of(form, "reason", 500)
    kept = Kept(errors, {"reason": reason}, rows)
    if errors:
        return show(request, editor, staff=staff, preview=preview_of(db, editor, now), kept=kept)

    def apply() -> int:
        return apply_week(
            db, editor.provider.id, changes, reason=reason, actor=staff.actor, now=now
        )

    def refused(exc: SchedulerError | RangeRefused) -> None:
        if isinstance(exc, RangeRefused):
            forms.refused_range(exc.key, exc.error, errors)
        else:
            errors.add("", exc.detail)

    change = Change(
        apply,
        "hours",
        "Weekly hours saved.",
        "would be outside the new hours",
        provider_id=editor.provider.id,
    )
    return run_change(request, db, staff, editor, form, now, change, refused=refused, kept=kept)
