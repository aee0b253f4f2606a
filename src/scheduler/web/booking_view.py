"""What the booking flow shows: the slot picker and the confirm step.

Thin over the services: slots and "why no slots" come from ``availability.service``, the
eligibility gates from ``bookings.placement``. Every time is the location's wall clock,
labelled with the zone. A booking's own page is ``booking_page_view``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.appointment_types import service as types_service
from scheduler.availability import service as availability_service
from scheduler.availability.engine import local_instant
from scheduler.bookings.lifecycle import patient_flags_of
from scheduler.bookings.placement import missing_prerequisites
from scheduler.errors import InvalidInput, NotFound
from scheduler.kit.zones import zone_label
from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    Location,
    Patient,
    Provider,
)
from scheduler.providers import service as providers_service
from scheduler.web import repository

# The longest date range the slot list shows at once (a month), and the days it explains.
MAX_RANGE_DAYS = 31
EXPLAIN_DAYS = 7
DEFAULT_RANGE_DAYS = 7

# The eligibility gates a type may require, in the words the front desk uses.
GATES = (
    ("consult_completed", "Screening consultation done"),
    ("consent_signed", "Treatment consent signed"),
    ("rems_enrolled", "Enrolled in the Spravato REMS program"),
)

# "Why no slots", for a receptionist: what stands in the way, and what they can do about it.
REASON_WORDS = {
    "off_grid": "No start times fall on this visit type's schedule grid.",
    "min_notice": "Too soon: this visit type must be booked further in advance.",
    "beyond_horizon": "Too far ahead: this visit type cannot be booked that far out yet.",
    "location_closed": "The clinic is closed then (outside opening hours or a closure).",
    "no_chair_free": "Every chair is taken for part of the visit (turnover included).",
    "no_provider": "No provider who does this visit type works then.",
    "outside_provider_hours": "Not working then.",
    "provider_at_capacity": "Already looking after as many patients as allowed.",
    "start_too_close": "Another patient starts too close to this time (starts are staggered).",
}


@dataclass(frozen=True)
class Choice:
    id: int
    name: str


@dataclass(frozen=True)
class Slot:
    start_at: datetime  # local
    end_at: datetime  # local
    chair: Choice | None
    provider: Choice

    @property
    def value(self) -> str:
        """The form value that picks this slot: start instant, chair and provider ids."""
        chair = self.chair.id if self.chair else ""
        return f"{self.start_at.isoformat()}|{chair}|{self.provider.id}"


@dataclass(frozen=True)
class SlotDay:
    day: date
    slots: list[Slot]


@dataclass(frozen=True)
class Gate:
    code: str
    label: str
    required: bool
    met: bool


@dataclass(frozen=True)
class DayReasons:
    day: date
    reasons: list[str]


@dataclass
class Search:
    """The choices of the slot picker, as parsed from the query string (ids and dates)."""

    patient_id: int | None = None
    type_id: int | None = None
    location_id: int | None = None
    provider_id: int | None = None  # None: any provider
    from_date: date | None = None
    to_date: date | None = None

    def query(self) -> dict[str, str]:
        values = {
            "patient_id": self.patient_id,
            "type_id": self.type_id,
            "location_id": self.location_id,
            "provider_id": self.provider_id,
            "from": self.from_date.isoformat() if self.from_date else None,
            "to": self.to_date.isoformat() if self.to_date else None,
        }
        return {k: str(v) for k, v in values.items() if v is not None}


@dataclass
class SlotPicker:
    location: Location
    locations: list[Location]
    types: list[Choice]
    providers: list[Choice]
    zone_label: str
    search: Search
    appointment_type: AppointmentType | None = None
    days: list[SlotDay] = field(default_factory=list)
    no_slots: list[DayReasons] = field(default_factory=list)
    searched: bool = False
    provider_dropped: bool = False  # the chosen provider does not do this type here


def local_today(location: Location, now: datetime) -> date:
    return now.astimezone(ZoneInfo(location.timezone)).date()


def _location(session: Session, location_id: int | None) -> tuple[Location, list[Location]]:
    locations = repository.location_choices(session)
    if location_id is None:
        if not locations:
            raise NotFound("There is no active location yet.")
        return locations[0], locations
    found = session.get(Location, location_id)
    if found is None:
        raise NotFound(f"Location {location_id} does not exist.")
    return found, locations


def gate_fails(gates: list[Gate]) -> bool:
    """Whether a required gate is not met (staff may then book with a reason)."""
    return any(g.required and not g.met for g in gates)


def gates_of(session: Session, patient_id: int, appointment_type: AppointmentType) -> list[Gate]:
    """The patient's eligibility for the type: every gate, required or not, met or not."""
    flags = patient_flags_of(session, patient_id)
    missing = set(missing_prerequisites(flags, appointment_type))
    required = set(appointment_type.prerequisites)
    return [
        Gate(code=code, label=label, required=code in required, met=code not in missing)
        for code, label in GATES
        if code in required or getattr(flags, code, False)
    ] or [Gate(code="", label="No eligibility requirements", required=False, met=True)]


