"""Kept connections for single-statement reads: one per thread, reused, replaced when broken,
and errors from the driver surface as SQLAlchemy's (so the app answers them as usual)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, literal, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from scheduler import db
from scheduler.db.engine import build_engine, build_statement_engine
from scheduler.db.statements import DriverStatement, StatementReader
from tests.conftest import BACKENDS, dispose_database, fresh_database_url, make_settings

PID = {
    "postgresql": DriverStatement(select(literal(1).label("one"), text("pg_backend_pid()"))),
}
ONE = DriverStatement(select(literal(1).label("one")))


@pytest.fixture(params=BACKENDS)
def statements(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = fresh_database_url(request.param, tmp_path, "reader")
    settings = make_settings(url)
    engine = build_engine(settings)
    statements = build_statement_engine(settings, engine)
    yield statements
    statements.dispose()
    engine.dispose()
    dispose_database(url)


def test_each_thread_keeps_one_connection_and_close_gives_them_back(statements: Engine) -> None:
    reader = StatementReader(statements)
    seen: dict[str, list[int]] = {}

    def read_twice(name: str) -> None:
        for _ in range(2):
            with reader.connection() as connection:
                assert ONE.rows(connection, {}) == [(1,)]
                seen.setdefault(name, []).append(id(connection))

    threads = [threading.Thread(target=read_twice, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen["a"])) == 1  # kept between reads
    assert set(seen["a"]) != set(seen["b"])  # not shared between threads
    assert statements.pool.checkedout() == 2
    reader.close()
    assert statements.pool.checkedout() == 0


def _kill(engine: Engine, pid: int) -> None:
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()


def test_a_connection_killed_while_idle_is_pinged_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_database_url("postgresql", tmp_path, "reader_ping")
    settings = make_settings(url)
    engine = build_engine(settings)
    statements = build_statement_engine(settings, engine)
    reader = StatementReader(statements)
    try:
        with reader.connection() as connection:
            [(_, pid)] = PID["postgresql"].rows(connection, {})
        _kill(statements, pid)
        monkeypatch.setattr(db.statements, "IDLE_PING_SECONDS", 0.0)
        with reader.connection() as connection:
            [(_, replaced)] = PID["postgresql"].rows(connection, {})
        assert replaced != pid
        # Not idle long enough to be pinged: the read fails as SQLAlchemy's error, once, and
        # the broken connection is replaced for the next read.
        _kill(statements, replaced)
        monkeypatch.setattr(db.statements, "IDLE_PING_SECONDS", 3600.0)
        with pytest.raises(OperationalError), reader.connection() as connection:
            PID["postgresql"].rows(connection, {})
        with reader.connection() as connection:
            [(_, third)] = PID["postgresql"].rows(connection, {})
        assert third not in (pid, replaced)
    finally:
        reader.close()
        statements.dispose()
        engine.dispose()
        dispose_database(url)


def test_driver_errors_are_sqlalchemy_errors(statements: Engine) -> None:
    missing = DriverStatement(select(text("x")).select_from(text("no_such_table")))
    reader = StatementReader(statements)
    try:
        with pytest.raises(DBAPIError), reader.connection() as connection:
            missing.rows(connection, {})
        with reader.connection() as connection:  # and the connection still reads
            assert ONE.rows(connection, {}) == [(1,)]
    finally:
        reader.close()
