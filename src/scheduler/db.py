"""Database plumbing: engine, one session (= one transaction) per request, the UTC column type.

SQLite is the embedded default, PostgreSQL the production database (psycopg 3).

On SQLite every connection runs in WAL mode with foreign keys on and a busy timeout, and a
transaction that may write starts with ``BEGIN IMMEDIATE``: writers queue on the database lock
up front instead of failing late with "database is locked" after reading stale data. Read-only
transactions (GET, HEAD and OPTIONS requests, login, feeds) begin deferred so they do not queue
behind writers.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy import CompoundSelect, Connection, DateTime, Engine, Insert, Select, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session as SQLModelSession
from sqlmodel import create_engine
from starlette.concurrency import run_in_threadpool

from scheduler.config import Settings

T = TypeVar("T")
_sql_log = logging.getLogger("sqlalchemy.engine.Engine")
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "scheduler_read_only"
# SQLite: leave the transaction implicit (each statement its own), see ``StatementReader``.
NO_BEGIN = "scheduler_no_begin"
# Short OLTP queries of a fixed shape. JIT compiled the feed query for longer (~240 ms) than
# it ran. And psycopg prepares every repeated statement, but for some (the feed validator,
# the calendar and commitments queries) PostgreSQL kept choosing a custom plan, planning anew
# on each execution (0.3-0.5 ms, more than running them): a generic plan is planned once per
# connection (benchmarks/README.md).
#
# TimeZone=UTC: every instant is stored and used in UTC, and psycopg then hands back
# datetimes in datetime.timezone.utc, which convert for free; under a named server zone each
# of the ~1,000 instants of a month's search went through zoneinfo (5 % of a search).
PG_OPTIONS = "-c jit=off -c plan_cache_mode=force_generic_plan -c timezone=UTC"
# A pooled PostgreSQL connection idle this long is pinged before it is used again.
IDLE_PING_SECONDS = 10.0
_IDLE_SINCE = "scheduler_idle_since"


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: stored in UTC, always returned as an aware UTC datetime.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text, which this type tags as UTC
    on the way out, so both databases give back exactly the same values. A naive datetime is a
    programming error here (the API rejects naive input long before), so it raises.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"naive datetime {value!r} cannot be stored as an instant"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, parse the stored text with ``datetime.fromisoformat`` (C) rather than
        the generic DATETIME processor's regular expression: a month's slot search reads
        ~1,000 instants, and that parsing was a fifth of it. Same values either way."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, datetime):  # a driver-side converter got there first
                return self.process_result_value(value, dialect)
            return parse(value).replace(tzinfo=UTC)

        return process


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


_MUST_ROLL_BACK = "scheduler_must_roll_back"


def _track_writes(engine: Engine) -> None:
    """Note on each PostgreSQL transaction whether it wrote (or failed) at all.

    psycopg forgets every statement it prepared on the connection whenever a transaction is
    rolled back, so PostgreSQL parses and plans them all again for the next requests. A
    request that fails before writing anything (a 409 for a taken time, a 404) has nothing to
    undo: ``end_transaction`` commits it instead, which releases its locks just the same.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.info.pop(_MUST_ROLL_BACK, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("SELECT"):
            conn.info[_MUST_ROLL_BACK] = True

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        if context.connection is not None:
            context.connection.info[_MUST_ROLL_BACK] = True


def _only_read(session: Session) -> bool:
    """The session's PostgreSQL transaction ran only SELECTs, all successfully."""
    if not session.in_transaction():
        return False
    connection = session.connection()
    return connection.dialect.name == "postgresql" and not connection.info.get(_MUST_ROLL_BACK)


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


def _finish(session: SQLModelSession, *, commit: bool) -> None:
    try:
        if not commit:
            if _only_read(session):
                session.commit()  # nothing to undo; keeps psycopg's prepared statements
            else:
                session.rollback()
            return
        try:
            session.commit()
        except BaseException:
            # A COMMIT refused by a deferred constraint leaves SQLite's transaction open (and
            # its write lock held); closing the session alone would not end it.
            with suppress(Exception):
                session.rollback()
            raise
    finally:
        session.close()


@contextmanager
def snapshot_transaction(factory: sessionmaker[SQLModelSession]) -> Iterator[SQLModelSession]:
    """A read-only transaction on one snapshot, for a request that does all its database work
    in one thread (calendar feeds: a validator and the rows it describes must agree).

    Committed, although nothing is written: psycopg forgets the statements it prepared in a
    transaction that is rolled back, and PostgreSQL would then plan them anew every time.
    """
    session = open_session(factory, snapshot=True)
    try:
        yield session
    except BaseException:
        _finish(session, commit=False)
        raise
    _finish(session, commit=True)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter order, or None when the driver takes names
    defaults: dict[str, Any]  # values the statement binds itself (literals)
    to_driver: dict[str, Callable[[Any], Any]]  # each parameter's conversion, where it has one
    columns: dict[str, Callable[[Any], Any] | None]  # each result column's conversion


_NO_KEYS: frozenset[str] = frozenset()  # a SELECT is compiled once, whatever its values


class DriverStatement:
    """A Core statement compiled once per database and run on the driver's own cursor.

    For the few statements that run on every request (the slot search's window, the feed
    validator, a booking's inserts): SQLAlchemy's compiled-cache lookup, parameter and row
    processing and result set-up cost more there than the database's own work
    (benchmarks/README.md). The SQL, the parameter order and every conversion come from
    SQLAlchemy's own compiler and types, so values go in exactly as ``execute`` sends them;
    rows come back as the driver gives them, and ``converter`` hands out SQLAlchemy's
    conversion of a result column for the values that need one.

    It runs on the driver cursor of the SQLAlchemy connection, so the connection's
    transaction (begun by ``Session.connection()``) is the statement's. SELECTs and INSERTs
    (an INSERT marks the transaction as written, so a failed request rolls it back); no
    expanding ``IN`` parameters. Cursor events do not see it; with ``echo`` it is logged
    like the rest, and a driver error is raised as SQLAlchemy's ``DBAPIError`` subclass
    (``IntegrityError`` and so on; the connection invalidated on a disconnect), as
    ``execute`` would raise it.
    """

    def __init__(self, statement: Any) -> None:
        if not isinstance(statement, Select | CompoundSelect | Insert):
            raise TypeError("DriverStatement runs SELECTs and INSERTs only")
        self.statement = statement
        self._writes = isinstance(statement, Insert)
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def _for(self, dialect: Dialect, keys: frozenset[str] = _NO_KEYS) -> _Compiled:
        """Compiled for ``dialect``; an INSERT for the columns it is given (``keys``)."""
        cache_key = (dialect.name, keys)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            sql = self.statement.compile(
                dialect=dialect, column_keys=sorted(keys) if self._writes else None
            )
            to_driver: dict[str, Callable[[Any], Any]] = {}
            for name, bind in sql.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    to_driver[name] = process
            columns: dict[str, Callable[[Any], Any] | None] = {}
            if not isinstance(self.statement, Insert):
                for column in self.statement.selected_columns:
                    impl = column.type.dialect_impl(dialect)
                    columns[str(column.key)] = impl.result_processor(dialect, None)
            compiled = self._compiled[cache_key] = _Compiled(
                sql=str(sql),
                positions=tuple(sql.positiontup or ()) if sql.positional else None,
                defaults={k: v for k, v in sql.params.items() if v is not None},
                to_driver=to_driver,
                columns=columns,
            )
        return compiled

    def rows(self, connection: Connection, values: dict[str, Any]) -> list[Any]:
        """Run it and fetch every row (an INSERT's only with RETURNING)."""
        return self._run(connection, values, fetch=True)

    def execute(self, connection: Connection, values: dict[str, Any]) -> None:
        """Run it for its effect (an INSERT)."""
        self._run(connection, values, fetch=False)

    def _run(self, connection: Connection, values: dict[str, Any], *, fetch: bool) -> list[Any]:
        compiled = self._for(connection.dialect, frozenset(values) if self._writes else _NO_KEYS)
        params = {**compiled.defaults, **values}
        for name, process in compiled.to_driver.items():
            if name in params:
                params[name] = process(params[name])
        driver_params: Any = (
            params
            if compiled.positions is None
            else tuple(params[name] for name in compiled.positions)
        )
        if connection.engine.echo:
            _sql_log.info("%s", compiled.sql)
        if self._writes:
            connection.info[_MUST_ROLL_BACK] = True  # as the cursor event would note
        driver = connection.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, driver_params)
            return list(cursor.fetchall()) if fetch else []
        except connection.dialect.loaded_dbapi.Error as exc:
            connection.info[_MUST_ROLL_BACK] = True  # as the handle_error event would note
            disconnected = connection.dialect.is_disconnect(exc, driver, cursor)
            if disconnected:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql,
                driver_params,
                exc,
                connection.dialect.loaded_dbapi.Error,
                hide_parameters=connection.engine.hide_parameters,
                connection_invalidated=disconnected,
                dialect=connection.dialect,
            ) from exc
        finally:
            cursor.close()

    def converter(self, dialect: Dialect, column: str) -> Callable[[Any], Any]:
        """SQLAlchemy's conversion of a result column's driver value (identity if none)."""
        process = self._for(dialect).columns[column]
        return process if process is not None else _identity


