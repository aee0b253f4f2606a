"""The admin's settings pages: the overview, locations and their chairs (``/admin/settings``).

Thin like the API routers: read the form into the API's schema, call one service, render.
A schema's or service's error is shown next to its field with the input kept (the page is
rendered again, 422/409); a change that worked redirects with a flash (post/redirect/get).
A failed service call runs inside a savepoint, so nothing it wrote before failing is kept.
Closures are the availability pages' (not here).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from scheduler.appointment_types import service as types_service
from scheduler.auth import service as auth_service
from scheduler.deps import ClockDep
from scheduler.errors import SchedulerError
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.locations import service as locations_service
from scheduler.locations.schemas import ChairCreate, ChairUpdate, LocationCreate, LocationUpdate
from scheduler.web.deps import AdminPage
from scheduler.web.settings_forms import (
    checked,
    service_errors,
    text,
    validation_errors,
)
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/settings", include_in_schema=False)

T = TypeVar("T")
ALL = 1000  # a clinic has a handful of locations, chairs and types: one page shows them all
# An id in a page's path: beyond the id columns' range it is no row of ours (a 400 page,
# before any query could fail on it).
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


def attempt(db: Session, work: Callable[[], T]) -> T:
    """Run one service call in a savepoint: when it raises, what it wrote is undone and the
    page can show the error (the request's transaction still commits the flash)."""
    with db.begin_nested():
        return work()


def status_of(exc: SchedulerError) -> int:
    """The status of a form page shown again with a service's error: 409 for a conflict with
    the clinic's data (a duplicate name, the last admin), else 422."""
    return 409 if exc.status == 409 else 422


@cache
def time_zones() -> list[tuple[str, str]]:
    """The IANA zones offered by the time-zone select (area/city names), as (value, label)."""
    names = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return [(name, name.replace("_", " ")) for name in names]


@router.get("")
def overview(request: Request, staff: AdminPage, db: ReadSessionDep) -> Response:
    locations, _ = locations_service.list_locations(db, active=None, limit=ALL, offset=0)
    types, _ = types_service.list_appointment_types(
        db, active=None, self_schedulable=None, limit=ALL, offset=0
    )
    _, users = auth_service.list_users(db, limit=1, offset=0)
    counts = {"locations": len(locations), "types": len(types), "users": users}
    return render(request, "settings_index.html", {"staff": staff, "counts": counts})


# --- Locations -----------------------------------------------------------------------------


def _locations_page(
    request: Request,
    db: Session,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    locations, _ = locations_service.list_locations(db, active=None, limit=ALL, offset=0)
    context = {
        "locations": locations,
        "values": values or {"timezone": ""},
        "errors": errors or FormErrors(),
        "zones": time_zones(),
    }
    return render(request, "settings_locations.html", context, status_code=status_code)


@router.get("/locations")
def locations_page(request: Request, staff: AdminPage, db: ReadSessionDep) -> Response:
    return _locations_page(request, db)


def _location_values(form: FormData) -> dict[str, Any]:
    return {name: text(form, name) for name in ("name", "timezone", "address", "phone")}


@router.post("/locations")
def create_location(
    request: Request, staff: AdminPage, db: SessionDep, clock: ClockDep, form: FormDep
) -> Response:
    values = _location_values(form)
    try:
        data = LocationCreate.model_validate(values)
        created = attempt(
            db,
            lambda: locations_service.create_location(db, data, actor=staff.actor, now=clock.now()),
        )
    except ValidationError as exc:
        return _locations_page(
            request, db, values=values, errors=validation_errors(exc), status_code=422
        )
    except SchedulerError as exc:
        errors = service_errors(exc, default_field="name")
        return _locations_page(
            request, db, values=values, errors=errors, status_code=status_of(exc)
        )
    flash(request, db, f"Location “{created.name}” created. Add its chairs below.")
    return RedirectResponse(f"/admin/settings/locations/{created.id}", status_code=303)


def _location_page(
    request: Request,
    db: Session,
    location_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    chair_values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    location = locations_service.read_location(db, location_id)
    chairs, _ = locations_service.list_chairs(db, location_id, active=None, limit=ALL, offset=0)
    zones = time_zones()
    if all(value != location.timezone for value, _ in zones):
        # A zone the select does not offer (an alias such as "US/Mountain", or "UTC"):
        # offered too, so saving the other fields keeps it.
        zones = [(location.timezone, location.timezone), *zones]
    context = {
        "location": location,
        "values": values or location.model_dump(),
        "chairs": chairs,
        "chair_values": chair_values or {},
        "errors": errors or FormErrors(),
        "zones": zones,
    }
    return render(request, "settings_location.html", context, status_code=status_code)


@router.get("/locations/{location_id}")
def location_page(
    request: Request, location_id: IdPath, staff: AdminPage, db: ReadSessionDep
) -> Response:
    return _location_page(request, db, location_id)


@router.post("/locations/{location_id}")
def update_location(
    request: Request,
    location_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    values: dict[str, Any] = _location_values(form) | {"active": checked(form, "active")}
    try:
        data = LocationUpdate.model_validate(values)
        updated = attempt(
            db,
            lambda: locations_service.update_location(
                db, location_id, data, actor=staff.actor, now=clock.now()
            ),
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
        return _location_page(
            request, db, location_id, values=values, errors=errors, status_code=422
        )
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = service_errors(exc, default_field="name")
        return _location_page(
            request,
            db,
            location_id,
            values=values,
            errors=errors,
            status_code=status_of(exc),
        )
    flash(request, db, f"Location “{updated.name}” saved.")
    return RedirectResponse(f"/admin/settings/locations/{location_id}", status_code=303)


@router.post("/locations/{location_id}/chairs")
def add_chair(
    request: Request,
    location_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    name = text(form, "chair_name")
    try:
        data = ChairCreate.model_validate({"name": name, "position": text(form, "position") or 0})
        chair = attempt(
            db,
            lambda: locations_service.create_chair(
                db, location_id, data, actor=staff.actor, now=clock.now()
            ),
        )
    except ValidationError as exc:
        errors = FormErrors()
        for name_, message in validation_errors(exc):
            errors.add("chair_name" if name_ == "name" else name_, message)
        return _location_page(
            request,
            db,
            location_id,
            errors=errors,
            chair_values={"chair_name": name},
            status_code=422,
        )
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = service_errors(exc, default_field="chair_name")
        return _location_page(
            request,
            db,
            location_id,
            errors=errors,
            chair_values={"chair_name": name},
            status_code=status_of(exc),
        )
    flash(request, db, f"Chair “{chair.name}” added.")
    return RedirectResponse(f"/admin/settings/locations/{location_id}#chairs", status_code=303)


@router.post("/locations/{location_id}/chairs/{chair_id}")
def update_chair(
    request: Request,
    location_id: IdPath,
    chair_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    """Rename a chair (``name``), or take it out of use and back (``active`` = 0 or 1)."""
    key = f"chair-{chair_id}"
    changes: dict[str, Any] = {}
    if "name" in form:
        changes["name"] = text(form, "name")
    if "active" in form:
        changes["active"] = text(form, "active") == "1"
    try:
        data = ChairUpdate.model_validate(changes)
        chair = attempt(
            db,
            lambda: locations_service.update_chair(
                db, location_id, chair_id, data, actor=staff.actor, now=clock.now()
            ),
        )
    except ValidationError as exc:
        errors = FormErrors()
        for _, message in validation_errors(exc):
            errors.add(key, message)
        return _location_page(
            request,
            db,
            location_id,
            errors=errors,
            chair_values={key: changes.get("name", "")},
            status_code=422,
        )
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = service_errors(exc, default_field=key)
        return _location_page(
            request,
            db,
            location_id,
            errors=FormErrors({key: next(iter(errors))[1]}),
            chair_values={key: changes.get("name", "")},
            status_code=status_of(exc),
        )
    if "active" in changes:
        state = "back in use" if chair.active else "taken out of use"
        flash(request, db, f"Chair “{chair.name}” {state}.")
    else:
        flash(request, db, f"Chair renamed “{chair.name}”.")
    return RedirectResponse(f"/admin/settings/locations/{location_id}#chairs", status_code=303)
