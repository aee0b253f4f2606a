"""What the series pages show, read through the services: the booking form's choices and its
parsed values, a placement as rows of local times, chairs and providers, a series with its
visits and progress, a patient's series. No SQL here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session

from scheduler.appointment_types import service as types_service
from scheduler.bookings.schemas import Override
from scheduler.errors import InvalidInput, SchedulerError
from scheduler.kit.zones import zone_label
from scheduler.models import Chair, Location, Patient, Provider
from scheduler.providers import service as providers_service
from scheduler.series import service as series_service
from scheduler.series import templates as templates_service
from scheduler.series.schemas import (
    Alternative,
    BoosterProposal,
    ExpectedVisit,
    PlannedVisitRead,
    SeriesRead,
    SeriesRequest,
    SeriesTemplateRead,
)
from scheduler.web import repository
from scheduler.web.booking_view import Gate, gate_fails, gates_of
from scheduler.web.today import STATUS_LABELS

ALL = 1000
# Why a request's limits exclude a start, and the alternatives, in the desk's words.
ALTERNATIVE_LABELS = {
    "later_first_day": "Start on {day} instead",
    "any_time_of_day": "Any time of day",
    "any_provider": "Any provider",
}
PREFERENCES = (
    ("same_time", "Same time of day"),
    ("same_chair", "Same chair"),
    ("same_provider", "Same provider"),
)


@dataclass
class SeriesForm:
    """The "book a series" choices as parsed from the query string (ids, dates, times)."""

    patient_id: int | None = None
    template_id: int | None = None
    location_id: int | None = None
    first_day: date | None = None
    provider_id: int | None = None
    earliest: time | None = None
    latest: time | None = None
    # "" the template's default, "yes" or "no"
    prefs: dict[str, str] = field(default_factory=dict)
    # Staff book although a prerequisite is missing (the reason is asked when booking).
    override: bool = False

    def query(self) -> dict[str, str]:
        values: dict[str, object | None] = {
            "patient_id": self.patient_id,
            "template_id": self.template_id,
            "location_id": self.location_id,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "provider_id": self.provider_id,
            "earliest": self.earliest.strftime("%H:%M") if self.earliest else None,
            "latest": self.latest.strftime("%H:%M") if self.latest else None,
            **{k: v or None for k, v in self.prefs.items()},
            "override": "1" if self.override else None,
        }
        return {k: str(v) for k, v in values.items() if v is not None}

    @property
    def complete(self) -> bool:
        return None not in (self.patient_id, self.template_id, self.location_id, self.first_day)

    def request(
        self,
        *,
        expected: Sequence[ExpectedVisit] | None = None,
        notes: str = "",
        override_reason: str = "a prerequisite is missing",
    ) -> SeriesRequest:
        def pref(name: str) -> bool | None:
            value = self.prefs.get(name, "")
            return None if value == "" else value == "yes"

        try:
            return SeriesRequest(
                patient_id=self.patient_id or 0,
                template_id=self.template_id or 0,
                location_id=self.location_id or 0,
                first_day=self.first_day or date.min,
                provider_id=self.provider_id,
                earliest_time=self.earliest,
                latest_time=self.latest,
                prefer_same_time=pref("same_time"),
                prefer_same_chair=pref("same_chair"),
                prefer_same_provider=pref("same_provider"),
                notes=notes,
                expected_visits=list(expected) if expected is not None else None,
                override=Override(reason=override_reason) if self.override else None,
            )
        except ValidationError as exc:
            raise InvalidInput(
                "The latest time must not be before the earliest.", field="latest"
            ) from exc


def _int(values: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > 2_147_483_647 or int(value) < 1:
        errors.setdefault(name, "Choose from the list.")
        return None
    return int(value)


def _time(values: Mapping[str, str], name: str, errors: dict[str, str]) -> time | None:
    value = values.get(name, "").strip()
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        errors.setdefault(name, "Write the time like 09:30.")
        return None


def parse_form(values: Mapping[str, str]) -> tuple[SeriesForm, dict[str, str]]:
    """The form's values, and an error by field for those that cannot be read."""
    errors: dict[str, str] = {}
    first_day = None
    raw_day = values.get("first_day", "").strip()
    if raw_day:
        try:
            first_day = date.fromisoformat(raw_day)
        except ValueError:
            errors["first_day"] = "Write the date like 2026-12-08."
    form = SeriesForm(
        patient_id=_int(values, "patient_id", errors),
        template_id=_int(values, "template_id", errors),
        location_id=_int(values, "location_id", errors),
        first_day=first_day,
        provider_id=_int(values, "provider_id", errors),
        earliest=_time(values, "earliest", errors),
        latest=_time(values, "latest", errors),
        prefs={
            name: values.get(name, "") if values.get(name, "") in ("yes", "no") else ""
            for name, _ in PREFERENCES
        },
        override=values.get("override", "") == "1",
    )
    return form, errors


