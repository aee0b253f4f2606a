"""``DriverStatement`` runs a compiled statement through the driver: its parameters must
reach the database as SQLAlchemy's ``execute`` sends them, and its converted values must be
what ``execute`` returns, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Time,
    bindparam,
    insert,
    literal,
    select,
)
from sqlmodel import Session

from scheduler.db.statements import DriverStatement
from scheduler.db.types import UTCDateTime

META = MetaData()
PROBE = Table(
    "driver_probe",
    META,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
    Column("opens", Time),
    Column("on_day", Date),
    Column("name", String(50)),
)
ROWS = [
    {
        "id": 1,
        "at": datetime(2026, 3, 8, 6, 59, 59, 500_000, tzinfo=UTC),
        "opens": time(8, 30),
        "on_day": date(2026, 3, 8),
        "name": "Chair 1",
    },
    {
        "id": 2,
        "at": datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York")),
        "opens": time(0, 0, 0, 1),
        "on_day": date(2026, 11, 1),
        "name": "Ünïcode, \"quotes\" and 'apostrophes'",
    },
    {"id": 3, "at": None, "opens": None, "on_day": None, "name": None},
]
STATEMENT = (
    select(
        literal("probe", String).label("kind"),
        PROBE.c.id,
        PROBE.c.at,
        PROBE.c.opens,
        PROBE.c.on_day,
        PROBE.c.name,
    )
    .where(
        (PROBE.c.at >= bindparam("since")) | PROBE.c.at.is_(None),
        PROBE.c.id.in_([literal(1), literal(2), literal(3)]),
    )
    .order_by(PROBE.c.id)
)


def test_driver_rows_equal_what_execute_returns(db: Session) -> None:
    connection = db.connection()
    PROBE.create(connection)
    connection.execute(insert(PROBE), ROWS)
    # An aware datetime in another zone: the bind conversion must make it UTC as execute does.
    since = datetime(2026, 3, 8, 17, tzinfo=ZoneInfo("Australia/Sydney"))  # 06:00 UTC
    expected = [tuple(row) for row in connection.execute(STATEMENT, {"since": since}).all()]

    statement = DriverStatement(STATEMENT)
    converters = [
        statement.converter(connection.dialect, name)
        for name in ("kind", "id", "at", "opens", "on_day", "name")
    ]
    got = [
        tuple(
            convert(value) if value is not None else None
            for convert, value in zip(converters, row, strict=True)
        )
        for row in statement.rows(connection, {"since": since})
    ]
    assert got == expected
    assert [row[1] for row in got] == [1, 2, 3]
    assert got[0][2].tzinfo is UTC
    assert got[1][2] == ROWS[1]["at"].astimezone(UTC) + timedelta(0)


def test_driver_statements_are_reads_only() -> None:
    """Writes go through the session, where ORM events and instrumentation see them."""
    with pytest.raises(TypeError, match="SELECTs only"):
        DriverStatement(insert(PROBE))  # type: ignore[arg-type]
