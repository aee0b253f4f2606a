"""One request, one session, one transaction, ended by ``scheduler.db.transaction``.

The dependency below opens the session on the event loop (no I/O happens then) and makes it
the request's; the route class (``routes.CommitRoute``) runs a sync endpoint through
``complete_request`` in the endpoint's own worker thread, which commits there, retrying the
whole endpoint after a transient abort (``db.transaction.complete``). On any error the
dependency rolls the transaction back. Staff, public and feed endpoints all go this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session as SQLModelSession
from starlette.concurrency import run_in_threadpool

from scheduler.db.engine import open_session
from scheduler.db.transaction import complete, end

T = TypeVar("T")
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


def complete_request(work: Callable[[], T]) -> T:
    """Run ``work`` (an endpoint) in the current request's transaction and commit it here.

    A transient abort runs ``work`` again after a rollback (``db.transaction.complete``);
    any other error propagates, and the dependency rolls back. Without a request
    transaction (an endpoint that takes no session) ``work`` simply runs.
    """
    transaction = _current.get()
    if transaction is None or transaction.finished:
        return work()
    result = complete(transaction.session, work)
    transaction.finished = True
    transaction.session.close()
    return result


@asynccontextmanager
async def request_transaction(
    request: Request, *, read_only: bool
) -> AsyncIterator[SQLModelSession]:
    """The request's session; rolled back on error, committed at the end if the route class
    did not commit it already (an async endpoint).

    On SQLite a writing transaction first waits for ``app.state.write_gate``: SQLite has one
    writer, and waiters in its busy handler poll with growing sleeps, so whoever polls at the
    right moment wins and unlucky requests starve for seconds. The gate queues one process's
    writers in arrival order on the event loop, holding no thread, connection or database
    lock while they wait. Several processes on one SQLite file still meet in the busy handler.
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
                await run_in_threadpool(end, session, commit=False)
            raise
        finally:
            _current.reset(token)
        if not transaction.finished:
            transaction.finished = True
            await run_in_threadpool(end, session, commit=True)
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
