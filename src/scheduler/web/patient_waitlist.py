"""Signed-in patients on the waitlist (``/me/waitlist``): "tell me if an earlier time frees
up" for a type they may book, from "my visits" or the ``/book`` time picker; removing an
entry from "my visits". Without a patient session, the sign-in page (``/me``).

    GET /me/waitlist[?location=&type=] -> POST /me/waitlist -> /me/visits
    POST /me/waitlist/{entry_id}/remove -> /me/visits

Parse, call one service (``waitlist/patient_service.py``), render; errors next to the fields
with the input kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.waitlist import patient_service
from scheduler.waitlist.form_values import id_of
from scheduler.waitlist.patient_service import JoinForm
from scheduler.web.patient_base import page, read_limit, redirect, signed_in, write_limit
from scheduler.web.templating import FormErrors

router = APIRouter(include_in_schema=False, route_class=CommitRoute, dependencies=[read_limit])
FormText = Annotated[str, Form(max_length=40)]
IdParam = Annotated[str | None, Query(max_length=12)]


def _page(request: Request, form: JoinForm, *, status_code: int = 200) -> Response:
    errors = FormErrors()
    for name, message in form.errors.items():
        errors.add(name, message)
    context = {"form": form, "values": form.values, "errors": errors, "noindex": True}
    return page(request, "me_waitlist.html", context, status_code=status_code)


@router.get("/me/waitlist")
def me_waitlist(
    request: Request,
    db: ReadSessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    location: IdParam = None,
    kind: Annotated[str | None, Query(alias="type", max_length=12)] = None,
) -> Response:
    now = clock.now()
    patient = signed_in(request, db, now)
    if patient is None:
        return redirect("/me")
    form = patient_service.join_form(
        db, patient, location_id=id_of(location), type_id=id_of(kind), now=now, settings=settings
    )
    return _page(request, form)


@router.post("/me/waitlist", dependencies=[write_limit])
def me_waitlist_join(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    location_id: FormText = "",
    appointment_type_id: FormText = "",
    provider_id: FormText = "",
    earliest_date: FormText = "",
    latest_date: FormText = "",
    earliest_time: FormText = "",
    latest_time: FormText = "",
) -> Response:
    now = clock.now()
    patient = signed_in(request, db, now)
    if patient is None:
        return redirect("/me")
    values = {
        "location_id": location_id,
        "appointment_type_id": appointment_type_id,
        "provider_id": provider_id,
        "earliest_date": earliest_date,
        "latest_date": latest_date,
        "earliest_time": earliest_time,
        "latest_time": latest_time,
    }
    form = patient_service.join(
        db, patient, values, request_id=request_id, now=now, settings=settings
    )
    if form.added is None:
        return _page(request, form, status_code=422)
    return redirect("/me/visits#waitlist")


@router.post("/me/waitlist/{entry_id}/remove", dependencies=[write_limit])
def me_waitlist_remove(
    request: Request,
    db: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
    entry_id: Annotated[int, Path(ge=1, lt=2**31)],
) -> Response:
    now = clock.now()
    patient = signed_in(request, db, now)
    if patient is None:
        return redirect("/me")
    patient_service.remove(db, patient, entry_id, request_id=request_id, now=now)
    return redirect("/me/visits#waitlist")