@dataclass(frozen=True)
class TemplateChoice:
    id: int
    label: str


@dataclass(frozen=True)
class Choices:
    templates: list[TemplateChoice]
    locations: list[Location]
    providers: list[tuple[int, str]]
    patient: Patient | None

    @property
    def template_options(self) -> list[tuple[int, str]]:
        return [(t.id, t.label) for t in self.templates]

    @property
    def location_options(self) -> list[tuple[int, str]]:
        return [(loc.id or 0, loc.name) for loc in self.locations]


def choices(session: Session, patient_id: int | None) -> Choices:
    templates, _ = templates_service.list_templates(
        session, appointment_type_id=None, limit=ALL, offset=0
    )
    types, _ = types_service.list_appointment_types(
        session, active=True, self_schedulable=None, limit=ALL, offset=0
    )
    type_names = {t.id: t.name for t in types}
    providers, _ = providers_service.list_providers(
        session, location_id=None, appointment_type_id=None, active=True, limit=ALL, offset=0
    )
    return Choices(
        templates=[
            TemplateChoice(t.id, f"{t.name} ({type_names[t.appointment_type_id]})")
            for t in templates
            if t.active and t.appointment_type_id in type_names
        ],
        locations=repository.location_choices(session),
        providers=[(p.id, p.display_name or p.name) for p in providers],
        patient=session.get(Patient, patient_id) if patient_id else None,
    )


@dataclass(frozen=True)
class VisitRow:
    number: int
    start_local: datetime
    end_local: datetime
    chair_name: str | None
    provider_name: str
    slot: str  # the booking flow's slot value: "start|chair|provider"
    status_label: str = ""
    status: str = ""
    booking_id: int | None = None
    version: int | None = None


