"""Races for the same slots through real server processes, on SQLite and on PostgreSQL.

Many threads fire at once through two separate API processes sharing one database. Afterwards
plain SQL finds no overlapping chair bookings, no instant above a provider's capacity, and
exactly as many bookings as there was room for. On PostgreSQL a row written behind the
application's back is refused by the exclusion constraint itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from scheduler.auth.security import issue_access_token
from scheduler.bookings.schemas import BookingCreate
from scheduler.db.engine import build_engine
from scheduler.migrate import upgrade
from scheduler.models import Booking
from tests.conftest import TEST_SECRET, dispose_database, fresh_database_url, make_settings
from tests.factories import (
    make_appointment_type,
    make_chair,
    make_location,
    make_patient,
    make_provider,
    make_user,
)
from tests.live import running_server

THREADS = 16
ROUNDS = 6
ZONE = ZoneInfo("America/New_York")
ONE_HOUR_MONITORED = [{"minutes": 60, "uses_chair": True, "provider_use": "monitor"}]
ACTIVE = "('pending', 'booked', 'arrived', 'checked-in', 'fulfilled')"


@dataclass
class RaceClinic:
    url: str
    engine: Engine
    location_id: int
    type_id: int
    narrow_provider_id: int  # monitors at most 2: capacity is the limit
    wide_provider_id: int  # monitors up to 8: the 4 chairs are the limit
    patient_ids: list[int]
    token: str


@pytest.fixture
def race_clinic(backend: str, tmp_path: Path) -> Iterator[RaceClinic]:
    with build_race_clinic(backend, tmp_path) as clinic:
        yield clinic


@contextmanager
def build_race_clinic(backend: str, tmp_path: Path) -> Iterator[RaceClinic]:
    url = fresh_database_url(backend, tmp_path, "race")
    upgrade(url)
    engine = build_engine(make_settings(url))
    with Session(engine) as db:
        location = make_location(db, weekdays=())  # no opening hours: providers' rules decide
        for position in range(4):
            make_chair(db, location, name=f"Chair {position}", position=position)
        race_type = make_appointment_type(
            db, code="race", phases=ONE_HOUR_MONITORED, turnover_minutes=0, min_notice_minutes=0
        )
        every_day = tuple((d, time(6, 0), time(22, 0)) for d in range(7))
        narrow = make_provider(
            db,
            name="Narrow",
            locations=(location,),
            types=(race_type,),
            max_concurrent_patients=2,
            weekly=every_day,
        )
        wide = make_provider(
            db,
            name="Wide",
            locations=(location,),
            types=(race_type,),
            max_concurrent_patients=8,
            weekly=every_day,
        )
        patients = [
            make_patient(db, first_name=f"P{i}", email=f"p{i}@example.org") for i in range(THREADS)
        ]
        user = make_user(db, role="front_desk")
        assert user.id is not None
        assert location.id is not None
        assert race_type.id is not None
        token, _ = issue_access_token(
            user_id=user.id, role=user.role, secret=TEST_SECRET, now=datetime.now(UTC), minutes=30
        )
        clinic = RaceClinic(
            url=url,
            engine=engine,
            location_id=location.id,
            type_id=race_type.id,
            narrow_provider_id=narrow.id or 0,
            wide_provider_id=wide.id or 0,
            patient_ids=[p.id or 0 for p in patients],
            token=token,
        )
    try:
        yield clinic
    finally:
        engine.dispose()
        dispose_database(url)


def round_start(round_index: int) -> datetime:
    day = date.today() + timedelta(days=3 + round_index)  # noqa: DTZ011 - servers use real time
    return datetime.combine(day, time(10, 0), tzinfo=ZONE)


def fire(
    base_urls: list[str], requests: list[dict[str, Any]], headers: list[dict[str, str]]
) -> list[httpx.Response]:
    """Send all requests at once (a barrier releases the threads together)."""
    barrier = threading.Barrier(len(requests))

    def send(index: int) -> httpx.Response:
        with httpx.Client(base_url=base_urls[index % len(base_urls)], timeout=60) as http:
            barrier.wait()
            return http.post("/api/v1/bookings", json=requests[index], headers=headers[index])

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, range(len(requests))))


def assert_invariants(engine: Engine) -> None:
    with engine.connect() as conn:
        overlapping_chairs = conn.execute(
            text(
                f"""SELECT count(*) FROM booking a JOIN booking b
                ON a.chair_id = b.chair_id AND a.id < b.id
                AND a.chair_start_at < b.chair_end_at AND b.chair_start_at < a.chair_end_at
                WHERE a.status IN {ACTIVE} AND b.status IN {ACTIVE}"""
            )
        ).scalar_one()
        assert overlapping_chairs == 0
        # One-hour monitored visits: a provider's load peaks at the start of some visit.
        over_capacity = conn.execute(
            text(
                f"""SELECT count(*) FROM booking a JOIN provider p ON p.id = a.provider_id
                WHERE a.status IN {ACTIVE} AND (
                    SELECT count(*) FROM booking b WHERE b.provider_id = a.provider_id
                    AND b.status IN {ACTIVE}
                    AND b.start_at <= a.start_at AND a.start_at < b.end_at
                ) > p.max_concurrent_patients"""
            )
        ).scalar_one()
        assert over_capacity == 0
        overlapping_patients = conn.execute(
            text(
                f"""SELECT count(*) FROM booking a JOIN booking b
                ON a.patient_id = b.patient_id AND a.id < b.id
                AND a.start_at < b.end_at AND b.start_at < a.end_at
                WHERE a.status IN {ACTIVE} AND b.status IN {ACTIVE}"""
            )
        ).scalar_one()
        assert overlapping_patients == 0


def test_racing_clients_through_two_processes_never_overbook(race_clinic: RaceClinic) -> None:
    headers = {"Authorization": f"Bearer {race_clinic.token}"}
    with running_server(race_clinic.url) as first, running_server(race_clinic.url) as second:
        for round_index in range(ROUNDS):
            narrow = round_index % 2 == 0
            provider_id = race_clinic.narrow_provider_id if narrow else race_clinic.wide_provider_id
            room = 2 if narrow else 4  # capacity 2, or the 4 chairs
            start = round_start(round_index).isoformat()
            requests = [
                {
                    "patient_id": patient_id,
                    "appointment_type_id": race_clinic.type_id,
                    "location_id": race_clinic.location_id,
                    "start_at": start,
                    "provider_id": provider_id,
                }
                for patient_id in race_clinic.patient_ids
            ]
            responses = fire([first, second], requests, [headers] * len(requests))
            codes = sorted(r.status_code for r in responses)
            assert codes.count(201) == room, [r.text for r in responses if r.status_code != 409]
            assert codes.count(409) == THREADS - room
            assert {r.json()["code"] for r in responses if r.status_code == 409} == {
                "slot_unavailable"
            }
            with Session(race_clinic.engine) as db:
                stored = db.exec(
                    select(Booking).where(Booking.start_at == round_start(round_index))
                ).all()
            assert len(stored) == room
    assert_invariants(race_clinic.engine)


def test_concurrent_duplicates_with_one_idempotency_key_create_one_booking(
    race_clinic: RaceClinic,
) -> None:
    body = {
        "patient_id": race_clinic.patient_ids[0],
        "appointment_type_id": race_clinic.type_id,
        "location_id": race_clinic.location_id,
        "start_at": round_start(0).isoformat(),
    }
    headers = {"Authorization": f"Bearer {race_clinic.token}", "Idempotency-Key": "twice-clicked"}
    with running_server(race_clinic.url) as first, running_server(race_clinic.url) as second:
        responses = fire([first, second], [body] * 8, [headers] * 8)
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert len({r.json()["id"] for r in created}) == 1
    for other in responses:
        if other.status_code != 201:
            assert other.status_code == 409
            assert other.json()["code"] == "idempotency_conflict"
    with race_clinic.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM booking")).scalar_one() == 1


def test_postgresql_itself_refuses_an_overlapping_chair_row(tmp_path: Path) -> None:
    """Not parametrized: the exclusion constraint is PostgreSQL's (SQLite serializes writers)."""
    with build_race_clinic("postgresql", tmp_path) as race_clinic:
        insert_behind_the_apps_back(race_clinic)


