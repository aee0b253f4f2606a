"""Calendar subscription links (``/admin/feeds``): a provider's own, and the locations' for
the front desk and admins, created, rotated and revoked through the feed service.

A feed URL is a secret: it is shown once, in the answer to the form that made it (never in
a URL, a redirect or a flash message), on a page sent with ``Referrer-Policy: no-referrer``
and ``Cache-Control: no-store``; only its hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from scheduler.auth.actors import ADMIN, FRONT_DESK, PROVIDER
from scheduler.auth.dependencies import ensure_own_provider
from scheduler.deps import ClockDep, SettingsDep
from scheduler.errors import NotFound
from scheduler.feeds import service as feeds_service
from scheduler.feeds.schemas import FeedTokenCreate
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.models import FeedToken, Location
from scheduler.web import repository
from scheduler.web.deps import PageForbidden, Staff, StaffPage
from scheduler.web.templating import flash, render

router = APIRouter(prefix="/admin", include_in_schema=False)

# The feed URL must not leave in a Referer header, whatever link is followed from the page.
SECRET_HEADERS = {"Referrer-Policy": "no-referrer"}
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@dataclass(frozen=True)
class LocationFeeds:
    location: Location
    tokens: list[FeedToken]


@dataclass(frozen=True)
class NewLink:
    """A link just made: its URL is in this one answer and nowhere else."""

    url: str
    owner: str
    rotated: bool


def _is_desk(staff: Staff) -> bool:
    return staff.role in (ADMIN, FRONT_DESK)


def _page(
    request: Request,
    db: Session,
    staff: Staff,
    *,
    new_link: NewLink | None = None,
    label: str = "",
    status_code: int = 200,
) -> Response:
    own: list[FeedToken] | None = None
    if staff.role == PROVIDER and staff.user.provider_id is not None:
        own = feeds_service.list_tokens(
            db, provider_id=staff.user.provider_id, location_id=None, include_revoked=False
        )
    locations: list[LocationFeeds] = []
    if _is_desk(staff):
        tokens = feeds_service.list_tokens(
            db, provider_id=None, location_id=None, include_revoked=False
        )
        locations = [
            LocationFeeds(loc, [t for t in tokens if t.location_id == loc.id])
            for loc in repository.location_choices(db)
        ]
    context: dict[str, Any] = {
        "staff": staff,
        "own": own,
        "locations": locations,
        "new_link": new_link,
        "label": label,
    }
    return render(request, "feeds.html", context, status_code=status_code, headers=SECRET_HEADERS)


@router.get("/feeds")
def feeds_page(request: Request, staff: StaffPage, db: ReadSessionDep) -> Response:
    """The signed-in user's feed links: their own (a provider), the locations' (desk, admin)."""
    return _page(request, db, staff)


def _owner_name(db: Session, token: FeedToken) -> str:
    if token.location_id is not None:
        location = db.get(Location, token.location_id)
        return f"{location.name} (location)" if location else "the location"
    return "your schedule"


def _authorize(staff: Staff, token: FeedToken) -> None:
    """The API's rule: a provider manages their own feeds, the desk and admins any."""
    if token.provider_id is not None:
        ensure_own_provider(staff.actor, token.provider_id)
    elif not _is_desk(staff):
        raise PageForbidden("Only the front desk and admins manage location feeds.")


@router.post("/feeds")
def create_feed(
    request: Request,
    staff: StaffPage,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    owner: Annotated[str, Form(max_length=20)],
    location_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Make a subscription link and show it, once."""
    if owner == "provider" and staff.role == PROVIDER and staff.user.provider_id is not None:
        data = FeedTokenCreate(provider_id=staff.user.provider_id, label=label.strip())
    elif owner == "location" and _is_desk(staff) and location_id is not None:
        if all(loc.id != location_id for loc in repository.location_choices(db)):
            raise NotFound(f"Location {location_id} does not exist.")
        data = FeedTokenCreate(location_id=location_id, label=label.strip())
    else:
        raise PageForbidden("You cannot make that calendar link.")
    token, secret = feeds_service.create_token(db, data, actor=staff.actor, now=clock.now())
    link = NewLink(feeds_service.feed_url(settings, secret), _owner_name(db, token), False)
    return _page(request, db, staff, new_link=link)


@router.post("/feeds/{token_id}/rotate")
def rotate_feed(
    request: Request,
    token_id: PathId,
    staff: StaffPage,
    db: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Replace a link: the old URL answers 404 at once; the new one is shown once."""
    _authorize(staff, feeds_service.get_token(db, token_id))
    token, secret = feeds_service.rotate_token(db, token_id, actor=staff.actor, now=clock.now())
    link = NewLink(feeds_service.feed_url(settings, secret), _owner_name(db, token), True)
    return _page(request, db, staff, new_link=link)


@router.post("/feeds/{token_id}/revoke")
def revoke_feed(
    request: Request, token_id: PathId, staff: StaffPage, db: SessionDep, clock: ClockDep
) -> Response:
    _authorize(staff, feeds_service.get_token(db, token_id))
    feeds_service.revoke_token(db, token_id, actor=staff.actor, now=clock.now())
    flash(request, db, "The link is revoked: calendars using it stop updating.")
    return RedirectResponse("/admin/feeds", status_code=303)
