"""The commitments ``load_window`` returns, on each database: the rows, their shared phases."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session

from scheduler.availability import repository
from scheduler.availability import rows as loaded
from scheduler.availability.engine import Phase
from scheduler.migrate import upgrade
from scheduler.models import Booking
from tests.clinic_fixture import Clinic
from tests.conftest import DEFAULT_NOW
from tests.driver_trace import traced
from tests.factories import make_appointment_type, make_patient

WINDOW_START = datetime.fromisoformat("2026-03-03T00:00:00-05:00")


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, object]) -> int:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: int = response.json()["id"]
    return created


def test_commitment_rows_hold_utc_instants_and_one_phases_tuple_per_layout(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    patients = [
        make_patient(db, first_name=f"R{i}", email=f"r{i}@example.org", consult_completed=True)
        for i in range(4)
    ]
    for patient in patients:
        assert patient.id is not None
        patient.consent_signed = True
        db.add(patient)
    db.commit()

    def booking(patient: int | None, type_id: int | None, start: str) -> dict[str, object]:
        return {
            "patient_id": patient,
            "appointment_type_id": type_id,
            "location_id": clinic.location_id,
            "start_at": start,
        }

    path = "/api/v1/bookings"
    infusions = [
        post(client, desk_headers, path, booking(patients[0].id, clinic.infusion_id, start))
        for start in ("2026-03-03T09:00:00-05:00", "2026-03-04T09:00:00-05:00")
    ]
    consult = post(
        client,
        desk_headers,
        path,
        booking(patients[1].id, clinic.consult.id, "2026-03-03T13:00:00-05:00"),
    )
    cancelled = post(
        client,
        desk_headers,
        path,
        booking(patients[2].id, clinic.infusion_id, "2026-03-05T09:00:00-05:00"),
    )
    cancel = client.post(
        f"/api/v1/bookings/{cancelled}/cancel", json={"reason": "ill"}, headers=desk_headers
    )
    assert cancel.status_code == 200, cancel.text
    hold = post(
        client,
        desk_headers,
        "/api/v1/holds",
        {
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-03T11:00:00-05:00",
        },
    )

    def load(now: datetime) -> list[loaded.CommitmentRow]:
        assert clinic.nurse.id is not None
        return repository.load_window(
            db,
            location_id=clinic.location_id,
            appointment_type_id=clinic.infusion_id,
            provider_id=clinic.nurse.id,
            start_at=WINDOW_START,
            end_at=WINDOW_START + timedelta(days=7),
            now=now,
        ).commitments

    rows = load(DEFAULT_NOW)
    assert sorted((r.kind, r.id) for r in rows) == sorted(
        [("booking", infusions[0]), ("booking", infusions[1]), ("booking", consult), ("hold", hold)]
    )
    by_id = {(r.kind, r.id): r for r in rows}
    first = by_id["booking", infusions[0]]
    assert first.start_at == datetime.fromisoformat("2026-03-03T14:00:00+00:00")
    assert first.start_at.utcoffset() == timedelta(0)
    assert (first.turnover_minutes, first.provider_id, first.patient_id) == (
        15,
        clinic.nurse.id,
        patients[0].id,
    )
    assert first.chair_id in {c.id for c in clinic.chairs}
    assert first.phases == (
        Phase(15, True, "hands_on"),
        Phase(40, True, "monitor"),
        Phase(45, True, "none"),
    )
    # One tuple per layout, shared by every row of it (the engine caches shapes by identity).
    assert by_id["booking", infusions[1]].phases is first.phases
    assert by_id["hold", hold].phases is first.phases
    assert by_id["booking", consult].phases == (Phase(60, False, "exclusive"),)
    assert by_id["booking", consult].chair_id is None
    # The hold stops counting when it expires.
    later = load(DEFAULT_NOW + timedelta(hours=1))
    assert ("hold", hold) not in {(r.kind, r.id) for r in later}


def test_stored_and_parsed_phases_intern_alike() -> None:
    raw = [{"minutes": 30, "uses_chair": False, "provider_use": "exclusive"}]
    from_dicts = loaded.to_phases(raw)
    assert loaded.to_phases(from_dicts) is from_dicts
    spaced = '[{"minutes": 30, "uses_chair": false, "provider_use": "exclusive"}]'
    compact = '[{"minutes":30,"uses_chair":false,"provider_use":"exclusive"}]'
    assert loaded.phases_from_json(spaced) is from_dicts
    assert loaded.phases_from_json(compact) is from_dicts


DAY_LONG = [{"minutes": 24 * 60, "uses_chair": False, "provider_use": "monitor"}]


def _day_long_booking(
    db: Session, clinic: Clinic, type_id: int, patient_id: int, start: datetime
) -> int:
    """A 24-hour visit of the nurse (the longest a type may last), written directly."""
    assert clinic.nurse.id is not None
    row = Booking(
        patient_id=patient_id,
        appointment_type_id=type_id,
        location_id=clinic.location_id,
        provider_id=clinic.nurse.id,
        start_at=start,
        end_at=start + timedelta(days=1),
        phases=DAY_LONG,
        status="booked",
        ical_uid=f"{start.timestamp()}@test",
        created_at=DEFAULT_NOW,
        updated_at=DEFAULT_NOW,
    )
    db.add(row)
    db.commit()
    assert row.id is not None
    return row.id


def test_the_longest_visit_reaching_into_the_padded_window_is_loaded(
    db: Session, clinic: Clinic
) -> None:
    """The search reads bookings by a bounded range of start times (so it does not grow with
    the clinic's history); a visit of the longest allowed length that still ends inside the
    padded window is found, one that ends exactly at its edge is not."""
    day = make_appointment_type(
        db, code="day-long", name="Day-long observation", phases=DAY_LONG, turnover_minutes=0
    )
    assert day.id is not None
    assert clinic.patient.id is not None
    assert clinic.other_patient.id is not None
    assert clinic.nurse.id is not None
    padded_start = WINDOW_START - repository.COMMITMENT_PADDING
    earliest = padded_start - timedelta(days=1)
    reaching = _day_long_booking(
        db, clinic, day.id, clinic.patient.id, earliest + timedelta(minutes=1)
    )
    touching = _day_long_booking(db, clinic, day.id, clinic.other_patient.id, earliest)
    for provider_id in (clinic.nurse.id, None):  # a named provider, and all eligible ones
        rows = repository.load_window(
            db,
            location_id=clinic.location_id,
            appointment_type_id=clinic.consult.id or 0,
            provider_id=provider_id,
            start_at=WINDOW_START,
            end_at=WINDOW_START + timedelta(days=1),
            now=DEFAULT_NOW,
        ).commitments
        ids = {r.id for r in rows if r.kind == "booking"}
        assert reaching in ids
        assert touching not in ids


def test_on_sqlite_the_window_query_range_scans_booking_indexes(tmp_path: Path) -> None:
    """Without planner statistics SQLite once walked every active booking (the status
    index) for each search; every booking branch must search an index by a start range."""
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    engine = create_engine(url)
    now = DEFAULT_NOW
    with Session(engine) as session:
        driver = session.connection().connection.dbapi_connection
        for provider_id, patient_id in ((None, None), (1, None), (1, 7)):
            with traced(driver) as sent:
                repository.load_window(
                    session,
                    location_id=1,
                    appointment_type_id=1,
                    provider_id=provider_id,
                    start_at=WINDOW_START,
                    end_at=WINDOW_START + timedelta(days=31),
                    now=now,
                    patient_id=patient_id,
                )
            (window,) = [s.sql for s in sent if "UNION ALL" in s.sql]  # values inlined
            plan = [
                row[3]
                for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {window}")
            ]
            booking_steps = [step for step in plan if " booking " in f"{step} "]
            assert booking_steps, plan
            for step in booking_steps:
                assert step.startswith("SEARCH booking USING INDEX"), plan
                assert "ix_booking_status" not in step, plan
    engine.dispose()
