"""Who is calling: bearer-token staff users and their roles.

Roles are ``scheduler.models.enums.Role``; ``Actor`` lives in ``auth/actors.py`` (no HTTP).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from scheduler.auth.actors import ADMIN, FRONT_DESK, PROVIDER, Actor
from scheduler.auth.credentials import from_numeric_date, issued_in_time
from scheduler.auth.security import decode_access_token
from scheduler.config import Settings
from scheduler.db.engine import open_session
from scheduler.errors import Forbidden, NotAuthenticated
from scheduler.kit.clock import Clock
from scheduler.models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

ALL_ROLES = tuple(Role)


class StaffAccounts:
    """Staff accounts this process confirmed recently, so most requests need no user lookup.

    Every authenticated request must come from an account that still exists and is active,
    with its current role, and its token must be issued after the account's last credentials
    change. Looking that up costs a query and a trip through the threadpool on every request;
    instead a confirmed account is remembered for ``ttl_seconds``. Within this process a change
    through the API (``forget``) takes effect at once; another API process may still honour
    the tokens a password, role or status change ended, and the old role, for up to
    ``ttl_seconds`` (5 s by default) after the change commits. The remembered object is a
    detached copy, never an instance of some session.
    """

    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self._accounts: TTLCache[int, User] = TTLCache(maxsize=4096, ttl=ttl_seconds)
        self._lock = threading.Lock()

    def get(self, user_id: int) -> User | None:
        with self._lock:
            return self._accounts.get(user_id)

    def remember(self, user: User) -> User:
        copy = User.model_validate(user.model_dump())
        if copy.id is not None:
            with self._lock:
                self._accounts[copy.id] = copy
        return copy

    def forget(self, user_id: int) -> None:
        with self._lock:
            self._accounts.pop(user_id, None)

    def forget_on_commit(self, session: Session, user_id: int) -> None:
        """Forget the account now and again once ``session`` commits its change to it.

        Forgetting only before the commit leaves a window: a request of the same user in
        between would load the account as it still is in the database and remember it for
        ``ttl_seconds``, keeping a token alive that the change ended."""
        self.forget(user_id)
        event.listen(session, "after_commit", lambda _: self.forget(user_id), once=True)


def staff_accounts(request: Request) -> StaffAccounts:
    accounts: StaffAccounts = request.app.state.staff_accounts
    return accounts


async def get_current_user(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The signed-in staff user, from the bearer token; 401 when absent, invalid, expired,
    issued before the account's password, role or status last changed, or the account is
    gone or disabled.

    Reads settings and clock from the app directly and, when the account must be looked up,
    uses a short read-only session of its own: as a leaf of the dependency tree it costs
    FastAPI far less to solve on every request than a dependency on the request's session.
    """
    if not token:
        raise NotAuthenticated
    settings: Settings = request.app.state.settings
    clock: Clock = request.app.state.clock
    claims = decode_access_token(token, secret=settings.secret_key, now=clock.now())
    if claims is None:
        raise NotAuthenticated("The access token is invalid or has expired; sign in again.")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise NotAuthenticated("The access token is invalid; sign in again.") from exc
    accounts = staff_accounts(request)
    user = accounts.get(user_id)
    if user is None:
        found = await run_in_threadpool(_load_user, request.app.state.sessionmaker, user_id)
        if found is None or not found.active:
            raise NotAuthenticated("This account no longer exists or is disabled.")
        user = accounts.remember(found)
    if not issued_in_time(user, from_numeric_date(claims.get("iat"))):
        raise NotAuthenticated(
            "This access token was issued before the account's password, role or status "
            "changed; sign in again."
        )
    return user


def _load_user(factory: sessionmaker[Session], user_id: int) -> User | None:
    with open_session(factory, read_only=True) as session:
        return session.get(User, user_id)


CurrentUser = Annotated[User, Depends(get_current_user)]


def _actor(user: User, request: Request) -> Actor:
    return Actor(
        kind="user",
        label=f"user:{user.id}",
        user_id=user.id,
        role=Role(user.role),
        provider_id=user.provider_id,
        request_id=str(getattr(request.state, "request_id", "")),
    )


def _refuse_unless(user: User, roles: tuple[str, ...]) -> None:
    if user.role not in roles:
        allowed = ", ".join(roles)
        msg = f"This action needs one of the roles: {allowed} (you are {user.role})."
        raise Forbidden(msg)


def require_roles(*roles: str) -> Callable[[User], Awaitable[User]]:
    # async: a role check does no I/O, so it need not cost a trip through the threadpool.
    async def check(user: CurrentUser) -> User:
        _refuse_unless(user, roles)
        return user

    return check


def actor_with_roles(*roles: str) -> Callable[[Request, User], Awaitable[Actor]]:
    """The acting staff user as an ``Actor`` (for audit events), after the role check."""

    async def check(request: Request, user: CurrentUser) -> Actor:
        _refuse_unless(user, roles)
        return _actor(user, request)

    return check


async def staff_actor(request: Request, roles: tuple[str, ...]) -> Actor:
    """``actor_with_roles`` for a route served without FastAPI's dependency injection: the
    bearer token read as ``oauth2_scheme`` reads it, the same checks, the same errors."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    user = await get_current_user(request, token if scheme.lower() == "bearer" else None)
    _refuse_unless(user, roles)
    return _actor(user, request)


async def get_actor(request: Request, user: CurrentUser) -> Actor:
    return _actor(user, request)


AnyStaff = Annotated[User, Depends(require_roles(*ALL_ROLES))]
DeskStaff = Annotated[User, Depends(require_roles(ADMIN, FRONT_DESK))]
Admin = Annotated[User, Depends(require_roles(ADMIN))]
StaffActor = Annotated[Actor, Depends(get_actor)]
# One dependency for "who acts, and may they": use instead of DeskStaff plus StaffActor.
DeskActor = Annotated[Actor, Depends(actor_with_roles(ADMIN, FRONT_DESK))]


def ensure_own_provider(actor: Actor, provider_id: int) -> None:
    """Providers may see and change what belongs to their own provider record only (its
    availability, exceptions, slots and feeds); desk staff and admins any provider's.

    Another provider's id is a 403: who works here is no secret (``GET /providers`` lists
    them), their schedule is. Single records that belong to someone else (a booking, a hold,
    a patient) are a 404 instead, the same as a missing one."""
    if actor.role == PROVIDER and actor.provider_id != provider_id:
        msg = "Providers can only see and change their own schedule, availability and feeds."
        raise Forbidden(msg)


def own_provider_filter(actor: Actor, provider_id: int | None) -> int | None:
    """The provider a list or search is about: for a provider, themselves (asking for
    another provider is a 403); for desk staff and admins, ``provider_id`` as given."""
    if actor.role != PROVIDER:
        return provider_id
    if provider_id is not None:
        ensure_own_provider(actor, provider_id)
    return actor.provider_id
