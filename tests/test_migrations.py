"""Migrations round-trip on both databases and match the models (what CI also relies on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from scheduler.migrate import check, downgrade, upgrade
from tests.conftest import dispose_database, fresh_database_url


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_upgrade_check_downgrade_upgrade(backend_name: str, tmp_path: Path) -> None:
    url = fresh_database_url(backend_name, tmp_path, "migrations")
    try:
        upgrade(url)
        check(url)  # raises when autogenerate would find a difference
        downgrade(url, "base")
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        upgrade(url)
        engine = create_engine(url)
        tables = set(inspect(engine).get_table_names())
        assert {"booking", "hold", "audit_event", "location", "feed_token"} <= tables
        if backend_name == "postgresql":
            with engine.connect() as conn:
                names = conn.execute(
                    text("SELECT conname FROM pg_constraint WHERE contype = 'x'")
                ).scalars()
                assert "ex_booking_chair_time" in set(names)
        engine.dispose()
    finally:
        dispose_database(url)
