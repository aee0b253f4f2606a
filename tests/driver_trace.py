"""What a database driver connection actually sends, whoever sends it (SQLAlchemy, or the
app's ``DriverStatement`` on the driver's own cursor)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sent:
    sql: str  # SQLite: as executed, with the values inlined; psycopg: the query text
    params: Any
    autocommit: bool  # no transaction around it


def trace(driver: Any, sent: list[Sent]) -> None:
    """Record every statement ``driver`` (a sqlite3 or psycopg connection) executes from now."""
    if isinstance(driver, sqlite3.Connection):
        driver.set_trace_callback(
            lambda sql: sent.append(Sent(sql, None, autocommit=not driver.in_transaction))
        )
        return
    base = driver.cursor_factory

    class Recording(base):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            text = query.decode() if isinstance(query, bytes) else str(query)
            sent.append(Sent(text, params, autocommit=bool(self.connection.autocommit)))
            return super().execute(query, params, **kwargs)

    driver.cursor_factory = Recording


@contextmanager
def traced(driver: Any) -> Iterator[list[Sent]]:
    sent: list[Sent] = []
    if isinstance(driver, sqlite3.Connection):
        trace(driver, sent)
        try:
            yield sent
        finally:
            driver.set_trace_callback(None)
        return
    base = driver.cursor_factory
    trace(driver, sent)
    try:
        yield sent
    finally:
        driver.cursor_factory = base


def statements(sent: list[Sent]) -> list[str]:
    """The statements proper: no transaction control (BEGIN, SAVEPOINT, ...)."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [s.sql for s in sent if not s.sql.lstrip().upper().startswith(control)]