class Names:
    """Chair and provider names, each looked up once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._chairs: dict[int, str] = {}
        self._providers: dict[int, str] = {}

    def chair(self, chair_id: int | None) -> str | None:
        if chair_id is None:
            return None
        if chair_id not in self._chairs:
            found = self._session.get(Chair, chair_id)
            self._chairs[chair_id] = found.name if found else f"Chair {chair_id}"
        return self._chairs[chair_id]

    def provider(self, provider_id: int) -> str:
        if provider_id not in self._providers:
            found = self._session.get(Provider, provider_id)
            name = (found.display_name or found.name) if found else f"Provider {provider_id}"
            self._providers[provider_id] = name
        return self._providers[provider_id]


def slot_value(start_at: datetime, chair_id: int | None, provider_id: int) -> str:
    return f"{start_at.isoformat()}|{chair_id or ''}|{provider_id}"


def planned_rows(visits: Sequence[PlannedVisitRead], names: Names, tz: ZoneInfo) -> list[VisitRow]:
    return [
        VisitRow(
            number=v.number,
            start_local=v.start_at.astimezone(tz),
            end_local=v.end_at.astimezone(tz),
            chair_name=names.chair(v.chair_id),
            provider_name=names.provider(v.provider_id),
            slot=slot_value(v.start_at, v.chair_id, v.provider_id),
        )
        for v in visits
    ]


def parse_plan(values: Sequence[str]) -> list[ExpectedVisit]:
    """The previewed plan sent back by the confirm form (one slot value per visit)."""
    out = []
    for value in values:
        try:
            start, chair, provider = value.split("|")
            out.append(
                ExpectedVisit(
                    start_at=datetime.fromisoformat(start),
                    chair_id=int(chair) if chair else None,
                    provider_id=int(provider),
                )
            )
        except (ValueError, ValidationError):
            raise InvalidInput("The placement shown was incomplete.", field="plan") from None
    return out


@dataclass(frozen=True)
class AlternativeView:
    label: str
    query: dict[str, str]
    rows: list[VisitRow]


def alternatives(
    found: Sequence[Alternative], form: SeriesForm, names: Names, tz: ZoneInfo
) -> list[AlternativeView]:
    """Each alternative as a link to the form with that change made."""
    out = []
    for alt in found:
        query = form.query()
        if alt.kind == "later_first_day":
            query["first_day"] = alt.first_day.isoformat()
        elif alt.kind == "any_time_of_day":
            query.pop("earliest", None)
            query.pop("latest", None)
        else:
            query.pop("provider_id", None)
        label = ALTERNATIVE_LABELS[alt.kind].format(day=f"{alt.first_day:%a %-d %b}")
        out.append(AlternativeView(label, query, planned_rows(alt.visits, names, tz)))
    return out


# ---- a series and a patient's series ---------------------------------------------------


@dataclass(frozen=True)
class SeriesPage:
    series: SeriesRead
    patient: Patient
    location: Location | None
    template: SeriesTemplateRead | None
    zone: str
    tz: ZoneInfo
    rows: list[VisitRow]
    boosters: BoosterProposal | None
    booster_rows: list[VisitRow]
    booster_note: str | None
    # The patient's eligibility for a booster (shown with the override when one fails).
    booster_gates: list[Gate] = field(default_factory=list)

    @property
    def booster_gate_fails(self) -> bool:
        return gate_fails(self.booster_gates)

    @property
    def done(self) -> int:
        return self.series.progress.fulfilled

    def movable(self, row: VisitRow, now: datetime) -> bool:
        return (
            self.series.status != "cancelled"
            and row.status in ("pending", "booked")
            and row.start_local > now
        )

    @property
    def can_cancel(self) -> bool:
        return self.series.status != "cancelled" and self.series.progress.upcoming > 0


def series_page(session: Session, series_id: int, *, now: datetime) -> SeriesPage:
    series = series_service.get_series(session, series_id, now=now)
    patient = session.get(Patient, series.patient_id)
    assert patient is not None
    location = session.get(Location, series.location_id) if series.location_id else None
    zone = location.timezone if location else "UTC"
    tz = ZoneInfo(zone)
    template = (
        templates_service.read_template(session, series.template_id) if series.template_id else None
    )
    names = Names(session)
    rows = [
        VisitRow(
            number=i,
            start_local=b.start_at.astimezone(tz),
            end_local=b.end_at.astimezone(tz),
            chair_name=names.chair(b.chair_id),
            provider_name=names.provider(b.provider_id),
            slot=slot_value(b.start_at, b.chair_id, b.provider_id),
            status=b.status.value,
            status_label=STATUS_LABELS.get(b.status.value, b.status.value),
            booking_id=b.id,
            version=b.version,
        )
        for i, b in enumerate(series.visits, start=1)
    ]
    boosters, note = None, None
    if template is not None and template.booster_interval_days is not None:
        try:
            boosters = series_service.propose_boosters(session, series_id, now=now)
        except SchedulerError as exc:
            note = (
                f"Boosters every {template.booster_interval_days} days are proposed here "
                "once every visit of the series is done."
                if exc.code == "series_incomplete"
                else exc.detail
            )
    booster_rows = planned_rows(boosters.proposals, names, tz) if boosters else []
    gates = booster_gates(session, series.patient_id, template) if boosters else []
    return SeriesPage(
        series=series,
        patient=patient,
        location=location,
        template=template,
        zone=zone_label(zone, now),
        tz=tz,
        rows=rows,
        boosters=boosters,
        booster_rows=booster_rows,
        booster_note=note,
        booster_gates=gates,
    )


def booster_gates(
    session: Session, patient_id: int, template: SeriesTemplateRead | None
) -> list[Gate]:
    """The patient's eligibility for the series' type, as the booking confirm step shows it
    (``booking_view.gates_of``); a booster is booked with the same gates and override."""
    if template is None:
        return []
    kind = types_service.get_appointment_type(session, template.appointment_type_id)
    return gates_of(session, patient_id, kind)


def booster_gate_fails(session: Session, series_id: int, *, now: datetime) -> bool:
    """Whether booking a booster in the series needs the staff override (its reason)."""
    series = series_service.get_series(session, series_id, now=now)
    template = (
        templates_service.read_template(session, series.template_id) if series.template_id else None
    )
    return gate_fails(booster_gates(session, series.patient_id, template))


@dataclass(frozen=True)
class SeriesSummary:
    id: int
    label: str
    status: str
    done: int
    total: int
    upcoming: int
    next_local: datetime | None


def patient_series(session: Session, patient_id: int, *, now: datetime) -> list[SeriesSummary]:
    """A patient's series, newest first, with progress ("3 of 6 done") and the next visit."""
    found, _ = series_service.list_series(
        session, patient_id=patient_id, now=now, limit=50, offset=0
    )
    zones: dict[int, str] = {}
    out = []
    for s in found:
        zone = "UTC"
        if s.location_id is not None:
            if s.location_id not in zones:
                location = session.get(Location, s.location_id)
                zones[s.location_id] = location.timezone if location else "UTC"
            zone = zones[s.location_id]
        coming = [
            v.start_at
            for v in s.visits
            if v.status.value in ("pending", "booked") and v.start_at > now
        ]
        out.append(
            SeriesSummary(
                id=s.id,
                label=s.label,
                status=s.status,
                done=s.progress.fulfilled,
                total=s.progress.total,
                upcoming=s.progress.upcoming,
                next_local=min(coming).astimezone(ZoneInfo(zone)) if coming else None,
            )
        )
    return out