def insert_behind_the_apps_back(race_clinic: RaceClinic) -> None:
    start = round_start(0).astimezone(UTC)
    insert = text(
        """INSERT INTO booking (patient_id, appointment_type_id, location_id, chair_id,
            provider_id, start_at, end_at, chair_start_at, chair_end_at, phases,
            turnover_minutes, status, source, version, ical_uid, sequence, notes,
            override_reason, cancel_reason, cancelled_by, late_cancel, driver_confirmed,
            fasting_acknowledged, created_at, updated_at)
        SELECT :patient, :type, :location, c.id, :provider, :start, :end, :start, :end,
            '[]', 0, 'booked', 'api', 1, :uid, 0, '', '', '', '', false, false, false, now(), now()
        FROM chair c WHERE c.location_id = :location ORDER BY c.position LIMIT 1"""
    )
    params = {
        "patient": race_clinic.patient_ids[0],
        "type": race_clinic.type_id,
        "location": race_clinic.location_id,
        "provider": race_clinic.narrow_provider_id,
        "start": start,
        "end": start + timedelta(hours=1),
    }
    with race_clinic.engine.begin() as conn:
        conn.execute(insert, {**params, "uid": "a@test"})
    later = {**params, "start": start + timedelta(minutes=59), "end": start + timedelta(hours=2)}
    with pytest.raises(IntegrityError) as caught, race_clinic.engine.begin() as conn:
        conn.execute(insert, {**later, "patient": race_clinic.patient_ids[1], "uid": "b@test"})
    assert "ex_booking_chair_time" in str(caught.value)
    # Back to back (half-open ranges) is fine, and so is a cancelled row on top.
    adjacent = {**params, "start": start + timedelta(hours=1), "end": start + timedelta(hours=2)}
    with race_clinic.engine.begin() as conn:
        conn.execute(insert, {**adjacent, "patient": race_clinic.patient_ids[2], "uid": "c@test"})


