"""Patients put themselves on the waitlist (``/me/waitlist``), signed in through their
verified link: for a type they may book online at a location, a window of dates and, on each
day, of times, and a provider only where the clinic shows providers to patients.

The entry is made by ``service.add_entry`` (the desk's validation and audit), on the
signed-in patient's own record, the patient as the actor. A patient sees and removes only
the entries of their own records; any other id is the usual 404, so nothing is learnt about
other records. No FastAPI, no SQL here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.config import Settings
from scheduler.errors import InvalidInput, NotFound
from scheduler.kit.written_dates import parse_written_date
from scheduler.models import AppointmentType, Location, Patient, Provider
from scheduler.patient_access import service as patient_access
from scheduler.public import service as public
from scheduler.public.schemas import PublicAppointmentType, PublicLocation
from scheduler.waitlist import repository, service
from scheduler.waitlist.form_values import chosen_id, daily_window
from scheduler.waitlist.schemas import WaitlistEntryCreate, WaitlistEntryRead

MAX_OPEN_ENTRIES = 5  # a patient's waiting entries at once
SHOWN = 20
FIELD_OF = {  # the service's field names -> the form's
    "patient_id": "appointment_type_id",
    "location_id": "appointment_type_id",
}


def patient_actor(patient: Patient, request_id: str) -> Actor:
    return Actor(kind="patient", label=f"patient:{patient.id}", request_id=request_id)


@dataclass
class JoinForm:
    """The "tell me if an earlier time frees up" form of one location."""

    locations: list[PublicLocation]
    location: PublicLocation
    types: list[PublicAppointmentType]  # the ones this patient may book online here
    providers: list[tuple[int, str]]  # empty: the clinic does not show providers
    today: date
    last_day: date
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    added: WaitlistEntryRead | None = None


def join_form(
    session: Session,
    patient: Patient,
    *,
    location_id: int | None,
    type_id: int | None,
    now: datetime,
    settings: Settings,
) -> JoinForm:
    """The empty form (``type_id`` preselected when it is one the patient may book)."""
    locations = public.list_locations(session)
    if location_id is None:
        if not locations:
            raise NotFound(public.NOT_FOUND)
        location = locations[0]
    else:
        location = public.public_location(session, location_id)
    kinds = [k for k in public.list_types(session, location.id, patient) if k.bookable_online]
    providers: dict[int, str] = {}
    for kind in kinds:
        if type_id is None or kind.id == type_id:
            providers.update(public.provider_choices(session, location.id, kind.id, settings))
    today = now.astimezone(ZoneInfo(location.timezone)).date()
    chosen = type_id if any(k.id == type_id for k in kinds) else None
    return JoinForm(
        locations=locations,
        location=location,
        types=kinds,
        providers=sorted(providers.items(), key=lambda p: p[1]),
        today=today,
        last_day=today + timedelta(days=service.MAX_AHEAD_DAYS),
        values={
            "appointment_type_id": str(chosen or ""),
            "earliest_date": today.isoformat(),
            "latest_date": (today + timedelta(days=14)).isoformat(),
        },
    )


def _check(form: JoinForm, values: Mapping[str, str]) -> WaitlistEntryCreate | None:
    errors = form.errors
    type_id = chosen_id(values, "appointment_type_id")
    if type_id is None or all(k.id != type_id for k in form.types):
        errors["appointment_type_id"] = "Choose the type of visit."
    earliest = parse_written_date(values.get("earliest_date", ""), form.today)
    latest = parse_written_date(values.get("latest_date", ""), form.today)
    if earliest is None:
        errors["earliest_date"] = "Enter the first day, like 2026-03-03."
    elif earliest < form.today:
        errors["earliest_date"] = "The first day cannot be in the past."
    if latest is None:
        errors["latest_date"] = "Enter the last day, like 2026-03-20."
    elif earliest is not None and latest < earliest:
        errors["latest_date"] = "The last day must not be before the first."
    elif latest > form.last_day:
        errors["latest_date"] = f"The last day can be at most {form.last_day:%-d %B %Y}."
    from_time, until_time = daily_window(values, errors)
    if from_time is not None and until_time is not None and until_time <= from_time:
        errors["latest_time"] = "The latest time must be after the earliest."
    provider_id = chosen_id(values, "provider_id") if form.providers else None
    if values.get("provider_id", "").strip() and form.providers and provider_id is None:
        errors["provider_id"] = "Choose a provider, or anyone."
    if errors:
        return None
    assert type_id is not None
    assert earliest is not None
    assert latest is not None
    assert from_time is not None
    assert until_time is not None
    return WaitlistEntryCreate(
        patient_id=1,  # set by the caller
        location_id=form.location.id,
        appointment_type_id=type_id,
        provider_id=provider_id,
        earliest_date=earliest,
        latest_date=latest,
        earliest_time=from_time,
        latest_time=until_time,
    )


def join(
    session: Session,
    patient: Patient,
    values: Mapping[str, str],
    *,
    request_id: str,
    now: datetime,
    settings: Settings,
) -> JoinForm:
    """Put the signed-in patient on the waitlist from the form; the form to show again:
    with ``added`` set, or with ``errors`` by field and the input kept (nothing written)."""
    assert patient.id is not None
    form = join_form(
        session,
        patient,
        location_id=chosen_id(values, "location_id"),
        type_id=None,
        now=now,
        settings=settings,
    )
    form.values = {k: v for k, v in values.items() if k != "csrftoken"}
    data = _check(form, values)
    if data is None:
        return form
    if data.provider_id is not None and data.provider_id not in dict(
        public.provider_choices(session, data.location_id, data.appointment_type_id, settings)
    ):
        form.errors["provider_id"] = "This provider does not do this visit: choose anyone."
        return form
    waiting = repository.entries_of_patients(
        session, [patient.id], service.OPEN_STATUSES, limit=MAX_OPEN_ENTRIES
    )
    if any(
        e.location_id == data.location_id
        and e.appointment_type_id == data.appointment_type_id
        and e.earliest_date <= data.latest_date
        and data.earliest_date <= e.latest_date
        for e in waiting
    ):
        form.errors["earliest_date"] = (
            "You are already waiting for this visit on some of these days: "
            "remove that first on your visits page."
        )
        return form
    if len(waiting) >= MAX_OPEN_ENTRIES:
        form.errors["appointment_type_id"] = (
            f"You are already waiting for {MAX_OPEN_ENTRIES} visits: remove one first."
        )
        return form
    try:
        form.added = service.add_entry(
            session,
            data.model_copy(update={"patient_id": patient.id}),
            actor=patient_actor(patient, request_id),
            now=now,
        )
    except InvalidInput as exc:
        name = exc.field or ""
        form.errors[FIELD_OF.get(name, name)] = exc.detail
    return form


@dataclass(frozen=True)
class MyEntry:
    entry_id: int
    type_name: str
    location_name: str
    provider_name: str  # "" where any provider will do
    earliest_date: date
    latest_date: date
    earliest_time: time
    latest_time: time
    offered: bool  # a time is offered to them right now (by e-mail)


@dataclass(frozen=True)
class MyPage:
    visits: patient_access.MyVisits
    waiting: list[MyEntry]


def my_page(session: Session, patient: Patient, *, now: datetime, settings: Settings) -> MyPage:
    """ "My visits": the visits, and the entries the person is waiting with (the provider
    named only where the clinic shows providers to patients)."""
    visits = patient_access.my_visits(session, patient, now=now)
    entries = repository.entries_of_patients(
        session, patient_access.record_ids(session, patient), service.OPEN_STATUSES, limit=SHOWN
    )
    waiting = []
    for entry in entries:
        assert entry.id is not None
        kind = session.get(AppointmentType, entry.appointment_type_id)
        location = session.get(Location, entry.location_id)
        provider = (
            session.get(Provider, entry.provider_id)
            if entry.provider_id and settings.show_provider_to_patients
            else None
        )
        waiting.append(
            MyEntry(
                entry_id=entry.id,
                type_name=kind.name if kind else "",
                location_name=location.name if location else "",
                provider_name=(provider.display_name or provider.name) if provider else "",
                earliest_date=entry.earliest_date,
                latest_date=entry.latest_date,
                earliest_time=entry.earliest_time,
                latest_time=entry.latest_time,
                offered=entry.status == "offered",
            )
        )
    return MyPage(visits, waiting)


def remove(
    session: Session, patient: Patient, entry_id: int, *, request_id: str, now: datetime
) -> None:
    """Take one of the person's entries off the list (an offer in flight is withdrawn);
    anyone else's, or an unknown id, is the usual 404."""
    entry = repository.get_entry(session, entry_id)
    if entry is None or entry.patient_id not in patient_access.record_ids(session, patient):
        raise NotFound(public.NOT_FOUND)
    if entry.status in service.OPEN_STATUSES:
        service.cancel_entry(
            session,
            entry_id,
            actor=patient_actor(patient, request_id),
            now=now,
            reason="removed by the patient",
        )
