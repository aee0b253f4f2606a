"""Series and single bookings racing for the same chairs through two API processes.

Afterwards: no overlapping chair, provider or patient bookings (the booking race's own
checks), every series that was answered 201 has all its visits, and a refused series left
nothing behind (no series row, no visit, no hold).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import Session

from scheduler.models import SeriesTemplate
from tests.bookings.test_concurrency import ZONE, assert_invariants, build_race_clinic
from tests.live import running_server

SERIES = 4
SINGLES = 8
VISITS = 3


def test_series_and_single_bookings_race_without_overlap_or_partial_series(
    backend: str, tmp_path: Path
) -> None:
    with build_race_clinic(backend, tmp_path) as clinic:
        with Session(clinic.engine) as db:
            template = SeriesTemplate(
                appointment_type_id=clinic.type_id,
                name="Race course",
                visit_count=VISITS,
                window_days=5,
                min_gap_hours=24,
                max_gap_hours=48,
                max_per_week=7,
                prefer_same_time=True,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            db.add(template)
            db.commit()
            template_id = template.id
        first_day = date.today() + timedelta(days=3)  # noqa: DTZ011 - servers use real time
        # Every series wants 06:00 on three days running; the single bookings take that
        # time on the second day, on the narrow provider (2 patients) and the wide one.
        contested = datetime.combine(first_day + timedelta(days=1), time(6, 0), tzinfo=ZONE)
        requests: list[tuple[str, dict[str, Any]]] = []
        for i in range(SERIES):
            requests.append(
                (
                    "/api/v1/series",
                    {
                        "patient_id": clinic.patient_ids[i],
                        "template_id": template_id,
                        "location_id": clinic.location_id,
                        "first_day": first_day.isoformat(),
                    },
                )
            )
        for i in range(SINGLES):
            provider = clinic.narrow_provider_id if i % 2 else clinic.wide_provider_id
            requests.append(
                (
                    "/api/v1/bookings",
                    {
                        "patient_id": clinic.patient_ids[SERIES + i],
                        "appointment_type_id": clinic.type_id,
                        "location_id": clinic.location_id,
                        "start_at": contested.isoformat(),
                        "provider_id": provider,
                    },
                )
            )
        headers = {"Authorization": f"Bearer {clinic.token}"}
        with running_server(clinic.url) as first, running_server(clinic.url) as second:
            urls = [first, second]
            barrier = threading.Barrier(len(requests))

            def send(index: int) -> httpx.Response:
                path, body = requests[index]
                with httpx.Client(base_url=urls[index % 2], timeout=120) as http:
                    barrier.wait()
                    return http.post(path, json=body, headers=headers)

            with ThreadPoolExecutor(max_workers=len(requests)) as pool:
                responses = list(pool.map(send, range(len(requests))))

        for (path, _), response in zip(requests, responses, strict=True):
            assert response.status_code in (201, 409), response.text
            if path == "/api/v1/series" and response.status_code == 201:
                visits = response.json()["visits"]
                assert len(visits) == VISITS
        created_series = [
            r.json()["id"]
            for (path, _), r in zip(requests, responses, strict=True)
            if path == "/api/v1/series" and r.status_code == 201
        ]
        assert created_series  # the clinic has room for courses at other times
        assert_invariants(clinic.engine)
        with clinic.engine.connect() as conn:
            per_series = dict(
                conn.execute(
                    text(
                        "SELECT s.id, count(b.id) FROM series s LEFT JOIN booking b "
                        "ON b.series_id = s.id AND b.status = 'booked' GROUP BY s.id"
                    )
                ).all()
            )
            assert per_series == dict.fromkeys(created_series, VISITS)
            assert conn.execute(text("SELECT count(*) FROM hold")).scalar_one() == 0
            singles = conn.execute(
                text("SELECT count(*) FROM booking WHERE series_id IS NULL")
            ).scalar_one()
        assert singles == sum(
            1
            for (path, _), r in zip(requests, responses, strict=True)
            if path == "/api/v1/bookings" and r.status_code == 201
        )
