"""Engine and session setup: SQLite as the embedded default, PostgreSQL (psycopg 3) in production.

On SQLite every connection runs in WAL mode with foreign keys on and a busy timeout, and a
transaction that may write starts with ``BEGIN IMMEDIATE``: writers queue on the database lock
up front instead of failing late with "database is locked" after reading stale data. Read-only
transactions (GET, HEAD and OPTIONS requests, login, feeds) begin deferred so they do not queue
behind writers.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session as SQLModelSession
from sqlmodel import create_engine

from scheduler.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "scheduler_read_only"
# SQLite: leave the transaction implicit (each statement its own), see ``StatementReader``.
NO_BEGIN = "scheduler_no_begin"
# Short OLTP queries of a fixed shape: no JIT, and a generic plan planned once per connection
# rather than a custom plan each execution (measurements in benchmarks/README.md).
#
# TimeZone=UTC: every instant is stored and used in UTC, and psycopg then hands back
# datetimes in datetime.timezone.utc, which convert for free (a named server zone sends each
# instant through zoneinfo).
PG_OPTIONS = "-c jit=off -c plan_cache_mode=force_generic_plan -c timezone=UTC"
# A pooled PostgreSQL connection idle this long is pinged before it is used again.
IDLE_PING_SECONDS = 10.0
_IDLE_SINCE = "scheduler_idle_since"
MUST_ROLL_BACK = "scheduler_must_roll_back"


def build_engine(settings: Settings) -> Engine:
    """Create the engine for ``settings.database_url`` with the per-dialect setup above."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=settings.sql_echo,
            hide_parameters=not settings.sql_echo,  # parameters are patients' data: never logged
            # Writers wait for SQLite's lock while holding a pooled connection: size the pool
            # like the request threadpool (40) so waiting writers cannot starve readers of
            # connections.
            pool_size=20,
            max_overflow=20,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        echo=settings.sql_echo,
        hide_parameters=not settings.sql_echo,
        connect_args={"options": PG_OPTIONS},
        pool_size=10,
        max_overflow=20,
    )
    _ping_idle_connections(engine)
    _track_writes(engine)
    return engine


def _track_writes(engine: Engine) -> None:
    """Note on each PostgreSQL transaction whether it wrote (or failed) at all.

    psycopg forgets every statement it prepared on the connection whenever a transaction is
    rolled back, so PostgreSQL parses and plans them all again for the next requests. A
    request that fails before writing anything (a 409 for a taken time, a 404) has nothing to
    undo: ``transaction.end`` commits it instead, which releases its locks just the same.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.info.pop(MUST_ROLL_BACK, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("SELECT"):
            conn.info[MUST_ROLL_BACK] = True

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        if context.connection is not None:
            context.connection.info[MUST_ROLL_BACK] = True


def only_read(session: Session) -> bool:
    """The session's PostgreSQL transaction ran only SELECTs, all successfully.

    Never asks a session whose flush failed for its connection: that session must be rolled
    back first, and asking would raise ``PendingRollbackError`` over the real error.
    """
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return False
    connection = session.connection()
    return connection.dialect.name == "postgresql" and not connection.info.get(MUST_ROLL_BACK)


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use only when it sat idle for a while.

    A connection that waited in the pool may have been closed under it (server restart, a
    firewall's idle timeout); the first request to use it would fail. SQLAlchemy's
    ``pool_pre_ping`` guards against that with a round trip on *every* checkout, which under
    load costs more than some of the requests' own statements. Connections in steady use do
    not go stale unnoticed: a disconnect error invalidates the whole pool at once. So only a
    connection idle for ``IDLE_PING_SECONDS`` is pinged, and replaced if the ping fails (the
    pool retries the checkout with a fresh connection).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("pooled connection failed its ping") from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module so "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(NO_BEGIN):
            return
        # Straight to the driver: SQLAlchemy's execution context around a BEGIN cost more
        # than the BEGIN (a twentieth of a booking's CPU).
        driver = conn.connection.dbapi_connection
        driver.execute("BEGIN" if options.get(READ_ONLY) else "BEGIN IMMEDIATE")


def build_sessionmaker(engine: Engine) -> sessionmaker[SQLModelSession]:
    return sessionmaker(bind=engine, class_=SQLModelSession, expire_on_commit=False)


def open_session(
    factory: sessionmaker[SQLModelSession], *, read_only: bool = False, snapshot: bool = False
) -> SQLModelSession:
    """A session whose first statement opens the transaction (deferred when ``read_only``).

    ``snapshot`` (read-only too): every statement sees one snapshot of the database. SQLite
    keeps one per read transaction anyway; PostgreSQL does with REPEATABLE READ (read-only,
    so it never fails with a serialization error). Creating the session does no I/O: no
    connection is checked out until the first statement, so it may be created on the event
    loop. Sessions of tests are bound to an open connection and keep its transaction.
    """
    bind = factory.kw.get("bind")
    if not (read_only or snapshot) or not isinstance(bind, Engine):
        return factory()
    options: dict[str, Any] = {READ_ONLY: True}
    if snapshot and bind.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return factory(bind=bind.execution_options(**options))


def build_statement_engine(settings: Settings, engine: Engine) -> Engine:
    """The engine for ``StatementReader``: on PostgreSQL a small pool of its own whose
    connections stay in autocommit mode (switching a shared connection in and out of it on
    every use cost more than the read); on SQLite the service's engine."""
    if engine.dialect.name != "postgresql":
        return engine
    statements = create_engine(
        settings.database_url,
        echo=settings.sql_echo,
        hide_parameters=not settings.sql_echo,
        connect_args={"options": PG_OPTIONS},
        isolation_level="AUTOCOMMIT",
        pool_size=2,
        max_overflow=8,
    )
    _ping_idle_connections(statements)
    return statements
