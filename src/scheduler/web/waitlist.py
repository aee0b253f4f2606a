"""The front desk's waitlist (``/admin/waitlist``): a location's queue (one type or all),
with the offers the worker has in flight, an add form and a cancel button per entry.

Times are the clinic's wall clock. Parse, call one service (``waitlist/desk_service.py``
and ``waitlist/service.py``), render; the add form shows its errors next to the fields with
the input kept.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from scheduler.deps import ClockDep
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.waitlist import desk_service, service
from scheduler.waitlist.desk_service import DeskView
from scheduler.waitlist.form_values import id_of
from scheduler.web.board import LocationParam, parse_location
from scheduler.web.deps import DeskPage, Staff
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=CommitRoute)
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]
FormText = Annotated[str, Form(max_length=200)]
FIELDS = (
    "location_id",
    "type_id",
    "patient",
    "patient_id",
    "appointment_type_id",
    "provider_id",
    "earliest_date",
    "latest_date",
    "earliest_time",
    "latest_time",
)


def _page(request: Request, view: DeskView, staff: Staff, *, status_code: int = 200) -> Response:
    errors = FormErrors()
    for name, message in view.errors.items():
        errors.add(name, message)
    return render(
        request,
        "waitlist.html",
        {"view": view, "staff": staff, "errors": errors, "values": view.values},
        status_code=status_code,
    )


def _back(location_id: int, type_id: int | None) -> str:
    query = {"location": location_id, **({"type": type_id} if type_id else {})}
    return f"/admin/waitlist?{urlencode(query)}"


@router.get("/waitlist")
def waitlist_page(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    location: LocationParam = None,
    type_id: Annotated[str | None, Query(alias="type", max_length=20)] = None,
    show: Annotated[str, Query(max_length=10)] = "open",
) -> Response:
    view = desk_service.desk_view(
        db,
        location_id=parse_location(location),
        type_id=id_of(type_id),
        show="all" if show == "all" else "open",
        now=clock.now(),
    )
    return _page(request, view, staff)


@router.post("/waitlist")
def add_to_waitlist(
    request: Request,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    location_id: FormText = "",
    type_id: FormText = "",
    patient: FormText = "",
    patient_id: FormText = "",
    appointment_type_id: FormText = "",
    provider_id: FormText = "",
    earliest_date: FormText = "",
    latest_date: FormText = "",
    earliest_time: FormText = "",
    latest_time: FormText = "",
) -> Response:
    values = dict(
        zip(
            FIELDS,
            (
                location_id,
                type_id,
                patient,
                patient_id,
                appointment_type_id,
                provider_id,
                earliest_date,
                latest_date,
                earliest_time,
                latest_time,
            ),
            strict=True,
        )
    )
    view = desk_service.add_from_desk(db, values, actor=staff.actor, now=clock.now())
    if view.added is None:
        return _page(request, view, staff, status_code=422)
    assert view.location.id is not None
    flash(request, db, f"{view.added.patient_name} is on the waitlist.")
    return RedirectResponse(_back(view.location.id, view.type_id), status_code=303)


@router.post("/waitlist/{entry_id}/cancel")
def cancel_waitlist_entry(
    request: Request,
    entry_id: PathId,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    type_id: FormText = "",
) -> Response:
    entry = service.cancel_entry(db, entry_id, actor=staff.actor, now=clock.now())
    flash(request, db, f"{entry.patient_name} is off the waitlist.")
    kind = id_of(type_id)
    return RedirectResponse(_back(entry.location_id, kind), status_code=303)
