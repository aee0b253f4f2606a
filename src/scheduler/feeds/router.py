from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from scheduler.auth.actors import ADMIN, FRONT_DESK
from scheduler.auth.dependencies import (
    AnyStaff,
    StaffActor,
    ensure_own_provider,
    own_provider_filter,
)
from scheduler.bookings.service import get_booking_for
from scheduler.config import Settings
from scheduler.db.statements import StatementReader
from scheduler.db.transaction import snapshot_transaction
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import Forbidden
from scheduler.feeds import service
from scheduler.feeds.cache import RenderedFeed
from scheduler.feeds.schemas import FeedTokenCreate, FeedTokenRead, FeedTokenSecret
from scheduler.http.routes import CommitRoute, DirectRoute, served_by
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.kit.metrics import count_feed_response
from scheduler.models import FeedToken

router = APIRouter(tags=["calendar feeds"], route_class=CommitRoute)

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"


def _authorize(actor: StaffActor, provider_id: int | None, location_id: int | None) -> None:
    if provider_id is not None:
        ensure_own_provider(actor, provider_id)
    elif actor.role not in (ADMIN, FRONT_DESK):
        raise Forbidden("Only front-desk staff and admins manage location feeds.")


def _secret_read(token: FeedToken, secret: str, settings: SettingsDep) -> FeedTokenSecret:
    return FeedTokenSecret(
        **FeedTokenRead.model_validate(token).model_dump(),
        token=secret,
        url=service.feed_url(settings, secret),
    )


