"""Instants go into either database and come back as the same aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlmodel import Session

from scheduler.db.engine import build_engine
from scheduler.db.types import UTCDateTime
from tests.conftest import make_settings

INSTANTS = [
    pytest.param(datetime(2026, 3, 8, 7, 59, 59, 999_999, tzinfo=UTC), id="before_spring_forward"),
    pytest.param(datetime(2026, 3, 8, 2, 30, tzinfo=timezone(timedelta(hours=-5))), id="offset"),
    pytest.param(
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
        id="fall_back_fold",
    ),
    pytest.param(datetime(2027, 1, 1, tzinfo=ZoneInfo("Australia/Sydney")), id="whole_second"),
]


@pytest.mark.parametrize("instant", INSTANTS)
def test_an_instant_round_trips_as_aware_utc(db: Session, instant: datetime) -> None:
    table = Table("instant_probe", MetaData(), Column("id", Integer), Column("at", UTCDateTime))
    connection = db.connection()
    table.create(connection)
    connection.execute(insert(table), {"id": 1, "at": instant})
    loaded = connection.execute(select(table.c.at)).scalar_one()
    assert loaded == instant.astimezone(UTC)  # (PEP 495: a fold never equals another zone)
    assert loaded.tzinfo is UTC
    assert loaded.utcoffset() == timedelta(0)


def test_sqlite_text_written_by_hand_reads_back_too(tmp_path: Path) -> None:
    """SQLite stores instants as text; rows written by plain SQL (a fixture, a migration)
    may omit the microseconds, and still read back as the same instants."""
    engine = build_engine(make_settings(f"sqlite:///{tmp_path / 'text.db'}"))
    table = Table("instant_text", MetaData(), Column("id", Integer), Column("at", UTCDateTime))
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(text("INSERT INTO instant_text VALUES (1, '2026-03-03 14:00:00')"))
        connection.execute(insert(table), {"id": 2, "at": datetime(2026, 3, 3, 14, tzinfo=UTC)})
        loaded = connection.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
    engine.dispose()
    assert loaded == [datetime(2026, 3, 3, 14, tzinfo=UTC)] * 2
    assert all(value.tzinfo is UTC for value in loaded)
