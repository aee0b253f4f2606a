"""Who is calling: bearer-token staff users and their roles.

Roles: ``admin`` (everything), ``front_desk`` (bookings, patients, availability, resources),
``provider`` (their own schedule, availability and feed tokens only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from scheduler.audit.service import Actor
from scheduler.auth.security import decode_access_token
from scheduler.db import SessionDep
from scheduler.deps import ClockDep, RequestIdDep, SettingsDep
from scheduler.errors import Forbidden, NotAuthenticated
from scheduler.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

ADMIN = "admin"
FRONT_DESK = "front_desk"
PROVIDER = "provider"
ALL_ROLES = (ADMIN, FRONT_DESK, PROVIDER)


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise NotAuthenticated
    claims = decode_access_token(token, secret=settings.secret_key, now=clock.now())
    if claims is None:
        raise NotAuthenticated("The access token is invalid or has expired; sign in again.")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise NotAuthenticated("The access token is invalid; sign in again.") from exc
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotAuthenticated("This account no longer exists or is disabled.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            allowed = ", ".join(roles)
            msg = f"This action needs one of the roles: {allowed} (you are {user.role})."
            raise Forbidden(msg)
        return user

    return check


def get_actor(user: CurrentUser, request_id: RequestIdDep) -> Actor:
    return Actor(
        kind="user",
        label=f"user:{user.id}",
        user_id=user.id,
        role=user.role,
        provider_id=user.provider_id,
        request_id=request_id,
    )


AnyStaff = Annotated[User, Depends(require_roles(*ALL_ROLES))]
DeskStaff = Annotated[User, Depends(require_roles(ADMIN, FRONT_DESK))]
Admin = Annotated[User, Depends(require_roles(ADMIN))]
StaffActor = Annotated[Actor, Depends(get_actor)]


def ensure_own_provider(actor: Actor, provider_id: int) -> None:
    """Providers may act on their own provider record only; desk staff and admins on any."""
    if actor.role == PROVIDER and actor.provider_id != provider_id:
        msg = "Providers can only change their own schedule, availability and feeds."
        raise Forbidden(msg)
