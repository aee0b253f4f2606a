"""One log line per request: method, route template, status, duration and request id.

The route *template* (``/api/v1/bookings/{booking_id}``) is logged, never the path itself nor
its query string: paths carry feed and manage tokens, and query strings carry patient searches
(names, e-mails, phone numbers, dates of birth). A request no route matched is logged with
route ``null``. Plain ASGI, like ``RequestId``, so it costs little per request; when INFO is
not enabled for ``scheduler.access`` it costs a level check. The same layer counts and times
each request for ``/metrics`` (``http.metrics.RequestMetrics``): one layer instead of two.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.logging_config import REQUEST_ID

if TYPE_CHECKING:
    from scheduler.http.metrics import RequestMetrics

logger = logging.getLogger("scheduler.access")


def route_template(scope: Scope) -> str | None:
    """The matched route's path template with its prefixes, or None when nothing matched.

    FastAPI (0.16x) keeps an included router's routes under the router and records the
    effective, prefixed route in ``scope["fastapi"]``; ``scope["route"]`` is the route as
    declared (without the prefix), and the plain Starlette routes placed in front of FastAPI's
    (feeds, ``POST /bookings``) set neither, only ``scope["endpoint"]``. tests/ops pin what
    each kind gives, so a FastAPI upgrade that moves these is caught there.
    """
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if template is None:
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return None
        template = _plain_route_templates(scope).get(endpoint)
        if template is None:
            template = getattr(scope.get("route"), "path_format", None)
    return str(template) if template is not None else None


def _plain_route_templates(scope: Scope) -> dict[object, str]:
    """Endpoint -> path template of the app's top-level routes, computed once per app."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    templates: dict[object, str] | None = getattr(state, "route_templates", None)
    if templates is None:
        templates = {}
        for route in getattr(getattr(app, "router", None), "routes", ()):
            endpoint = getattr(route, "endpoint", None)
            path = getattr(route, "path_format", None)
            if endpoint is not None and path is not None:
                templates.setdefault(endpoint, path)
        if state is not None:
            state.route_templates = templates
    return templates


class AccessLog:
    """Logs each request and counts it in ``metrics`` (one layer times both)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(scope.get("state", {}).get("request_id", ""))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe(scope, status, seconds, route)
            if logger.isEnabledFor(logging.INFO):
                duration_ms = round(seconds * 1000, 2)
                method = str(scope.get("method", ""))
                logger.info(
                    "%s %s %s %.1fms",
                    method,
                    route or "(no route)",
                    status,
                    duration_ms,
                    extra={
                        "http_method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                        "request_id": request_id,
                    },
                )
            REQUEST_ID.reset(token)
