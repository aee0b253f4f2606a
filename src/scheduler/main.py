"""Application factory. Nothing is built at import time: ``create_app(settings)`` does it."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler import health
from scheduler.availability.cache import OpenStartsCache
from scheduler.config import Settings, get_settings
from scheduler.db.engine import build_engine, build_sessionmaker, build_statement_engine
from scheduler.db.statements import StatementReader
from scheduler.feeds.cache import FeedRenderCache
from scheduler.http.access_log import AccessLog
from scheduler.http.body_guard import BodyGuard
from scheduler.http.docs import install_docs
from scheduler.http.metrics import RequestMetrics, metrics_route
from scheduler.http.openapi import install_openapi
from scheduler.http.problems import install_error_handlers
from scheduler.http.request_id import RequestId
from scheduler.kit.clock import Clock, SystemClock
from scheduler.kit.malloc import limit_malloc_arenas
from scheduler.kit.ratelimit import RateLimiter
from scheduler.kit.redact import RedactingFilter
from scheduler.logging_config import configure_logging

API_PREFIX = "/api/v1"


def _api_routers() -> list[APIRouter]:
    """Every ``/api/v1`` router, the most requested first.

    FastAPI tries the routes in order on every request, and each try costs a few
    microseconds, so slot searches and bookings come before the rarely used admin resources.
    """
    # Imported here so that importing scheduler.main stays cheap and side-effect free.
    from scheduler.appointment_types.router import router as appointment_types
    from scheduler.audit.router import router as audit
    from scheduler.auth.router import router as auth
    from scheduler.availability.router import router as slots
    from scheduler.bookings.router import router as bookings
    from scheduler.feeds.router import router as feeds
    from scheduler.locations.router import router as locations
    from scheduler.notifications.router import public_router as public_notifications
    from scheduler.notifications.router import router as notifications
    from scheduler.patients.router import router as patients
    from scheduler.providers.router import router as providers
    from scheduler.public.router import router as public
    from scheduler.series.router import router as series
    from scheduler.waitlist.router import router as waitlist

    return [
        bookings,
        slots,
        public,
        patients,
        auth,
        feeds,
        locations,
        providers,
        appointment_types,
        series,
        waitlist,
        audit,
        notifications,
        public_notifications,
    ]


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    session_factory: sessionmaker[Session] | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own settings, a frozen clock and a session factory."""
    settings = settings or get_settings()
    if settings.environment != "test":  # tests capture logs their own way
        configure_logging(settings)
    from scheduler.feeds.router import feed_executor

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.environment != "test":  # a test process starts hundreds of apps
            _tune_garbage_collector()
            limit_malloc_arenas()  # before the request threads start (kit/malloc.py)
        # Made here, inside the event loop that will use it.
        app.state.write_gate = asyncio.Lock() if settings.is_sqlite else None
        engines: list[Engine] = []
        if session_factory is None:
            engine = build_engine(settings)
            app.state.sessionmaker = build_sessionmaker(engine)
            _install_notification_policy(app.state.sessionmaker, settings)
            statements = build_statement_engine(settings, engine)
            app.state.statement_reader = StatementReader(statements)
            engines = list({engine, statements})
        else:
            app.state.statement_reader = StatementReader(session_factory.kw["bind"])
        app.state.feed_executor = feed_executor()
        try:
            yield
        finally:
            app.state.feed_executor.shutdown(wait=True)
            app.state.statement_reader.close()
            for each in engines:
                each.dispose()

    app = FastAPI(
        title="Infusion Scheduler",
        version="0.1.0",
        summary="Scheduling backend for infusion clinics: chairs, provider capacity, "
        "online booking and private calendar feeds.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by install_docs, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.rate_limiter = RateLimiter(settings.rate_limit_storage_uri)
    app.state.feed_cache = FeedRenderCache(settings.feed_cache_max_bytes)
    app.state.open_starts_cache = OpenStartsCache(settings.free_days_cache_max_bytes)
    from scheduler.auth.dependencies import StaffAccounts

    app.state.staff_accounts = StaffAccounts()
    if session_factory is not None:
        app.state.sessionmaker = session_factory
        _install_notification_policy(session_factory, settings)

    install_error_handlers(app)
    install_openapi(app)

    # Calendar apps poll feeds all day: their route is tried first. FastAPI tries every route
    # of an included router in turn, so routes added before the feed's (the web pages' were)
    # cost every poll and every API request their matching.
    from scheduler.feeds.router import add_feed_route

    add_feed_route(app.router)
    from scheduler.bookings.router import add_create_booking_route

    add_create_booking_route(app.router, API_PREFIX)
    app.include_router(health.router)
    app.router.routes.append(metrics_route())
    install_docs(app)
    # Each router directly under the app (not nested in one /api/v1 router): FastAPI matches
    # nested routers level by level, which cost more per request than some endpoints' work.
    for router in _api_routers():
        app.include_router(router, prefix=API_PREFIX)

    # The staff pages after the API (people click, programs poll). Their middleware is added
    # before the others below, so it stays the innermost.
    from scheduler.web.install import install_web

    install_web(app, settings)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)
    # Inside RequestId: logs the id it settled on; counts each request in the metrics too.
    app.add_middleware(AccessLog, metrics=RequestMetrics())
    app.add_middleware(RequestId)  # outermost: even a refused request gets its id
    _install_log_redaction()

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app


def _install_notification_policy(factory: sessionmaker[Session], settings: Settings) -> None:
    """Booking changes queue their messages by the configured offsets and quiet hours."""
    from scheduler.notifications.outbox import install_policy
    from scheduler.notifications.policy import NotificationPolicy

    install_policy(factory, NotificationPolicy.from_settings(settings))


def _tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a request-serving process.

    A slot search allocates tens of thousands of short-lived objects; with CPython's default
    thresholds that triggers full collections that walk the whole heap every few searches
    (60-70 ms pauses measured in benchmarks/). Freezing what start-up allocated takes it out of
    every later collection, and a larger young generation makes them rarer.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "scheduler"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
