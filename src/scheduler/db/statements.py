"""Pre-compiled statements run on the driver's cursor, for the two hot reads that need it.

Only the availability window (slot search) and the feed validator use this path: the
benchmarks show SQLAlchemy's per-execution overhead there costs more than the database's own
work (benchmarks/README.md). Every write goes through the session, so ORM events and
instrumentation see it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Engine, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from scheduler.db.engine import IDLE_PING_SECONDS, MUST_ROLL_BACK, NO_BEGIN

_sql_log = logging.getLogger("sqlalchemy.engine.Engine")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter order, or None when the driver takes names
    defaults: dict[str, Any]  # values the statement binds itself (literals)
    to_driver: dict[str, Callable[[Any], Any]]  # each parameter's conversion, where it has one
    columns: dict[str, Callable[[Any], Any] | None]  # each result column's conversion


class DriverStatement:
    """A Core statement compiled once per database and run on the driver's own cursor.

    Only for the two reads that run on every request (the slot search's window and the
    feed validator): SQLAlchemy's compiled-cache lookup, parameter and row
    processing and result set-up cost more there than the database's own work
    (benchmarks/README.md). The SQL, the parameter order and every conversion come from
    SQLAlchemy's own compiler and types, so values go in exactly as ``execute`` sends them;
    rows come back as the driver gives them, and ``converter`` hands out SQLAlchemy's
    conversion of a result column for the values that need one.

    It runs on the driver cursor of the SQLAlchemy connection, so the connection's
    transaction (begun by ``Session.connection()``) is the statement's. SELECTs only: every
    write goes through the session, where ORM events and instrumentation see it; no
    expanding ``IN`` parameters. Cursor events do not see it; with ``echo`` it is logged
    like the rest, and a driver error is raised as SQLAlchemy's ``DBAPIError`` subclass
    (``IntegrityError`` and so on; the connection invalidated on a disconnect), as
    ``execute`` would raise it.
    """

    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        if not isinstance(statement, Select | CompoundSelect):
            raise TypeError("DriverStatement runs SELECTs only; writes go through the session")
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        """Compiled once for ``dialect``."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect)
            to_driver: dict[str, Callable[[Any], Any]] = {}
            for name, bind in sql.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    to_driver[name] = process
            columns: dict[str, Callable[[Any], Any] | None] = {}
            for column in self.statement.selected_columns:
                impl = column.type.dialect_impl(dialect)
                columns[str(column.key)] = impl.result_processor(dialect, None)
            compiled = self._compiled[dialect.name] = _Compiled(
                sql=str(sql),
                positions=tuple(sql.positiontup or ()) if sql.positional else None,
                defaults={k: v for k, v in sql.params.items() if v is not None},
                to_driver=to_driver,
                columns=columns,
            )
        return compiled

    def rows(self, connection: Connection, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run it and fetch every row, as the driver's tuples in the selected columns' order
        (``converter`` gives a column's conversion where its values need one)."""
        compiled = self._for(connection.dialect)
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
        driver = connection.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, driver_params)
            return list(cursor.fetchall())
        except connection.dialect.loaded_dbapi.Error as exc:
            connection.info[MUST_ROLL_BACK] = True  # as the handle_error event would note
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