@router.post(
    "/feed-tokens",
    response_model=FeedTokenSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Create a secret calendar subscription URL (shown once)",
)
def create_feed_token(
    data: FeedTokenCreate,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> FeedTokenSecret:
    _authorize(actor, data.provider_id, data.location_id)
    token, secret = service.create_token(session, data, actor=actor, now=clock.now())
    return _secret_read(token, secret, settings)


@router.get("/feed-tokens", response_model=list[FeedTokenRead])
def list_feed_tokens(
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    provider_id: RowId | None = None,
    location_id: RowId | None = None,
    include_revoked: bool = False,
) -> list[FeedTokenRead]:
    if actor.role not in (ADMIN, FRONT_DESK):
        # Providers see their own feeds only; asking for anyone else's is refused.
        if location_id is not None:
            raise Forbidden("Only front-desk staff and admins manage location feeds.")
        provider_id = own_provider_filter(actor, provider_id)
    tokens = service.list_tokens(
        session, provider_id=provider_id, location_id=location_id, include_revoked=include_revoked
    )
    return [FeedTokenRead.model_validate(t) for t in tokens]


@router.post(
    "/feed-tokens/{token_id}/rotate",
    response_model=FeedTokenSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Replace a feed URL: the old one stops working at once",
)
def rotate_feed_token(
    token_id: RowId,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> FeedTokenSecret:
    current = service.get_token(session, token_id)
    _authorize(actor, current.provider_id, current.location_id)
    token, secret = service.rotate_token(session, token_id, actor=actor, now=clock.now())
    return _secret_read(token, secret, settings)


@router.delete("/feed-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_feed_token(
    token_id: RowId, _: AnyStaff, actor: StaffActor, session: SessionDep, clock: ClockDep
) -> Response:
    current = service.get_token(session, token_id)
    _authorize(actor, current.provider_id, current.location_id)
    service.revoke_token(session, token_id, actor=actor, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _wants_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _validator_headers(validator: str, request: Request) -> dict[str, str]:
    """What a 304 carries: the fields that guide a cache (RFC 9110 15.4.5 asks a server not
    to send other representation metadata with a 304)."""
    digest = validator[:32]
    return {
        "ETag": f'"{digest}-gz"' if _wants_gzip(request) else f'"{digest}"',
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Vary": "Accept-Encoding",
    }


def _representation_headers(
    validator: str, request: Request, filename: str | None
) -> dict[str, str]:
    headers = _validator_headers(validator, request)
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Robots-Tag"] = "noindex, nofollow"
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return headers


def _matches(validator: str, if_none_match: str) -> bool:
    """Whether ``If-None-Match`` names this representation (either encoding's tag)."""
    digest = validator[:32]
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or f'"{digest}"' in tags or f'"{digest}-gz"' in tags


def ics_response(
    render: Callable[[], bytes],
    *,
    validator: str | None,
    request: Request,
    if_none_match: str | None,
    last_modified: Callable[[], str] | None = None,
    filename: str | None = None,
) -> Response:
    """Serve calendar bytes with a strong ETag per encoding, 304, HEAD and optional gzip.

    ``validator`` identifies the representation before it is rendered (None: hash the
    bytes), so a matching ``If-None-Match`` is answered without rendering, and without
    Last-Modified (RFC 9110 15.4.5 does not ask for it when there is an ETag), which
    ``last_modified`` gives after ``render``. The gzip variant has its own tag (strong
    validators must differ between encodings); either answers a match.
    """
    body: bytes | None = None
    if validator is None:
        body = render()
        validator = hashlib.sha256(body).hexdigest()
    if if_none_match is not None and _matches(validator, if_none_match):
        headers = _validator_headers(validator, request)
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    headers = _representation_headers(validator, request, filename)
    if body is None:
        body = render()
    if last_modified is not None:
        headers["Last-Modified"] = last_modified()
    if _wants_gzip(request):
        body = gzip.compress(body, mtime=0)
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, media_type=ICS_MEDIA_TYPE, headers=headers)
    return Response(content=body, media_type=ICS_MEDIA_TYPE, headers=headers)


def _serve_feed(request: Request, token: str, if_none_match: str | None) -> Response:
    settings: Settings = request.app.state.settings
    now = request.app.state.clock.now()
    factory = request.app.state.sessionmaker
    if if_none_match is not None:
        # A calendar app revalidating: the validator is one statement, so it needs no
        # transaction around it (no BEGIN, no COMMIT), and most of the time it is all the
        # request needs. Otherwise the feed is planned again inside the render's snapshot.
        reader: StatementReader = request.app.state.statement_reader
        with reader.connection() as connection:
            plan = service.plan_feed(connection, token, settings=settings, now=now)
        if _matches(plan.validator, if_none_match):
            headers = _validator_headers(plan.validator, request)
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    with snapshot_transaction(factory) as session:
        plan = service.plan_feed(session.connection(), token, settings=settings, now=now)
        rendered: list[RenderedFeed] = []

        def render() -> bytes:
            rendered.append(service.render_plan(session, plan, request.app.state.feed_cache))
            return rendered[0].body

        return ics_response(
            render,
            validator=plan.validator,
            request=request,
            if_none_match=if_none_match,
            last_modified=lambda: format_datetime(rendered[0].last_modified, usegmt=True),
        )


FEED_THREADS = 2


def feed_executor() -> ThreadPoolExecutor:
    """The threads that serve calendar feeds, apart from the API's threadpool.

    Calendar apps poll all day; most polls are a 304 worth one statement. Two threads of
    their own keep that traffic from ever taking the front desk's request threads (a
    bulkhead), and far fewer threads contending for the GIL made a 304 ~20 % cheaper under
    load than in the shared pool of 40 (benchmarks/README.md). Made in the app's lifespan.
    """
    return ThreadPoolExecutor(FEED_THREADS, thread_name_prefix="feeds")


async def _serve_calendar_feed(request: Request) -> Response:
    # Calendar clients revalidate often, so a 304 should cost little more than /healthz:
    # one trip to the feed threads for the whole request (check, maybe render), and the
    # two parameters read directly (documented by ``calendar_feed``).
    token: str = request.path_params["token"]
    if_none_match = request.headers.get("if-none-match")
    loop = asyncio.get_running_loop()
    executor: ThreadPoolExecutor = request.app.state.feed_executor
    response = await loop.run_in_executor(executor, _serve_feed, request, token, if_none_match)
    count_feed_response(response.status_code)
    return response


FEED_PATH = "/feeds/{token}.ics"


@served_by(_serve_calendar_feed)
def calendar_feed(
    token: str, if_none_match: Annotated[str | None, Header()] = None
) -> Response:  # pragma: no cover - documents the route; requests go to the handler
    """GET (and HEAD, which calendar clients probe with) a provider's or location's schedule.

    The route reads no body and takes no dependencies, so FastAPI's dependency solving
    would add nothing but cost (a third of a 304's CPU): a ``DirectRoute`` serves it with
    ``_serve_calendar_feed``, on the feed threads."""
    raise NotImplementedError


def add_feed_route(router: APIRouter) -> None:
    """Add the feed's route, tried first: calendar apps poll it all day. Added to the app's
    own router, not included from another (an included route is matched through FastAPI's
    inclusion context, which ``DirectRoute``'s HEAD handling does not reach)."""
    router.add_api_route(
        FEED_PATH,
        calendar_feed,
        methods=["GET"],
        route_class_override=DirectRoute,
        response_class=Response,
        tags=["calendar feeds"],
        summary="A provider's or location's schedule as an iCalendar subscription",
        responses={200: {"content": {"text/calendar": {}}}, 304: {}, 404: {}},
    )


@router.get(
    "/bookings/{booking_id}/calendar.ics",
    response_class=Response,
    tags=["bookings"],
    summary="One booking as an .ics file (with the patient's instructions)",
    responses={200: {"content": {"text/calendar": {}}}},
)
def booking_ics(
    booking_id: RowId,
    request: Request,
    actor: StaffActor,
    session: SessionDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    booking = get_booking_for(session, booking_id, viewer=actor)
    body = service.render_booking_ics(session, booking, settings=settings)
    return ics_response(
        lambda: body,
        validator=None,
        request=request,
        if_none_match=if_none_match,
        filename=f"appointment-{booking_id}.ics",
    )


# Calendar apps and link checkers probe with HEAD: answered like GET without a body
# (ics_response), and left out of the OpenAPI document, where it would repeat GET's operation.
router.add_api_route(
    "/bookings/{booking_id}/calendar.ics", booking_ics, methods=["HEAD"], include_in_schema=False
)