def _identity(value: Any) -> Any:
    return value


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


class StatementReader:
    """Connections for reads that need no transaction around them, one per thread, kept.

    Each read is one statement, which sees one snapshot anyway: no BEGIN and no COMMIT, so
    a read costs a single round trip (PostgreSQL runs it in autocommit mode, see
    ``build_statement_engine``; SQLite as its own implicit transaction). The threads that
    use it (the calendar feed's two) keep their connection between requests: checking one
    out of the pool and back in cost as much as the validator's statement. A connection
    found broken is replaced on its next use, and one idle for ``IDLE_PING_SECONDS`` is
    pinged first, as the pool would. Tests bound to a connection read through that
    connection (inside its transaction), so the read sees the test's rows.
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self._local = threading.local()
        self._opened: list[Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if isinstance(self.bind, Connection):
            yield self.bind
            return
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._open(self.bind)
        elif time.monotonic() - self._local.used_at >= IDLE_PING_SECONDS:
            connection = self._pinged(self.bind, connection)
        try:
            yield connection
        finally:
            self._local.used_at = time.monotonic()

    def _open(self, engine: Engine) -> Connection:
        connection = engine.connect()
        if connection.dialect.name != "postgresql":
            connection.execution_options(**{NO_BEGIN: True})
        self._local.connection = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def _pinged(self, engine: Engine, connection: Connection) -> Connection:
        try:
            driver = connection.connection.dbapi_connection
            assert driver is not None
            engine.dialect.do_ping(driver)
        except Exception as exc:  # any failure: this connection is done for
            connection.invalidate(exc)
            connection.close()
            return self._open(engine)
        return connection

    def close(self) -> None:
        """Give every kept connection back (after the threads that used them stopped)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class _RequestTransaction:
    session: SQLModelSession
    finished: bool = False


