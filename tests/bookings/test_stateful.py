"""A random front desk against the booking API, with the scheduling invariants checked in SQL.

Hypothesis drives holds, bookings (from a hold, directly, with a staff override outside hours),
cancellations, reschedules, hold releases and the passing of time through the real HTTP API.
After every step plain SQL over *everything* in the database checks DESIGN.md section 3
(numbered as there):

1. a chair never has two overlapping active bookings or live holds (turnover included);
2. a provider never carries more units than ``max_concurrent_patients`` (exclusive = all,
   hands_on/monitor = 1, none = 0), never two hands_on phases at once, and starts respect
   ``min_minutes_between_starts``;
3. a patient never has two overlapping active bookings;
5. a rescheduled booking is cancelled and has exactly one replacement (and right after each
   reschedule exactly one of the pair is active);
7. every booking has an audit event of its own.

No response is ever a 500, and every answer is one the rules allow: the machine keeps a small
model of each booking's status and each hold's state, and asks the slot search before each
hold or direct booking (an offered start must be grantable, one not offered must be refused).

All examples of one run share the test's database transaction (the ``db``/``client``
fixtures). The clinic is built once; each example then runs inside its own SAVEPOINT, rolled
back by ``teardown``, with the clock reset to Monday 09:00, so examples are independent and a
failure replays and shrinks to a short list of steps.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import hypothesis
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, select
from sqlmodel import Session, col

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, Booking, Hold, Provider, User
from tests.factories import (
    auth_headers,
    make_appointment_type,
    make_chair,
    make_location,
    make_patient,
    make_provider,
    make_user,
)

ZONE = ZoneInfo("America/New_York")
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 New York, every example
ACTIVE = frozenset({"pending", "booked", "arrived", "checked-in", "fulfilled"})
MOVABLE = frozenset({"pending", "booked"})  # may be cancelled or rescheduled

# Starts on the 15-minute grid. Regular ones straddle the working day (08:00-17:00 and
# 10:00-16:00), so some fall outside it; override ones lie outside it entirely.
REGULAR_TIMES = [time(h, m) for h in range(7, 17) for m in (0, 15, 30, 45)]
OVERRIDE_TIMES = [time(h, m) for h in (6, 7, 17, 18, 19) for m in (0, 15, 30, 45)]
TYPES = ("infusion", "consult")
PATIENTS = 4  # the last one has no consultation or consent: infusions need an override

REFUSED_HOLD = frozenset({"slot_unavailable", "outside_availability", "patient_conflict"})
REFUSED_BOOKING = REFUSED_HOLD | {"prerequisite_missing"}
REFUSED_OVERRIDE = frozenset({"slot_unavailable", "patient_conflict"})  # physical limits only
REFUSED_RESCHEDULE = REFUSED_BOOKING

WEEKDAYS_8_TO_5 = tuple((d, time(8, 0), time(17, 0)) for d in range(5))
WEEKDAYS_10_TO_4 = tuple((d, time(10, 0), time(16, 0)) for d in range(5))


@dataclass
class Env:
    """What every example shares: the app, the test's connection and session, the clock, the
    front desk and the clinic (built once; each example's changes are rolled back)."""

    client: TestClient
    connection: Connection
    db: Session
    clock: FrozenClock
    settings: Settings
    desk: User
    location_id: int
    types: dict[str, int]  # "infusion"/"consult" -> appointment type id
    patient_ids: list[int]


def build_clinic(
    db: Session, client: TestClient, connection: Connection, clock: FrozenClock, settings: Settings
) -> Env:
    """Three chairs; a practitioner (3 patients, 10-16, infusions only, starts at least 30
    minutes apart) and a nurse (2 patients, 08-17, infusions and consultations)."""
    location = make_location(db, name="Stateful clinic")
    for i in range(3):
        make_chair(db, location, name=f"Chair {i}", position=i)
    infusion = make_appointment_type(
        db, code="stateful-infusion", prerequisites=["consult_completed", "consent_signed"]
    )
    consult = make_appointment_type(
        db,
        code="stateful-consult",
        name="Screening consultation",
        phases=[{"minutes": 60, "uses_chair": False, "provider_use": "exclusive"}],
        turnover_minutes=0,
        requires_approval=True,  # gives pending bookings too
    )
    # The practitioner is created first: the lower id is tried first for an infusion.
    make_provider(
        db,
        name="Practitioner",
        locations=(location,),
        types=(infusion,),
        max_concurrent_patients=3,
        min_minutes_between_starts=30,
        weekly=WEEKDAYS_10_TO_4,
    )
    make_provider(
        db,
        name="Nurse",
        locations=(location,),
        types=(infusion, consult),
        max_concurrent_patients=2,
        weekly=WEEKDAYS_8_TO_5,
    )
    patient_ids: list[int] = []
    for i in range(PATIENTS):
        ready = i < PATIENTS - 1
        patient = make_patient(
            db,
            first_name=f"Pat{i}",
            email=f"pat{i}@example.org",
            consult_completed=ready,
            consent_signed=ready,
        )
        assert patient.id is not None
        patient_ids.append(patient.id)
    assert location.id is not None
    assert infusion.id is not None
    assert consult.id is not None
    return Env(
        client=client,
        connection=connection,
        db=db,
        clock=clock,
        settings=settings,
        desk=make_user(db, role="front_desk", email="desk.stateful@clinic.example"),
        location_id=location.id,
        types={"infusion": infusion.id, "consult": consult.id},
        patient_ids=patient_ids,
    )


@dataclass
class HoldState:
    patient_index: int
    type_name: str
    expires_at: datetime
    consumed: bool = False
    released: bool = False

    def live(self, now: datetime) -> bool:
        return not self.consumed and not self.released and self.expires_at > now


def instant(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZONE)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


class BookingMachine(RuleBasedStateMachine):
    env: ClassVar[Env]

    holds = Bundle("holds")
    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        env = self.env
        env.db.commit()  # no session savepoint may straddle the example's own
        env.clock.set(START)
        self.savepoint = env.connection.begin_nested()
        self.location_id = env.location_id
        self.patient_ids = env.patient_ids
        self.days = [date(2026, 3, 3), date(2026, 3, 4)]  # Tuesday, Wednesday
        self.override_days = [*self.days, date(2026, 3, 7)]  # and a Saturday: closed
        self.hold_states: dict[int, HoldState] = {}
        self.statuses: dict[int, str] = {}  # booking id -> status the model expects

    def teardown(self) -> None:
        self.env.db.rollback()
        self.savepoint.rollback()

    # --- plumbing ------------------------------------------------------------------------

    def call(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        env = self.env
        headers = auth_headers(env.desk, env.settings, env.clock.now())
        response = env.client.request(
            method, f"/api/v1{url}", json=body, params=params, headers=headers
        )
        assert isinstance(response, Response)
        assert response.status_code < 500, f"{method} {url} {body}: {response.text}"
        return response

    def refused(self, response: Response, codes: Iterable[str]) -> None:
        allowed = frozenset(codes)
        assert response.status_code == 409, response.text
        assert response.json()["code"] in allowed, response.text

    def offered(self, type_name: str, start_at: datetime) -> bool:
        """Whether the slot search offers exactly this start (any chair, any provider)."""
        window = {
            "appointment_type": self.env.types[type_name],
            "location": self.location_id,
            "start": start_at.isoformat(),
            "end": (start_at + timedelta(minutes=1)).isoformat(),
        }
        response = self.call("GET", "/slots", params=window)
        assert response.status_code == 200, response.text
        return any(parse(s["start_at"]) == start_at for s in response.json()["items"])

    def lacks_prerequisites(self, type_name: str, patient: int) -> bool:
        return type_name == "infusion" and patient == PATIENTS - 1

    def booked(self, response: Response) -> int:
        body = response.json()
        booking_id: int = body["id"]
        self.statuses[booking_id] = body["status"]
        return booking_id

    # --- rules ---------------------------------------------------------------------------

    @rule(
        target=holds,
        day=st.integers(0, 1),
        at=st.sampled_from(REGULAR_TIMES),
        type_name=st.sampled_from(TYPES),
        patient=st.integers(0, PATIENTS - 1),
    )
    def hold(self, day: int, at: time, type_name: str, patient: int) -> Any:
        start_at = instant(self.days[day], at)
        offered = self.offered(type_name, start_at)
        response = self.call(
            "POST",
            "/holds",
            {
                "appointment_type_id": self.env.types[type_name],
                "location_id": self.location_id,
                "start_at": start_at.isoformat(),
                "patient_id": self.patient_ids[patient],
            },
        )
        if response.status_code != 201:
            # Not offered, or the patient is busy then; an offered slot is never slot_unavailable.
            self.refused(response, REFUSED_HOLD if not offered else {"patient_conflict"})
            return multiple()
        assert offered, f"hold at {start_at} granted but the slot search did not offer it"
        body = response.json()
        assert parse(body["start_at"]) == start_at
        self.hold_states[body["id"]] = HoldState(patient, type_name, parse(body["expires_at"]))
        return body["id"]

    @rule(target=bookings, hold_id=holds)
    def book_from_hold(self, hold_id: int) -> Any:
        state = self.hold_states[hold_id]
        live = state.live(self.env.clock.now())
        response = self.call(
            "POST",
            "/bookings",
            {"patient_id": self.patient_ids[state.patient_index], "hold_id": hold_id},
        )
        if not live:
            self.refused(response, {"hold_expired"})
            return multiple()
        if self.lacks_prerequisites(state.type_name, state.patient_index):
            self.refused(response, {"prerequisite_missing"})
            return multiple()
        # A live hold is a promise: its own patient can always book it.
        assert response.status_code == 201, response.text
        hold = self.call("GET", f"/holds/{hold_id}").json()
        booking = response.json()
        for key in ("start_at", "end_at", "chair_id", "provider_id"):
            assert booking[key] == hold[key], key
        state.consumed = True
        return self.booked(response)

    @rule(
        target=bookings,
        day=st.integers(0, 1),
        at=st.sampled_from(REGULAR_TIMES),
        type_name=st.sampled_from(TYPES),
        patient=st.integers(0, PATIENTS - 1),
    )
    def book_directly(self, day: int, at: time, type_name: str, patient: int) -> Any:
        start_at = instant(self.days[day], at)
        offered = self.offered(type_name, start_at)
        response = self.call(
            "POST",
            "/bookings",
            {
                "patient_id": self.patient_ids[patient],
                "appointment_type_id": self.env.types[type_name],
                "location_id": self.location_id,
                "start_at": start_at.isoformat(),
            },
        )
        if response.status_code != 201:
            personal = {"patient_conflict", "prerequisite_missing"}
            self.refused(response, REFUSED_BOOKING if not offered else personal)
            return multiple()
        assert offered, f"booking at {start_at} made but the slot search did not offer it"
        assert not self.lacks_prerequisites(type_name, patient)
        return self.booked(response)

    @rule(
        target=bookings,
        day=st.integers(0, 2),
        at=st.sampled_from(OVERRIDE_TIMES),
        type_name=st.sampled_from(TYPES),
        patient=st.integers(0, PATIENTS - 1),
    )
    def override_book(self, day: int, at: time, type_name: str, patient: int) -> Any:
        start_at = instant(self.override_days[day], at)
        reason = "only time the patient's driver is free"
        response = self.call(
            "POST",
            "/bookings",
            {
                "patient_id": self.patient_ids[patient],
                "appointment_type_id": self.env.types[type_name],
                "location_id": self.location_id,
                "start_at": start_at.isoformat(),
                "override": {"reason": reason},
            },
        )
        if response.status_code != 201:
            self.refused(response, REFUSED_OVERRIDE)
            return multiple()
        body = response.json()
        assert reason in body["override_reason"], body
        return self.booked(response)

    @rule(booking_id=bookings)
    def cancel(self, booking_id: int) -> None:
        status = self.statuses[booking_id]
        response = self.call(
            "POST", f"/bookings/{booking_id}/cancel", {"reason": "patient has no driver"}
        )
        if status not in MOVABLE:
            self.refused(response, {"invalid_transition"})
            return
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        self.statuses[booking_id] = "cancelled"

    @rule(
        target=bookings,
        booking_id=bookings,
        day=st.integers(0, 1),
        at=st.sampled_from(REGULAR_TIMES),
        override=st.booleans(),
    )
    def reschedule(self, booking_id: int, day: int, at: time, override: bool) -> Any:
        status = self.statuses[booking_id]
        before = self.call("GET", f"/bookings/{booking_id}").json()
        body: dict[str, Any] = {"start_at": instant(self.days[day], at).isoformat()}
        if override:
            body["override"] = {"reason": "clinic moved the visit"}
        response = self.call("POST", f"/bookings/{booking_id}/reschedule", body)
        after = self.call("GET", f"/bookings/{booking_id}").json()
        replacements = self.env.connection.execute(
            select(col(Booking.id), col(Booking.status)).where(
                col(Booking.rescheduled_from_id) == booking_id
            )
        ).all()
        if response.status_code != 201:
            refusals = REFUSED_RESCHEDULE if status in MOVABLE else {"invalid_transition"}
            self.refused(response, refusals - ({"outside_availability"} if override else set()))
            # Refused: the booking is untouched and no replacement appeared.
            assert (after["status"], after["version"]) == (status, before["version"])
            assert status not in MOVABLE or replacements == []
            return multiple()
        assert status in MOVABLE, f"a {status} booking was rescheduled"
        new = response.json()
        # Exactly one of the pair is active: the replacement, in the original's place.
        assert after["status"] == "cancelled"
        assert [tuple(r) for r in replacements] == [(new["id"], status)]
        assert (new["ical_uid"], new["patient_id"]) == (before["ical_uid"], before["patient_id"])
        self.statuses[booking_id] = "cancelled"
        return self.booked(response)

    @rule(minutes=st.integers(5, 15))
    def time_passes(self, minutes: int) -> None:
        self.env.clock.advance(timedelta(minutes=minutes))

    @rule(hold_id=holds)
    def release_hold(self, hold_id: int) -> None:
        state = self.hold_states[hold_id]
        response = self.call("DELETE", f"/holds/{hold_id}")
        if state.consumed:
            self.refused(response, {"hold_consumed"})
            return
        assert response.status_code == 204, response.text
        state.released = True

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def scheduling_invariants_hold(self) -> None:
        snapshot = Snapshot.load(self.env.connection, self.env.clock.now())
        check_chairs(snapshot)
        check_providers(snapshot)
        check_patients(snapshot)
        check_audit_and_reschedules(snapshot)


@dataclass
class Snapshot:
    """Fresh rows straight from SQL (no ORM identity map): what the database holds now."""

    bookings: list[Any]
    live_holds: list[Any]
    providers: dict[int, tuple[int, int]]  # id -> (max_concurrent_patients, min gap)
    audited: set[int | None]

    @property
    def active(self) -> list[Any]:
        return [b for b in self.bookings if b.status in ACTIVE]

    @classmethod
    def load(cls, conn: Connection, now: datetime) -> Snapshot:
        booking_columns = (
            Booking.id,
            Booking.status,
            Booking.chair_id,
            Booking.chair_start_at,
            Booking.chair_end_at,
            Booking.provider_id,
            Booking.patient_id,
            Booking.start_at,
            Booking.end_at,
            Booking.phases,
            Booking.rescheduled_from_id,
        )
        hold_columns = (
            Hold.id,
            Hold.chair_id,
            Hold.chair_start_at,
            Hold.chair_end_at,
            Hold.provider_id,
            Hold.start_at,
            Hold.phases,
        )
        bookings = conn.execute(select(*map(col, booking_columns))).all()
        live_holds = conn.execute(
            select(*map(col, hold_columns)).where(
                col(Hold.released_at).is_(None),
                col(Hold.consumed_at).is_(None),
                col(Hold.expires_at) > now,
            )
        ).all()
        providers = {
            r.id: (r.max_concurrent_patients, r.min_minutes_between_starts)
            for r in conn.execute(
                select(
                    col(Provider.id),
                    col(Provider.max_concurrent_patients),
                    col(Provider.min_minutes_between_starts),
                )
            )
        }
        audited = set(
            conn.execute(
                select(col(AuditEvent.entity_id)).where(col(AuditEvent.entity_type) == "booking")
            ).scalars()
        )
        return cls(list(bookings), list(live_holds), providers, audited)


def first_overlap(
    spans: Iterable[tuple[datetime, datetime, str]],
) -> tuple[str, str] | None:
    """Two labels whose half-open spans overlap, or None."""
    latest: tuple[datetime, str] | None = None
    for start, end, label in sorted(spans):
        if latest is not None and start < latest[0]:
            return latest[1], label
        if latest is None or end > latest[0]:
            latest = (end, label)
    return None


def check_chairs(snapshot: Snapshot) -> None:
    per_chair: defaultdict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for b in snapshot.active:
        if b.chair_id is not None:
            per_chair[b.chair_id].append((b.chair_start_at, b.chair_end_at, f"booking {b.id}"))
    for h in snapshot.live_holds:
        if h.chair_id is not None:
            per_chair[h.chair_id].append((h.chair_start_at, h.chair_end_at, f"hold {h.id}"))
    for chair_id, spans in per_chair.items():
        clash = first_overlap(spans)
        assert clash is None, f"invariant 1: chair {chair_id} double-booked by {clash}"


def phase_spans(start_at: datetime, phases: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    at = start_at
    for phase in phases:
        end = at + timedelta(minutes=phase["minutes"])
        yield at, end, phase["provider_use"]
        at = end


def check_providers(snapshot: Snapshot) -> None:
    commitments: defaultdict[int, list[tuple[datetime, list[dict[str, Any]], str]]]
    commitments = defaultdict(list)
    for b in snapshot.active:
        commitments[b.provider_id].append((b.start_at, b.phases, f"booking {b.id}"))
    for h in snapshot.live_holds:
        commitments[h.provider_id].append((h.start_at, h.phases, f"hold {h.id}"))
    for provider_id, items in commitments.items():
        capacity, gap = snapshot.providers[provider_id]
        steps: list[tuple[datetime, int]] = []
        hands_on: list[tuple[datetime, datetime, str]] = []
        for start_at, phases, label in items:
            for a, b, use in phase_spans(start_at, phases):
                units = {"exclusive": capacity, "hands_on": 1, "monitor": 1}.get(use, 0)
                if units:
                    steps += [(a, units), (b, -units)]
                if use == "hands_on":
                    hands_on.append((a, b, label))
        load = 0
        for at, delta in sorted(steps, key=lambda s: (s[0], s[1])):  # ends before starts
            load += delta
            assert load <= capacity, (
                f"invariant 2: provider {provider_id} carries {load} > {capacity} units at {at}"
            )
        clash = first_overlap(hands_on)
        assert clash is None, f"invariant 2: provider {provider_id} hands-on twice: {clash}"
        starts = sorted(start_at for start_at, _, _ in items)
        for earlier, later in itertools.pairwise(starts):
            assert later - earlier >= timedelta(minutes=gap), (
                f"invariant 2: provider {provider_id} starts {earlier} and {later} < {gap} min"
            )


def check_patients(snapshot: Snapshot) -> None:
    per_patient: defaultdict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for b in snapshot.active:
        per_patient[b.patient_id].append((b.start_at, b.end_at, f"booking {b.id}"))
    for patient_id, spans in per_patient.items():
        clash = first_overlap(spans)
        assert clash is None, f"invariant 3: patient {patient_id} double-booked: {clash}"


def check_audit_and_reschedules(snapshot: Snapshot) -> None:
    """Every booking has an audit event of its own; a replaced booking is cancelled."""
    status = {b.id: b.status for b in snapshot.bookings}
    unaudited = sorted(b.id for b in snapshot.bookings if b.id not in snapshot.audited)
    assert not unaudited, f"invariant 7: bookings without an audit event: {unaudited}"
    replaced: defaultdict[int, list[int]] = defaultdict(list)
    for b in snapshot.bookings:
        if b.rescheduled_from_id is not None:
            replaced[b.rescheduled_from_id].append(b.id)
    for old, news in replaced.items():
        assert len(news) == 1, f"invariant 5: booking {old} was replaced twice: {news}"
        assert status[old] == "cancelled", f"invariant 5: replaced booking {old} is {status[old]}"


def test_random_front_desk_keeps_the_invariants(
    client: TestClient,
    connection: Connection,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    env = build_clinic(db, client, connection, clock, settings)

    class Machine(BookingMachine):
        pass

    Machine.env = env
    run_state_machine_as_test(
        Machine,
        settings=hypothesis.settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
