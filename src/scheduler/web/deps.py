"""Page dependencies: who is signed in (from the session cookie) and may they see the page.

- ``StaffPage``: any signed-in staff user; ``DeskPage`` admin and front desk; ``AdminPage``
  admin; ``ProviderPage`` a provider (their own pages). Or ``Depends(page_for(roles...))``.
- Signed out (no cookie, unknown, ended, idle, expired, disabled user): a redirect to
  ``/admin/login?next=<this page>``. The wrong role: a 403 page.

The session is checked in a short transaction of its own (like the API's bearer-token check),
read-only unless the check must write (end an invalid session, note activity, take a flash).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from scheduler.auth.actors import ADMIN, FRONT_DESK, PROVIDER, Actor
from scheduler.auth.dependencies import ALL_ROLES
from scheduler.config import Settings
from scheduler.db.transaction import run_in_transaction
from scheduler.kit.clock import Clock
from scheduler.models import User
from scheduler.models.enums import Role
from scheduler.notifications import service as notifications_service
from scheduler.web import sessions

SESSION_COOKIE = "scheduler_session"
# Sent with the web pages only, never with API or calendar-feed requests.
SESSION_COOKIE_PATH = "/admin"


class SignInRequired(Exception):
    """Rendered as a redirect to the sign-in page, coming back to ``next_path`` after."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    """Rendered as a 403 page: signed in, but this page is not for their role."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Staff:
    """The signed-in staff user of a page, and the same as an audit ``Actor``."""

    user: User
    actor: Actor
    session_id: int

    @property
    def role(self) -> str:
        return self.user.role


def session_cookie_secure(settings: Settings) -> bool:
    return settings.environment != "development"


def login_url(next_path: str | None) -> str:
    if not next_path or next_path in ("/admin", "/admin/"):
        return "/admin/login"
    return f"/admin/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a page of ours (no open redirect)."""
    if value and value.startswith("/admin") and "//" not in value and "\\" not in value:
        return value
    return "/admin/"


def _read_session(
    db: Session, token: str, settings: Settings, now: datetime
) -> tuple[sessions.SessionCheck, int]:
    """The session check, and for the desk how many messages failed (one COUNT over the
    outbox's (status, due_at) index, in the same read-only transaction)."""
    check = sessions.check_session(db, token, settings=settings, now=now)
    desk = check.signed_in is not None and check.signed_in.user.role in (ADMIN, FRONT_DESK)
    return check, notifications_service.failed_count(db) if desk else 0


def _check(
    factory: sessionmaker[Session], token: str, settings: Settings, clock: Clock
) -> sessions.SignedIn | None:
    now = clock.now()
    check, failed = run_in_transaction(
        factory, lambda db: _read_session(db, token, settings, now), read_only=True
    )
    if check.needs_write:
        run_in_transaction(factory, lambda db: sessions.record_check(db, check, now=now))
    if check.signed_in is None:
        return None
    return replace(check.signed_in, failed_messages=failed)


async def signed_in(request: Request) -> sessions.SignedIn | None:
    """The signed-in user of this request, or None. Cached on ``request.state``."""
    if hasattr(request.state, "signed_in"):
        cached: sessions.SignedIn | None = request.state.signed_in
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    result = None
    if token:
        result = await run_in_threadpool(
            _check,
            request.app.state.sessionmaker,
            token,
            request.app.state.settings,
            request.app.state.clock,
        )
    request.state.signed_in = result
    return result


def page_for(*roles: str) -> Callable[[Request], Awaitable[Staff]]:
    """A dependency for a page open to ``roles``: the signed-in ``Staff``, else a redirect
    to the sign-in page, or a 403 page for another role."""

    async def dependency(request: Request) -> Staff:
        found = await signed_in(request)
        if found is None:
            path = request.url.path
            if request.url.query:
                path = f"{path}?{request.url.query}"
            raise SignInRequired(path if request.method == "GET" else "/admin/")
        user = found.user
        if user.role not in roles:
            raise PageForbidden("This page is not available to your role.")
        actor = Actor(
            kind="user",
            label=f"user:{user.id}",
            user_id=user.id,
            role=Role(user.role),
            provider_id=user.provider_id,
            request_id=str(getattr(request.state, "request_id", "")),
        )
        return Staff(user=user, actor=actor, session_id=found.session_id)

    return dependency


StaffPage = Annotated[Staff, Depends(page_for(*ALL_ROLES))]
DeskPage = Annotated[Staff, Depends(page_for(ADMIN, FRONT_DESK))]
AdminPage = Annotated[Staff, Depends(page_for(ADMIN))]
ProviderPage = Annotated[Staff, Depends(page_for(PROVIDER))]
