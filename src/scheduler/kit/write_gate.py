"""Let one writing request at a time into the app (SQLite only).

SQLite has one writer: every request that may write starts ``BEGIN IMMEDIATE`` and holds the
database lock until it commits. Waiters sit in SQLite's busy handler, which polls with sleeps
growing to 100 ms, so whoever polls at the right moment wins and unlucky requests starve for
seconds (measured in benchmarks/README.md: p99 of 2.8-4.4 s at 16 clients, and a stall at
48). Queueing writers here instead, on the event loop in arrival order, costs them no thread,
no pooled connection and no lock while they wait, and hands the lock over the moment it is
free. Reads (GET, HEAD, OPTIONS) never wait. Several processes on one SQLite file still meet
in the busy handler; this orders the writers of one process.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SerialWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        # The lock is held until the app returns, which is after the commit (the session
        # dependency commits before the response is sent).
        async with self._lock:
            await self.app(scope, receive, send)
