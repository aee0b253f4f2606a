"""The unit of work: one session, one transaction, and the one place that decides how it ends.

Every caller goes through here: HTTP requests (``scheduler.http.transaction`` opens the
session and lets its route class call ``complete``), the background worker and the CLI
(``unit_of_work``/``run_in_transaction``). The rules, the same for all of them:

- ``complete`` runs the work and commits. When PostgreSQL aborts the transaction for a
  deadlock, a serialization failure or a lock timeout (``TRANSIENT_SQLSTATES``), it rolls back
  and runs the whole work again, up to ``TRANSIENT_ATTEMPTS`` times; the work must therefore
  redo all of the transaction's writes (an endpoint or a job does).
- Any other error propagates unchanged (an ``IntegrityError`` at flush or commit stays an
  ``IntegrityError``, so the HTTP layer can name the constraint); ``end(commit=False)`` then
  rolls back. A session whose flush failed is never asked anything before that rollback, so
  the real error is never replaced by ``PendingRollbackError``.
- Services and repositories never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import Session as SQLModelSession

from scheduler.db.engine import only_read, open_session

T = TypeVar("T")

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
TRANSIENT_ATTEMPTS = 3


def is_transient(exc: BaseException) -> bool:
    """An error after which the same transaction, run again, may well succeed."""
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
    )


def complete(session: Session, work: Callable[[], T]) -> T:
    """Run ``work`` in the session's transaction and commit it, retrying transient aborts.

    Leaves the session open; on an error that is not retried the caller ends it with
    ``end(session, commit=False)``.
    """
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            result = work()
            session.commit()
        except DBAPIError as exc:
            if attempt == TRANSIENT_ATTEMPTS or not is_transient(exc):
                raise
            session.rollback()
        else:
            return result
    raise AssertionError("unreachable")


def end(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) what is left of the transaction and close the session."""
    try:
        if not commit:
            if only_read(session):
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
def unit_of_work(
    factory: sessionmaker[SQLModelSession], *, read_only: bool = False, snapshot: bool = False
) -> Iterator[SQLModelSession]:
    """A session whose transaction commits when the block ends normally, else rolls back.

    For the worker and the CLI (and the feed's snapshot read). It cannot retry its block:
    use ``run_in_transaction`` where a transient abort should be retried.
    """
    session = open_session(factory, read_only=read_only, snapshot=snapshot)
    try:
        yield session
    except BaseException:
        end(session, commit=False)
        raise
    end(session, commit=True)


def run_in_transaction(
    factory: sessionmaker[SQLModelSession],
    work: Callable[[SQLModelSession], T],
    *,
    read_only: bool = False,
) -> T:
    """``work(session)`` as one transaction: committed, retried on transient aborts (see
    ``complete``), rolled back on any other error. For background jobs and the CLI."""
    session = open_session(factory, read_only=read_only)
    try:
        result = complete(session, lambda: work(session))
    except BaseException:
        end(session, commit=False)
        raise
    session.close()
    return result


class Statements:
    """Runs single writing statements, each committed by itself: ``run(work)`` where
    ``work(session)`` executes ONE statement. Made by ``statements``."""

    def __init__(self, factory: sessionmaker[SQLModelSession]) -> None:
        self.factory = factory
        bind = factory.kw.get("bind")
        self._autocommit = (
            _autocommitting(bind)
            if isinstance(bind, Engine) and bind.dialect.name == "postgresql"
            else None
        )
        self._session: SQLModelSession | None = None

    def run(self, work: Callable[[SQLModelSession], T]) -> T:
        if self._autocommit is None:
            return run_in_transaction(self.factory, work)
        if self._session is None:
            self._session = self.factory(bind=self._autocommit)
        return work(self._session)

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


@contextmanager
def statements(factory: sessionmaker[SQLModelSession]) -> Iterator[Statements]:
    """A runner for single writing statements, each committed by itself (``Statements.run``).

    On PostgreSQL the statements run in autocommit mode, on one session and connection kept
    for the block: one round trip each where a transaction takes three (BEGIN, the
    statement, COMMIT), and no session to open and no connection to check out and give back
    per statement. A single statement is atomic either way, and durable when ``run``
    returns. The worker records each message it sent like this, hundreds a second
    (benchmarks/README.md, "Worker"), one block per claimed batch, so no connection is held
    while it idles (the pool checks one that sat idle before handing it out). On SQLite, or
    with a session bound to a test's connection, each ``run`` is an ordinary
    ``run_in_transaction``.
    """
    runner = Statements(factory)
    try:
        yield runner
    finally:
        runner.close()


@lru_cache(maxsize=8)
def _autocommitting(engine: Engine) -> Engine:
    """``engine``'s connections in autocommit mode (made once: building it is not free)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def snapshot_transaction(factory: sessionmaker[SQLModelSession]) -> Iterator[SQLModelSession]:
    """A read-only transaction on one snapshot, for a request that does all its database work
    in one thread (calendar feeds: a validator and the rows it describes must agree).

    Committed, although nothing is written: psycopg forgets the statements it prepared in a
    transaction that is rolled back, and PostgreSQL would then plan them anew every time.
    """
    with unit_of_work(factory, snapshot=True) as session:
        yield session