def test_a_locked_reread_sees_what_another_transaction_committed(tmp_path: Path) -> None:
    """PostgreSQL: a booking read before the row lock must be refreshed by the lock.

    The patient's cancel reads the booking, the desk checks the patient in and commits, then
    the cancel takes the row lock: it must see "checked-in" and refuse, not cancel over it.
    """
    from scheduler.auth.actors import Actor
    from scheduler.bookings import service
    from scheduler.bookings.schemas import CancelRequest
    from scheduler.errors import Conflict

    with build_race_clinic("postgresql", tmp_path) as race:
        desk = Actor(kind="user", label="user:test", role="front_desk")
        now = datetime.now(UTC)
        with Session(race.engine) as setup:
            booking = service.create_booking(
                setup,
                BookingCreate(
                    patient_id=race.patient_ids[0],
                    appointment_type_id=race.type_id,
                    location_id=race.location_id,
                    start_at=round_start(0),
                ),
                actor=desk,
                now=now,
            )
            setup.commit()
            booking_id = booking.id or 0
        with Session(race.engine) as patient_tx, Session(race.engine) as desk_tx:
            stale = patient_tx.get(Booking, booking_id)  # read, no lock yet
            assert stale is not None
            assert stale.status == "booked"
            service.transition(desk_tx, booking_id, "check-in", actor=desk, now=now, if_match=None)
            desk_tx.commit()
            with pytest.raises(Conflict) as refused:
                service.cancel_booking(
                    patient_tx,
                    booking_id,
                    CancelRequest(reason="changed my mind", cancelled_by="patient"),
                    actor=desk,
                    now=now,
                    if_match=None,
                )
            assert refused.value.code == "invalid_transition"
