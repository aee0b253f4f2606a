"""The booking status lifecycle over HTTP: every status x every action, against a written table.

Each case books a fresh appointment (Tuesday 3 March 2026 09:00 New York, clock frozen on the
Monday before), walks it to the status under test through the API, then tries the action.
An allowed action answers 200 (201 for a reschedule, which returns the replacement booking)
and moves the booking on, bumping its version and leaving an audit event. A refused one answers
409 ``invalid_transition`` and changes nothing at all.

The table is written out by hand from the documented lifecycle (HL7 FHIR
``Appointment.status``), on purpose not derived from ``service.TRANSITIONS``: it is the
specification the code is checked against. ``arrived`` is not in it because no API action
leads to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, func, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, Booking, ProviderAppointmentType, User
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_appointment_type, make_user

ACTIONS = (
    "confirm",
    "check-in",
    "complete",
    "no-show",
    "cancel",
    "reschedule",
    "entered-in-error",
)

# Rows: the status the booking is in. Columns: the action tried. A cell is the status the
# booking is in afterwards, or "-" when the action is refused (409 invalid_transition).
# A reschedule cancels the booking and returns a new one linked to it.
TABLE = """
status            confirm  check-in    complete   no-show  cancel     reschedule  entered-in-error
pending           booked   -           -          -        cancelled  cancelled   entered-in-error
booked            -        checked-in  -          noshow   cancelled  cancelled   entered-in-error
checked-in        -        -           fulfilled  -        -          -           entered-in-error
fulfilled         -        -           -          -        -          -           -
cancelled         -        -           -          -        -          -           -
noshow            -        -           -          -        -          -           -
entered-in-error  -        -           -          -        -          -           -
"""


def parse_table(table: str) -> dict[tuple[str, str], str | None]:
    header, *rows = (line.split() for line in table.strip().splitlines())
    assert tuple(header[1:]) == ACTIONS
    expected: dict[tuple[str, str], str | None] = {}
    for status, *cells in rows:
        assert len(cells) == len(ACTIONS), status
        for action, cell in zip(ACTIONS, cells, strict=True):
            expected[status, action] = None if cell == "-" else cell
    return expected


EXPECTED = parse_table(TABLE)
STATUSES = tuple(dict.fromkeys(status for status, _ in EXPECTED))

START = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York
DURING_VISIT = START + timedelta(minutes=10)  # the appointment has started
RESCHEDULE_TO = "2026-03-04T10:00:00-05:00"  # Wednesday 10:00: free, inside hours

# How each status is reached through the API: the type booked (pending needs approval) and the
# actions that follow. Actions done at the clinic happen once the visit has started.
PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pending": ("approval", ()),
    "booked": ("infusion", ()),
    "checked-in": ("infusion", ("check-in",)),
    "fulfilled": ("infusion", ("check-in", "complete")),
    "cancelled": ("infusion", ("cancel",)),
    "noshow": ("infusion", ("no-show",)),
    "entered-in-error": ("infusion", ("entered-in-error",)),
}
AT_THE_CLINIC = frozenset({"check-in", "complete", "no-show"})


@dataclass
class Desk:
    """The front desk at work: every request carries a token fresh at the (moving) clock."""

    client: TestClient
    clock: FrozenClock
    settings: Settings
    user: User
    clinic: Clinic
    approval_type_id: int

    def headers(self) -> dict[str, str]:
        return auth_headers(self.user, self.settings, self.clock.now())

    def get(self, booking_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/bookings/{booking_id}", headers=self.headers())
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def act(self, booking_id: int, action: str) -> Response:
        if action in AT_THE_CLINIC and self.clock.now() < DURING_VISIT:
            self.clock.set(DURING_VISIT)  # no-show needs the visit to have started
        url = f"/api/v1/bookings/{booking_id}/{action}"
        if action == "cancel":
            body: dict[str, Any] = {"reason": "patient asked"}
        elif action == "reschedule":
            body = {"start_at": RESCHEDULE_TO}
        else:
            body = {"reason": f"{action} in the table test"}
        response: Response = self.client.post(url, json=body, headers=self.headers())
        return response

    def reach(self, status: str) -> dict[str, Any]:
        """A new booking at START, walked to ``status`` through the API."""
        type_name, steps = PATHS[status]
        created = self.client.post(
            "/api/v1/bookings",
            json={
                "patient_id": self.clinic.patient.id,
                "appointment_type_id": (
                    self.approval_type_id if type_name == "approval" else self.clinic.infusion_id
                ),
                "location_id": self.clinic.location_id,
                "start_at": START.isoformat(),
            },
            headers=self.headers(),
        )
        assert created.status_code == 201, created.text
        booking: dict[str, Any] = created.json()
        for step in steps:
            response = self.act(booking["id"], step)
            assert response.status_code == 200, response.text
            booking = response.json()
        assert booking["status"] == status
        return booking


@pytest.fixture
def desk(
    client: TestClient, clock: FrozenClock, settings: Settings, db: Session, clinic: Clinic
) -> Desk:
    # An infusion that staff must approve: booking it gives a ``pending`` booking.
    approval = make_appointment_type(
        db, code="infusion-approval", name="Infusion (needs approval)", requires_approval=True
    )
    assert approval.id is not None
    assert clinic.nurse.id is not None
    db.add(ProviderAppointmentType(provider_id=clinic.nurse.id, appointment_type_id=approval.id))
    db.commit()
    user = make_user(db, role="front_desk", email="desk.transitions@clinic.example")
    return Desk(client, clock, settings, user, clinic, approval.id)


def audit_count(db: Session, booking_id: int) -> int:
    return db.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity_type == "booking", AuditEvent.entity_id == booking_id)
    ).one()


def booking_count(db: Session) -> int:
    return db.exec(select(func.count()).select_from(Booking)).one()


def test_table_covers_every_status_and_action() -> None:
    assert set(STATUSES) == set(PATHS)
    assert len(EXPECTED) == len(STATUSES) * len(ACTIONS)


@pytest.mark.parametrize(
    ("status", "action"),
    [pytest.param(s, a, id=f"{s}-{a}") for s, a in EXPECTED],
)
def test_transition(status: str, action: str, desk: Desk, db: Session) -> None:
    booking = desk.reach(status)
    before = desk.get(booking["id"])
    events_before, rows_before = audit_count(db, booking["id"]), booking_count(db)

    response = desk.act(booking["id"], action)

    after = desk.get(booking["id"])
    target = EXPECTED[status, action]
    if target is None:
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_transition"
        assert (after["status"], after["version"]) == (status, before["version"])
        assert after == before  # nothing else moved either
        assert audit_count(db, booking["id"]) == events_before
        assert booking_count(db) == rows_before
        return

    assert response.status_code == (201 if action == "reschedule" else 200), response.text
    assert after["status"] == target
    assert after["version"] == before["version"] + 1
    assert audit_count(db, booking["id"]) == events_before + 1
    body = response.json()
    if action == "reschedule":
        # The replacement keeps the original's approval state and takes its place.
        assert body["id"] != booking["id"]
        assert body["rescheduled_from_id"] == booking["id"]
        assert body["status"] == status
        assert body["start_at"] == "2026-03-04T15:00:00Z"
        assert booking_count(db) == rows_before + 1
    else:
        assert body["id"] == booking["id"]
        assert body["status"] == target
        assert response.headers["etag"] == f'"{booking["id"]}.{after["version"]}"'
        assert booking_count(db) == rows_before


def test_no_show_only_once_the_appointment_has_started(desk: Desk, db: Session) -> None:
    booking = desk.reach("booked")
    desk.clock.set(START - timedelta(minutes=1))
    early = desk.client.post(f"/api/v1/bookings/{booking['id']}/no-show", headers=desk.headers())
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "invalid_transition"
    after = desk.get(booking["id"])
    assert (after["status"], after["version"]) == ("booked", booking["version"])
    assert audit_count(db, booking["id"]) == 1  # only its creation
    desk.clock.set(START)  # the minute it starts counts as started
    on_time = desk.client.post(f"/api/v1/bookings/{booking['id']}/no-show", headers=desk.headers())
    assert on_time.status_code == 200, on_time.text
    assert on_time.json()["status"] == "noshow"


def test_a_reschedule_replacement_has_its_own_audit_event(desk: Desk, db: Session) -> None:
    booking = desk.reach("booked")
    moved = desk.act(booking["id"], "reschedule")
    assert moved.status_code == 201, moved.text
    assert audit_count(db, booking["id"]) == 2  # booking.create, booking.reschedule
    assert audit_count(db, moved.json()["id"]) == 1  # its creation by the reschedule