# The transaction of the request being served: set by ``request_transaction`` on the event
# loop, seen by the endpoint in its worker thread (the threadpool runs it in a copy of the
# request's context, and the object is shared).
_current: ContextVar[_RequestTransaction | None] = ContextVar(
    "scheduler_request_transaction", default=None
)


def finish_request_transaction() -> None:
    """Commit the current request's transaction now, in this thread (see ``CommitRoute``)."""
    transaction = _current.get()
    if transaction is not None and not transaction.finished:
        transaction.finished = True  # whatever happens below, the dependency must not redo it
        _finish(transaction.session, commit=True)


class CommitRoute(APIRoute):
    """A route whose sync endpoint commits the request's transaction in its own thread.

    FastAPI runs a sync endpoint in the threadpool, and the session dependency's commit would
    take a second trip there after it returns; each trip costs ~0.1 ms of CPU (benchmarks/),
    more than a short transaction's commit. With this route class the endpoint's thread
    commits as soon as the endpoint returns, and the dependency only closes. An endpoint that
    raises commits nothing: the dependency rolls back as before.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _committing(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads parameters and annotations through __wrapped__
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        finish_request_transaction()
        return result

    return run


async def run_and_commit(endpoint: Callable[..., T], *args: Any) -> T:
    """What ``CommitRoute`` does for a sync endpoint, for a route that calls one itself:
    run it in the threadpool (in a copy of this context, so it sees the transaction opened
    by ``request_transaction``) and commit in that same thread when it returns."""
    result: T = await run_in_threadpool(_committing(endpoint), *args)
    return result


@asynccontextmanager
async def request_transaction(
    request: Request, *, read_only: bool
) -> AsyncIterator[SQLModelSession]:
    """One request, one session, one transaction.

    Committed when the endpoint returns without error (FastAPI runs this before sending the
    response, since the dependency yields), rolled back on any error. Services and repositories
    never commit. The session is opened on the event loop (no I/O happens then). The commit,
    which talks to the database, runs in the endpoint's own worker thread (``CommitRoute``),
    or else in the threadpool after the endpoint returns; a rollback always runs there.

    On SQLite a writing transaction first waits for ``app.state.write_gate``: SQLite has one
    writer, and waiters in its busy handler poll with sleeps growing to 100 ms, so whoever
    polls at the right moment wins and unlucky requests starve for seconds (benchmarks/). The
    gate queues one process's writers in arrival order on the event loop, holding no thread,
    connection or database lock while they wait, and hands over the moment the previous
    writer commits. Several processes on one SQLite file still meet in the busy handler.
    """
    gate: asyncio.Lock | None = (
        None if read_only else getattr(request.app.state, "write_gate", None)
    )
    if gate is not None:
        await gate.acquire()
    try:
        factory: sessionmaker[SQLModelSession] = request.app.state.sessionmaker
        session = open_session(factory, read_only=read_only)
        transaction = _RequestTransaction(session)
        token = _current.set(transaction)
        try:
            yield session
        except BaseException:
            if not transaction.finished:
                transaction.finished = True
                await run_in_threadpool(_finish, session, commit=False)
            raise
        finally:
            _current.reset(token)
        if not transaction.finished:
            transaction.finished = True
            await run_in_threadpool(_finish, session, commit=True)
    finally:
        if gate is not None:
            gate.release()


async def get_session(request: Request) -> AsyncIterator[SQLModelSession]:
    """The request's transaction: deferred (read-only) for GET/HEAD/OPTIONS, else writing."""
    async with request_transaction(request, read_only=request.method in READ_METHODS) as s:
        yield s


async def get_read_session(request: Request) -> AsyncIterator[SQLModelSession]:
    """A read-only transaction whatever the method (a POST that only reads, such as login,
    need not queue behind writers nor hold SQLite's write lock)."""
    async with request_transaction(request, read_only=True) as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit is the
# response (an error), never a success the database did not keep.
SessionDep = Annotated[SQLModelSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[SQLModelSession, Depends(get_read_session, scope="function")]


# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
TRANSIENT_ATTEMPTS = 3


def is_transient(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` again (after a rollback) when PostgreSQL aborts it for a deadlock or a
    serialization failure. ``work`` must redo the whole transaction's writes."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return work()
        except DBAPIError as exc:
            if attempt == TRANSIENT_ATTEMPTS or not is_transient(exc):
                raise
            session.rollback()
    raise AssertionError("unreachable")
