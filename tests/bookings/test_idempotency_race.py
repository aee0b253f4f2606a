"""Idempotency under concurrency, through two real server processes on PostgreSQL.

Many threads send one request with one ``Idempotency-Key`` at once. Each must get either the
original answer (the very same bytes: a replay re-serialises in the original member order,
and carries the same manage link) or the documented "in progress" 409; never another 409
(say, "hold expired" because the twin ran the request a second time) nor another answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from scheduler.idempotency.service import _IN_FLIGHT
from tests.bookings.test_concurrency import RaceClinic, build_race_clinic, round_start
from tests.live import running_server

THREADS = 12
ROUNDS = 4


@pytest.fixture
def pg_race(tmp_path: Path) -> Iterator[RaceClinic]:
    with build_race_clinic("postgresql", tmp_path) as clinic:
        yield clinic


def _same_key_at_once(
    urls: list[str], path: str, body: dict[str, object], headers: dict[str, str]
) -> list[httpx.Response]:
    barrier = threading.Barrier(THREADS)

    def send(index: int) -> httpx.Response:
        with httpx.Client(base_url=urls[index % len(urls)], timeout=60) as http:
            barrier.wait()
            return http.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(send, range(THREADS)))


def _assert_original_or_in_flight(responses: list[httpx.Response]) -> str:
    created = [r for r in responses if r.status_code == 201]
    others = [r for r in responses if r.status_code != 201]
    assert created, [r.text for r in responses]
    assert len({r.text for r in created}) == 1, [r.text for r in created]
    for other in others:
        assert other.status_code == 409, other.text
        assert other.json()["code"] == "idempotency_conflict", other.text
        assert other.json()["detail"] == _IN_FLIGHT
    return created[0].text


def test_one_key_at_once_answers_the_original_or_in_progress(pg_race: RaceClinic) -> None:
    """Staff bookings, then online bookings (one pair of servers: starting them is slow)."""
    with pg_race.engine.begin() as conn:
        conn.execute(text("UPDATE appointment_type SET self_schedulable = true"))
    with running_server(pg_race.url) as first, running_server(pg_race.url) as second:
        _staff_rounds(pg_race, first, second)
        _online_rounds(pg_race, first, second)
    with pg_race.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM booking")).scalar_one() == 2 * ROUNDS
        stored = conn.execute(text("SELECT response_body::text FROM idempotency_record")).all()
    assert len(stored) == 2 * ROUNDS
    for (body_text,) in stored:
        assert "manage" not in body_text
        assert "session_token" not in body_text


def _staff_rounds(pg_race: RaceClinic, first: str, second: str) -> None:
    for round_index in range(ROUNDS):
        body = {
            "patient_id": pg_race.patient_ids[round_index],
            "appointment_type_id": pg_race.type_id,
            "location_id": pg_race.location_id,
            "start_at": round_start(round_index).isoformat(),
        }
        headers = {
            "Authorization": f"Bearer {pg_race.token}",
            "Idempotency-Key": f"desk-{round_index}",
        }
        responses = _same_key_at_once([first, second], "/api/v1/bookings", body, headers)
        _assert_original_or_in_flight(responses)
        # Afterwards, one more retry replays the same bytes.
        with httpx.Client(base_url=first, timeout=30) as http:
            again = http.post("/api/v1/bookings", json=body, headers=headers)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.text == next(r.text for r in responses if r.status_code == 201)


def _online_rounds(pg_race: RaceClinic, first: str, second: str) -> None:
    for round_index in range(ROUNDS, 2 * ROUNDS):
        with httpx.Client(base_url=first, timeout=30) as http:
            held = http.post(
                "/api/v1/public/holds",
                json={
                    "appointment_type_id": pg_race.type_id,
                    "location_id": pg_race.location_id,
                    "start_at": round_start(round_index).isoformat(),
                },
            )
        assert held.status_code == 201, held.text
        body = {
            "hold_id": held.json()["hold_id"],
            "patient": {
                "first_name": "Rosa",
                "last_name": "Marquez",
                "date_of_birth": "1990-04-12",
                "email": f"rosa{round_index}@example.org",
                "phone": "+1 555 0199",
            },
        }
        headers = {
            "X-Booking-Session": held.json()["session_token"],
            "Idempotency-Key": f"submit-{round_index}",
        }
        responses = _same_key_at_once([first, second], "/api/v1/public/bookings", body, headers)
        original = _assert_original_or_in_flight(responses)
        token = httpx.Response(201, text=original).json()["manage_token"]
        with httpx.Client(base_url=second, timeout=30) as http:
            assert http.get(f"/api/v1/public/manage/{token}").status_code == 200