def slot_picker(
    session: Session,
    search: Search,
    *,
    now: datetime,
    fixed_type: AppointmentType | None = None,
    ignore_booking: Booking | None = None,
) -> SlotPicker:
    """The picker's choices and, once a type is chosen, the free slots of the date range
    grouped by local day; for an empty list, the reasons per day (the first week)."""
    location, locations = _location(session, search.location_id)
    assert location.id is not None
    search.location_id = location.id
    today = local_today(location, now)
    search.from_date = search.from_date or today
    search.to_date = search.to_date or search.from_date + timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if search.to_date < search.from_date:
        raise InvalidInput("The last day must not be before the first day.", field="to")
    if (search.to_date - search.from_date).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"Show at most {MAX_RANGE_DAYS} days at a time.", field="to")
    types, _ = types_service.list_appointment_types(
        session, active=True, self_schedulable=None, limit=200, offset=0
    )
    type_choices = [Choice(t.id, t.name) for t in types]
    if fixed_type is not None:
        assert fixed_type.id is not None
        search.type_id = fixed_type.id
    picker = SlotPicker(
        location=location,
        locations=locations,
        types=type_choices,
        providers=[],
        zone_label=zone_label(location.timezone, now),
        search=search,
    )
    # The providers at the location; once a type is chosen, those who do it.
    providers, _ = providers_service.list_providers(
        session,
        location_id=location.id,
        appointment_type_id=search.type_id,
        active=True,
        limit=200,
        offset=0,
    )
    picker.providers = [Choice(p.id, p.display_name or p.name) for p in providers]
    if search.type_id is None:
        return picker
    appointment_type = session.get(AppointmentType, search.type_id)
    if appointment_type is None:
        raise InvalidInput("Choose the visit type from the list.", field="type_id")
    picker.appointment_type = appointment_type
    if search.provider_id is not None and search.provider_id not in {
        p.id for p in picker.providers
    }:
        picker.provider_dropped = True
        search.provider_id = None  # that provider does not do this type here: any
    tz = ZoneInfo(location.timezone)
    start_at = local_instant(search.from_date, time(0), tz)
    end_at = local_instant(search.to_date + timedelta(days=1), time(0), tz)
    found = availability_service.search_slots(
        session,
        location_id=location.id,
        appointment_type_id=search.type_id,
        provider_id=search.provider_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
    )
    by_day: dict[date, list[Slot]] = {}
    for item in found.items:
        start = item.start_at.astimezone(tz)
        if ignore_booking is not None and start == ignore_booking.start_at.astimezone(tz):
            same_chair = item.chair is None or item.chair.id == ignore_booking.chair_id
            if same_chair and item.provider.id == ignore_booking.provider_id:
                continue  # where the booking already is
        by_day.setdefault(start.date(), []).append(
            Slot(
                start_at=start,
                end_at=item.end_at.astimezone(tz),
                chair=Choice(item.chair.id, item.chair.name) if item.chair else None,
                provider=Choice(item.provider.id, item.provider.name),
            )
        )
    picker.days = [SlotDay(day, slots) for day, slots in sorted(by_day.items())]
    picker.searched = True
    if not picker.days:
        picker.no_slots = explain(session, search, location, now=now)
    return picker


def explain(
    session: Session, search: Search, location: Location, *, now: datetime
) -> list[DayReasons]:
    """Why there is no slot, per day of the range (its first week), in plain words: each
    reason once per day, the provider named when it is theirs."""
    assert search.type_id is not None
    assert search.from_date is not None
    assert search.to_date is not None
    assert location.id is not None
    days = []
    day = search.from_date
    last = min(search.to_date, search.from_date + timedelta(days=EXPLAIN_DAYS - 1))
    while day <= last:
        found = availability_service.explain_day(
            session,
            location_id=location.id,
            appointment_type_id=search.type_id,
            provider_id=search.provider_id,
            day=day,
            now=now,
        )
        reasons: dict[str, None] = {}
        for candidate in found.candidates:
            for reason in candidate.reasons:
                if reason.code == "off_grid":
                    continue
                words = REASON_WORDS.get(reason.code, reason.message)
                if reason.provider_id is not None:
                    who = reason.message.split(":", 1)[0]
                    words = f"{who}: {words[0].lower()}{words[1:]}"
                reasons.setdefault(words)
        if not found.candidates:
            reasons.setdefault(REASON_WORDS["location_closed"])
        days.append(DayReasons(day, list(reasons) or ["No start time is offered that day."]))
        day += timedelta(days=1)
    return days


def parse_slot(value: str) -> tuple[datetime, int | None, int]:
    """A slot button's value back into (start instant, chair id or None, provider id)."""
    try:
        start, chair, provider = value.split("|")
        start_at = datetime.fromisoformat(start)
        if start_at.tzinfo is None:
            raise ValueError(value)
        return start_at, int(chair) if chair else None, int(provider)
    except ValueError:
        raise InvalidInput("Pick a time from the list.", field="slot") from None


@dataclass(frozen=True)
class Confirmation:
    patient: Patient
    appointment_type: AppointmentType
    location: Location
    zone_label: str
    start_at: datetime  # local
    end_at: datetime  # local
    chair: Chair | None
    provider: Provider
    gates: list[Gate]

    @property
    def gate_fails(self) -> bool:
        return gate_fails(self.gates)


def confirmation(
    session: Session,
    *,
    patient_id: int,
    type_id: int,
    location_id: int,
    start_at: datetime,
    chair_id: int | None,
    provider_id: int,
) -> Confirmation:
    patient = session.get(Patient, patient_id)
    appointment_type = session.get(AppointmentType, type_id)
    location = session.get(Location, location_id)
    provider = session.get(Provider, provider_id)
    if patient is None or appointment_type is None or location is None or provider is None:
        raise NotFound("This booking choice is no longer available. Start again.")
    chair = session.get(Chair, chair_id) if chair_id is not None else None
    tz = ZoneInfo(location.timezone)
    local_start = start_at.astimezone(tz)
    minutes = sum(int(p["minutes"]) for p in types_service.phases_of(appointment_type))
    return Confirmation(
        patient=patient,
        appointment_type=appointment_type,
        location=location,
        zone_label=zone_label(location.timezone, start_at),
        start_at=local_start,
        end_at=(start_at + timedelta(minutes=minutes)).astimezone(tz),
        chair=chair,
        provider=provider,
        gates=gates_of(session, patient_id, appointment_type),
    )
