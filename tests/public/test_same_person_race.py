"""One person, several browser sessions, one time: two API processes on PostgreSQL.

The same new person (same e-mail and date of birth) holds the same hour in several sessions and
submits them all at once, each with its own Idempotency-Key. Exactly one booking is made;
the others are refused exactly as a time somebody else took is (issue 13 item 2).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from scheduler.public.service import TIME_TAKEN
from tests.bookings.test_concurrency import ACTIVE, RaceClinic, build_race_clinic, round_start
from tests.live import running_server

SESSIONS = 4
ROUNDS = 3


@pytest.fixture
def pg_race(tmp_path: Path) -> Iterator[RaceClinic]:
    with build_race_clinic("postgresql", tmp_path) as clinic:
        yield clinic


def _submit_all(
    urls: list[str], holds: list[dict[str, str]], person: dict[str, str]
) -> list[httpx.Response]:
    """Every session submits its hold for ``person`` at once, each with its own key."""
    barrier = threading.Barrier(len(holds))

    def submit(index: int) -> httpx.Response:
        with httpx.Client(base_url=urls[index % len(urls)], timeout=60) as http:
            barrier.wait()
            return http.post(
                "/api/v1/public/bookings",
                json={"hold_id": holds[index]["hold_id"], "patient": person},
                headers={
                    "X-Booking-Session": holds[index]["session_token"],
                    "Idempotency-Key": f"submit-{index}",
                },
            )

    with ThreadPoolExecutor(max_workers=len(holds)) as pool:
        return list(pool.map(submit, range(len(holds))))


def test_one_person_racing_sessions_get_one_visit(pg_race: RaceClinic) -> None:
    with pg_race.engine.begin() as conn:
        conn.execute(text("UPDATE appointment_type SET self_schedulable = true"))
    urls: list[str] = []
    with running_server(pg_race.url) as first, running_server(pg_race.url) as second:
        urls = [first, second]
        for round_index in range(ROUNDS):
            person = {
                "first_name": "Rosa",
                "last_name": "Marquez",
                "date_of_birth": "1990-04-12",
                "email": f"Rosa.{round_index}@Example.org",
                "phone": "+1 555 0199",
            }
            holds = []
            for index in range(SESSIONS):
                with httpx.Client(base_url=urls[index % 2], timeout=30) as http:
                    held = http.post(
                        "/api/v1/public/holds",
                        json={
                            "appointment_type_id": pg_race.type_id,
                            "location_id": pg_race.location_id,
                            # Overlapping, not equal: 0, 15, 30, 45 minutes past the hour.
                            "start_at": round_start(round_index)
                            .replace(minute=15 * index)
                            .isoformat(),
                        },
                    )
                assert held.status_code == 201, held.text
                holds.append(held.json())
            responses = _submit_all(urls, holds, person)
            codes = sorted(r.status_code for r in responses)
            assert codes == [201] + [409] * (SESSIONS - 1), [r.text for r in responses]
            for refused in (r for r in responses if r.status_code == 409):
                assert refused.json()["code"] == "slot_unavailable"
                assert refused.json()["detail"] == TIME_TAKEN
    with pg_race.engine.connect() as conn:
        overlapping = conn.execute(
            text(
                f"""SELECT count(*) FROM booking a
                JOIN patient pa ON pa.id = a.patient_id
                JOIN booking b ON a.id < b.id
                JOIN patient pb ON pb.id = b.patient_id
                WHERE lower(pa.email) = lower(pb.email) AND pa.date_of_birth = pb.date_of_birth
                AND a.start_at < b.end_at AND b.start_at < a.end_at
                AND a.status IN {ACTIVE} AND b.status IN {ACTIVE}"""
            )
        ).scalar_one()
        online = conn.execute(
            text("SELECT count(*) FROM booking WHERE source = 'online'")
        ).scalar_one()
    assert overlapping == 0
    assert online == ROUNDS
