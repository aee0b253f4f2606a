"""Boosters of one series booked at once through two API processes (issue 18).

A series whose course is done gets its booster from several desks at the same moment: the
same start, or different starts. Afterwards exactly one booster is booked in the series, every
other request got either the documented answer to a repeated start (200, that same booking) or
a clear 409 (the next booster waits until this one is done), never a 500, and the patient has
no two overlapping visits (the booking race's own checks).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.bookings import service as bookings
from scheduler.bookings.schemas import BookingCreate
from scheduler.models import Series, SeriesTemplate
from tests.bookings.test_concurrency import (
    ACTIVE,
    RaceClinic,
    assert_invariants,
    build_race_clinic,
    round_start,
)
from tests.live import running_server

DESKS = 6
COURSE = 3


def _finished_series(clinic: RaceClinic, patient_id: int) -> int:
    """A series of the race type whose three visits (last week) were all attended."""
    desk = Actor(kind="user", label="user:test", role="front_desk")
    then = datetime.now(UTC) - timedelta(days=10)
    with Session(clinic.engine) as db:
        template = SeriesTemplate(
            appointment_type_id=clinic.type_id,
            name="Course with boosters",
            visit_count=COURSE,
            window_days=7,
            min_gap_hours=24,
            max_gap_hours=72,
            max_per_week=7,
            booster_interval_days=7,
            created_at=then,
            updated_at=then,
        )
        db.add(template)
        db.flush()
        series = Series(
            patient_id=patient_id,
            template_id=template.id,
            location_id=clinic.location_id,
            created_at=then,
        )
        db.add(series)
        db.flush()
        assert series.id is not None
        for day in range(COURSE):
            booking = bookings.create_booking(
                db,
                BookingCreate(
                    patient_id=patient_id,
                    appointment_type_id=clinic.type_id,
                    location_id=clinic.location_id,
                    start_at=round_start(day) - timedelta(days=10),
                    series_id=series.id,
                ),
                actor=desk,
                now=then,
            )
            assert booking.id is not None
        db.commit()
        db.execute(
            text("UPDATE booking SET status = 'fulfilled' WHERE series_id = :s"), {"s": series.id}
        )
        db.commit()
        return series.id


def _fire(
    urls: list[str], path: str, bodies: list[dict[str, str]], token: str
) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))

    def send(index: int) -> httpx.Response:
        with httpx.Client(base_url=urls[index % len(urls)], timeout=120) as http:
            barrier.wait()
            return http.post(path, json=bodies[index], headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, range(len(bodies))))


def _boosters(clinic: RaceClinic, series_id: int) -> list[int]:
    with clinic.engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT id FROM booking WHERE series_id = :s AND status IN {ACTIVE} "
                "AND status <> 'fulfilled'"
            ),
            {"s": series_id},
        ).all()
    return [row[0] for row in rows]


def _check_round(
    clinic: RaceClinic, series_id: int, starts: str, responses: list[httpx.Response]
) -> None:
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, (starts, [r.text for r in responses])
    [booked] = [r.json()["booking"] for r in responses if r.status_code == 201]
    for response in responses:
        if response.status_code == 200:  # the same start asked again: that booking
            assert starts == "same_start"
            assert response.json()["created"] is False
            assert response.json()["booking"]["id"] == booked["id"]
        elif response.status_code == 409:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "series_incomplete", response.text
            assert "once every visit of the series is done" in response.json()["detail"]
        else:
            assert response.status_code == 201, response.text
    if starts != "same_start":
        assert codes.count(409) == DESKS - 1, starts
    assert _boosters(clinic, series_id) == [booked["id"]], starts


def test_simultaneous_boosters_of_one_series_book_one(backend: str, tmp_path: Path) -> None:
    """Three rounds, each on its own finished series (its own patient) and its own days:
    every desk the same start; each a different day; each half an hour after the previous
    one (one-hour visits: every start overlaps its neighbours)."""
    with build_race_clinic(backend, tmp_path) as clinic:
        rounds = {
            "same_start": [round_start(2)] * DESKS,
            "different_starts": [round_start(4) + timedelta(days=i) for i in range(DESKS)],
            "overlapping_starts": [
                round_start(12) + timedelta(minutes=30 * i) for i in range(DESKS)
            ],
        }
        series_ids = {
            name: _finished_series(clinic, clinic.patient_ids[i]) for i, name in enumerate(rounds)
        }
        with running_server(clinic.url) as one, running_server(clinic.url) as two:
            for name, chosen in rounds.items():
                bodies = [{"start_at": start.isoformat()} for start in chosen]
                path = f"/api/v1/series/{series_ids[name]}/boosters"
                responses = _fire([one, two], path, bodies, clinic.token)
                _check_round(clinic, series_ids[name], name, responses)
        assert_invariants(clinic.engine)
