"""Pooled PostgreSQL connections: a connection closed while it waited in the pool is noticed
before a request uses it (it is pinged only after sitting idle, not on every checkout)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from scheduler import db
from tests.conftest import dispose_database, fresh_database_url, make_settings


@pytest.fixture
def pg_engine(tmp_path: Path) -> Iterator[Engine]:
    url = fresh_database_url("postgresql", tmp_path, "pool")
    engine = db.build_engine(make_settings(url))
    yield engine
    engine.dispose()
    dispose_database(url)


def _kill_pooled_connection(engine: Engine) -> int:
    """Close the pool's only connection from the server side, as a restart would."""
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()
    return pid


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_closed_while_idle_is_replaced_before_use(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _kill_pooled_connection(pg_engine)
    monkeypatch.setattr(db.engine, "IDLE_PING_SECONDS", 0.0)  # it has been idle "long enough"
    assert _backend_pid(pg_engine) != dead


def test_a_busy_connection_is_not_pinged_and_a_failure_resets_the_pool(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the idle ping the dead connection is used and fails once; the failure throws
    the pool's connections away, so the very next request works again."""
    _kill_pooled_connection(pg_engine)
    monkeypatch.setattr(db.engine, "IDLE_PING_SECONDS", 3600.0)
    with pytest.raises(OperationalError):
        _backend_pid(pg_engine)
    assert _backend_pid(pg_engine) > 0
