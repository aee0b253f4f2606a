"""Route classes. Each endpoint is one route object, and its OpenAPI entry is that route.

``CommitRoute`` commits a sync endpoint's transaction in the endpoint's own thread (one trip
to the threadpool per request instead of two; see benchmarks/README.md). ``DirectRoute`` is
for the few endpoints whose per-request cost matters most (the calendar feed): it is
documented from its endpoint like any route, but serves requests with a handler that takes
the ``Request`` itself, skipping FastAPI's dependency solving.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from scheduler.http.transaction import complete_request

T = TypeVar("T")


class CommitRoute(APIRoute):
    """A route whose sync endpoint commits the request's transaction in its own thread.

    The endpoint runs through ``complete_request``: committed as soon as it returns, rerun
    whole after a transient abort, rolled back by the session dependency if it raises.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _committing(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads parameters and annotations through __wrapped__
    def run(*args: Any, **kwargs: Any) -> Any:
        return complete_request(lambda: endpoint(*args, **kwargs))

    return run


async def run_and_commit(endpoint: Callable[..., T], *args: Any) -> T:
    """What ``CommitRoute`` does for a sync endpoint, for a handler that calls one itself."""
    result: T = await run_in_threadpool(_committing(endpoint), *args)
    return result


Handler = Callable[[Request], Awaitable[Response]]
_DIRECT_HANDLER = "scheduler_direct_handler"


def served_by(handler: Handler) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Mark an endpoint to be served by ``handler`` when its route is a ``DirectRoute``."""

    def mark(endpoint: Callable[..., T]) -> Callable[..., T]:
        setattr(endpoint, _DIRECT_HANDLER, handler)
        return endpoint

    return mark


class DirectRoute(APIRoute):
    """A documented route served by ``handler(request)`` instead of dependency solving.

    The OpenAPI entry comes from the endpoint (its parameters, body and responses), as for
    any route; requests go to the handler the endpoint was marked with (``served_by``),
    which must accept exactly what the endpoint documents, answer as it does, and run it
    (or the same service call) through the same transaction (``run_and_commit``).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        handler = getattr(endpoint, _DIRECT_HANDLER, None)
        if handler is None:
            msg = f"{endpoint.__name__} has no handler: mark it with @served_by(handler)"
            raise TypeError(msg)
        self.handler: Handler = handler
        super().__init__(path, endpoint, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """HEAD is answered wherever GET is, as Starlette's own routes do; the OpenAPI entry
        documents GET only (one route documented under two methods would repeat its
        operation id). The handler sees the HEAD and sends no body."""
        match, child_scope = super().matches(scope)
        if (
            match is Match.PARTIAL
            and scope.get("method") == "HEAD"
            and "GET" in (self.methods or ())
        ):
            return Match.FULL, child_scope
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD" and "GET" in (self.methods or ()):
            await self.app(scope, receive, send)
            return
        await super().handle(scope, receive, send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = self.handler

        async def serve(request: Request) -> Response:
            return await handler(request)

        return serve
