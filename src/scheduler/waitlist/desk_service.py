"""What the front desk's waitlist page (``/admin/waitlist``) shows and does, over the
waitlist service: the queue of one location (and type), with the offers in flight, in the
clinic's time; an add form that finds the patient with the patients' search; cancel.
No FastAPI, no SQL here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.appointment_types.schemas import AppointmentTypeRead
from scheduler.appointment_types.service import list_appointment_types
from scheduler.auth.actors import Actor
from scheduler.errors import InvalidInput, NotFound
from scheduler.kit.written_dates import parse_written_date
from scheduler.locations.schemas import LocationRead
from scheduler.locations.service import list_locations
from scheduler.models import Patient
from scheduler.patients.service import find_patients
from scheduler.providers.schemas import ProviderRead
from scheduler.providers.service import list_providers
from scheduler.waitlist import service
from scheduler.waitlist.form_values import chosen_id, daily_window
from scheduler.waitlist.schemas import WaitlistEntryCreate, WaitlistEntryRead

STATUS_LABELS = {
    "waiting": "Waiting",
    "offered": "Offer sent",
    "booked": "Booked",
    "expired": "Expired",
    "cancelled": "Cancelled",
}
SHOWN = 200
MATCHES = 8


@dataclass(frozen=True)
class DeskRow:
    entry: WaitlistEntryRead
    type_name: str
    provider_name: str
    status_label: str
    offer_start: datetime | None  # the offered time, in the clinic's zone
    offer_until: datetime | None


@dataclass
class DeskView:
    locations: list[LocationRead]
    location: LocationRead
    types: list[AppointmentTypeRead]
    type_id: int | None
    show: str  # "open" (waiting and offered) or "all"
    providers: list[ProviderRead]
    rows: list[DeskRow]
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    matches: list[Patient] = field(default_factory=list)
    added: WaitlistEntryRead | None = None


def desk_view(
    session: Session,
    *,
    location_id: int | None,
    type_id: int | None,
    show: str,
    now: datetime,
) -> DeskView:
    locations, _ = list_locations(session, active=True, limit=200, offset=0)
    locations.sort(key=lambda loc: loc.name)
    if location_id is None:
        if not locations:
            raise NotFound("There is no active location yet.")
        location = locations[0]
    else:
        chosen = [loc for loc in locations if loc.id == location_id]
        if not chosen:
            raise NotFound(f"Location {location_id} does not exist.")
        location = chosen[0]
    types, _ = list_appointment_types(
        session, active=True, self_schedulable=None, limit=200, offset=0
    )
    providers, _ = list_providers(
        session,
        location_id=location.id,
        appointment_type_id=None,
        active=True,
        limit=200,
        offset=0,
    )
    entries, _ = service.list_entries(
        session,
        location_id=location.id,
        appointment_type_id=type_id,
        statuses=service.OPEN_STATUSES if show != "all" else (),
        limit=SHOWN,
        offset=0,
    )
    type_names = {t.id: t.name for t in types}
    provider_names = {p.id: p.display_name or p.name for p in providers}
    tz = ZoneInfo(location.timezone)
    rows = [
        DeskRow(
            entry=e,
            type_name=type_names.get(e.appointment_type_id, f"Type {e.appointment_type_id}"),
            provider_name=(
                "Any provider"
                if e.provider_id is None
                else provider_names.get(e.provider_id, f"Provider {e.provider_id}")
            ),
            status_label=STATUS_LABELS.get(e.status, e.status),
            offer_start=e.offer.start_at.astimezone(tz) if e.offer else None,
            offer_until=e.offer.expires_at.astimezone(tz) if e.offer else None,
        )
        for e in entries
    ]
    return DeskView(
        locations=locations,
        location=location,
        types=types,
        type_id=type_id,
        show=show,
        providers=providers,
        rows=rows,
    )


def add_from_desk(
    session: Session, values: Mapping[str, str], *, actor: Actor, now: datetime
) -> DeskView:
    """Add an entry from the page's form; the page to show again: with ``added`` set, or
    with ``errors`` by field and the input kept (nothing written). The patient is found by
    the patients' search box (name, phone, date of birth); several matches are listed to
    pick one (``patient_id``)."""
    location_id = chosen_id(values, "location_id")
    view = desk_view(
        session, location_id=location_id, type_id=chosen_id(values, "type_id"), show="open", now=now
    )
    view.values = {k: v for k, v in values.items() if k != "csrftoken"}
    errors = view.errors
    today = now.astimezone(ZoneInfo(view.location.timezone)).date()
    patient_id = chosen_id(values, "patient_id")
    if patient_id is None:
        text = values.get("patient", "").strip()
        if not text:
            errors["patient"] = "Enter the patient's name, phone or date of birth."
        else:
            _, found, total = find_patients(session, text, viewer=actor, now=now, limit=MATCHES)
            if total == 1:
                assert found[0].id is not None
                patient_id = found[0].id
            elif total == 0:
                errors["patient"] = "No patient matches. Check the spelling or add them first."
            else:
                errors["patient"] = "Several patients match: choose one below."
                view.matches = found
    type_id = chosen_id(values, "appointment_type_id")
    if type_id is None:
        errors["appointment_type_id"] = "Choose the type of visit."
    earliest = parse_written_date(values.get("earliest_date", ""), today)
    latest = parse_written_date(values.get("latest_date", ""), today)
    if earliest is None:
        errors["earliest_date"] = "Enter the first day, for example 2026-03-03."
    if latest is None:
        errors["latest_date"] = "Enter the last day, for example 2026-03-20."
    if earliest and latest and latest < earliest:
        errors["latest_date"] = "The last day must not be before the first."
    from_time, until_time = daily_window(values, errors)
    if from_time and until_time and until_time <= from_time:
        errors["latest_time"] = "The end of the daily window must be after its start."
    if errors:
        return view
    assert patient_id is not None
    assert type_id is not None
    assert earliest is not None
    assert latest is not None
    assert from_time is not None
    assert until_time is not None
    try:
        view.added = service.add_entry(
            session,
            WaitlistEntryCreate(
                patient_id=patient_id,
                location_id=view.location.id,
                appointment_type_id=type_id,
                provider_id=chosen_id(values, "provider_id"),
                earliest_date=earliest,
                latest_date=latest,
                earliest_time=from_time,
                latest_time=until_time,
            ),
            actor=actor,
            now=now,
        )
    except InvalidInput as exc:
        errors[exc.field or ""] = exc.detail
        return view
    fresh = desk_view(
        session, location_id=view.location.id, type_id=view.type_id, show="open", now=now
    )
    fresh.added = view.added
    return fresh
