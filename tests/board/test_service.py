"""The board's service on a real database: what it loads, and in how many statements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection
from sqlmodel import Session

from scheduler.board.service import day_board
from scheduler.errors import NotFound
from tests.board.seed import add_booking, add_hold, counted
from tests.clinic_fixture import Clinic
from tests.factories import make_chair, make_patient

NY = ZoneInfo("America/New_York")
DAY = date(2026, 3, 3)  # Tuesday after DEFAULT_NOW (Monday 2 March 2026 09:00 New York)
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).astimezone(UTC)


def test_board_places_bookings_holds_and_consultations(db: Session, clinic: Clinic) -> None:
    chair1, chair2 = clinic.chairs
    booked = add_booking(
        db,
        patient=clinic.patient,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        start_at=at(9),
        chair=chair2,
    )
    consult = add_booking(
        db,
        patient=clinic.new_patient,
        appointment_type=clinic.consult,
        provider=clinic.nurse,
        start_at=at(13),
        chair=None,
    )
    add_booking(  # cancelled: hidden unless asked for
        db,
        patient=clinic.other_patient,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        start_at=at(9),
        chair=chair1,
        status="cancelled",
    )
    add_booking(  # another day
        db,
        patient=clinic.other_patient,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        start_at=at(9, day=DAY + timedelta(days=1)),
        chair=chair1,
    )
    hold = add_hold(
        db,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        chair=chair1,
        start_at=at(11),
        expires_at=NOW + timedelta(minutes=10),
    )
    add_hold(  # expired: no longer holds anything
        db,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        chair=chair1,
        start_at=at(14),
        expires_at=NOW - timedelta(minutes=1),
    )

    page = day_board(db, location_id=clinic.location_id, day=DAY, now=NOW)
    assert page is not None
    board = page.board
    assert page.location.name == "Downtown"
    assert board.zone == "America/New_York"
    assert [r.label for r in board.chair_rows] == ["Chair 1", "Chair 2"]
    row1, row2 = board.chair_rows
    assert [(b.id, b.hold, b.start_label) for b in row1.blocks] == [(hold.id, True, "11:00")]
    (block,) = row2.blocks
    assert (block.id, block.patient_name, block.type_name, block.start_label) == (
        booked.id,
        "Jane Doe",
        "Ketamine infusion",
        "09:00",
    )
    (lane,) = board.provider_lanes
    assert [(b.id, b.patient_name) for b in lane.blocks] == [(consult.id, "Nia Adeyemi")]
    assert [s.provider_name for s in board.load_strips] == ["Nora Nurse, RN"]
    assert board.now_minute is None
    assert (page.previous_day, page.next_day) == (date(2026, 3, 2), date(2026, 3, 4))

    with_cancelled = day_board(
        db, location_id=clinic.location_id, day=DAY, now=NOW, include_cancelled=True
    )
    assert with_cancelled is not None
    assert [b.status for b in with_cancelled.board.chair_rows[0].blocks] == ["cancelled", "hold"]


def test_without_a_date_the_board_is_today_in_the_clinics_zone(db: Session, clinic: Clinic) -> None:
    late_evening = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)  # still 2 March in New York
    page = day_board(db, location_id=None, day=None, now=late_evening)
    assert page is not None
    assert page.day == page.today == date(2026, 3, 2)
    assert page.board.now_label == "22:30"


def test_unknown_location_is_not_found(db: Session, clinic: Clinic) -> None:
    with pytest.raises(NotFound):
        day_board(db, location_id=clinic.location_id + 1000, day=DAY, now=NOW)


@pytest.mark.parametrize("bookings", [1, 40])
def test_a_fixed_number_of_statements_whatever_the_bookings(
    db: Session, connection: Connection, clinic: Clinic, bookings: int
) -> None:
    chairs = [*clinic.chairs] + [
        make_chair(db, clinic.location, name=f"Chair {i}", position=i) for i in range(3, 11)
    ]
    for i in range(bookings):
        patient = make_patient(db, first_name=f"P{i}", email=f"p{i}@example.org")
        add_booking(
            db,
            patient=patient,
            appointment_type=clinic.infusion,
            provider=clinic.nurse,
            start_at=at(7) + timedelta(minutes=120 * (i // 10)),
            chair=chairs[i % 10],
        )
    location_id = clinic.location_id
    db.expire_all()
    with counted(connection) as sent:
        page = day_board(db, location_id=location_id, day=DAY, now=NOW)
    assert page is not None
    assert sum(len(r.blocks) for r in page.board.chair_rows) == bookings
    assert len(sent) == 5, sent
