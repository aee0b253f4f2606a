"""The service's app plus one trivial route served exactly as the calendar feed is.

``benchmarks/feeds.py`` compares a feed's 304 with this route's answer, so the ratio measures
the feed's own work (token check, validator, headers) and not a difference between route
classes or threads: both are ``DirectRoute``s whose handler takes one trip to the feed
threads and answers 304 with the same headers. Not part of the service.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request, Response

from scheduler.http.routes import DirectRoute, served_by
from scheduler.main import create_app as create_service_app

TRIVIAL_PATH = "/bench/trivial.ics"
_HEADERS = {
    "ETag": '"0123456789abcdef0123456789abcdef"',
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Vary": "Accept-Encoding",
}


def _answer(_request: Request) -> Response:
    return Response(status_code=304, headers=_HEADERS)


async def _serve_trivial(request: Request) -> Response:
    loop = asyncio.get_running_loop()
    executor: ThreadPoolExecutor = request.app.state.feed_executor
    return await loop.run_in_executor(executor, _answer, request)


@served_by(_serve_trivial)
def trivial(token: str) -> Any:  # pragma: no cover - documents the route
    raise NotImplementedError


def create_app() -> FastAPI:
    app = create_service_app()
    app.router.add_api_route(
        TRIVIAL_PATH, trivial, methods=["GET"], route_class_override=DirectRoute
    )
    # Tried right after the feed's route, as the feed's is tried first.
    route = app.router.routes.pop()
    feed = next(
        i for i, r in enumerate(app.router.routes) if getattr(r, "path", "") == "/feeds/{token}.ics"
    )
    app.router.routes.insert(feed + 1, route)
    return app
