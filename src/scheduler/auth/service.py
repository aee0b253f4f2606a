"""Staff accounts: login and user administration."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth import repository
from scheduler.auth.actors import Actor
from scheduler.auth.schemas import PasswordChange, UserCreate, UserUpdate
from scheduler.auth.security import hash_password, issue_access_token, verify_password
from scheduler.config import Settings
from scheduler.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from scheduler.models import Provider, User

_SECRET_FIELDS = frozenset({"password_hash"})
ADMIN = "admin"


def authenticate(
    session: Session, *, email: str, password: str, settings: Settings, now: datetime
) -> tuple[str, datetime]:
    """Check a staff login and issue a short-lived access token.

    Unknown e-mail and wrong password answer the same, in the same time.
    """
    user = check_login(session, email=email, password=password)
    assert user.id is not None
    return issue_access_token(
        user_id=user.id,
        role=user.role,
        secret=settings.secret_key,
        now=now,
        minutes=settings.access_token_minutes,
    )


def check_login(session: Session, *, email: str, password: str) -> User:
    """The active staff user with this e-mail and password (the API's token login and the
    web pages' sign-in share it). Unknown e-mail, wrong password and a disabled account all
    raise the same ``NotAuthenticated``, in the same time."""
    user = repository.user_by_email(session, email.strip().lower())
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.active or user.id is None:
        raise NotAuthenticated("Wrong e-mail or password.")
    return user


def _check_provider_link(session: Session, role: str, provider_id: int | None) -> None:
    if role == "provider" and provider_id is None:
        raise InvalidInput("A provider account must name its provider_id.", field="provider_id")
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise InvalidInput(f"Provider {provider_id} does not exist.", field="provider_id")


def create_user(session: Session, data: UserCreate, *, actor: Actor, now: datetime) -> User:
    email = str(data.email).strip().lower()
    if repository.email_taken(session, email):
        raise Conflict(f"A user with e-mail {email} already exists.", code="already_exists")
    _check_provider_link(session, data.role, data.provider_id)
    user = User(
        email=email,
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        role=data.role,
        provider_id=data.provider_id,
        created_at=now,
    )
    audited_write(
        session,
        user,
        actor=actor,
        now=now,
        action="user.create",
        entity_type="user",
        after=snapshot(user, exclude=_SECRET_FIELDS),
    )
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def list_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    return repository.list_users(session, limit=limit, offset=offset)


def update_user(
    session: Session, user_id: int, data: UserUpdate, *, actor: Actor, now: datetime
) -> User:
    """An admin's change to a staff account.

    Removing the clinic's last active admin (demoting or disabling them, themselves included)
    is a 409 ``last_admin``. A new password, role, provider link or active flag ends every
    token and session the user holds (``credentials_changed_at``).
    """
    user = get_user(session, user_id)
    before = snapshot(user, exclude=_SECRET_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    # A null role or active flag means "unchanged", like an absent one; a null provider_id
    # unlinks the provider.
    changes = {k: v for k, v in changes.items() if v is not None or k == "provider_id"}
    role = changes.get("role", user.role)
    provider_id = changes.get("provider_id", user.provider_id)
    active = changes.get("active", user.active)
    _check_provider_link(session, role, provider_id)
    if user.role == ADMIN and user.active and (role != ADMIN or not active):
        _keep_another_active_admin(session, user_id)
    credentials_change = password is not None or (role, provider_id, active) != (
        user.role,
        user.provider_id,
        user.active,
    )
    if password is not None:
        user.password_hash = hash_password(password)
    for key, value in changes.items():
        setattr(user, key, value)
    if credentials_change:
        user.credentials_changed_at = now
    audited_write(
        session,
        user,
        actor=actor,
        now=now,
        action="user.update",
        entity_type="user",
        before=before,
        after=snapshot(user, exclude=_SECRET_FIELDS),
        reason="password set by an admin" if password is not None else "",
    )
    return user


def _keep_another_active_admin(session: Session, user_id: int) -> None:
    """409 unless an active admin other than ``user_id`` remains.

    Locks the active admins' rows, in id order, on PostgreSQL: two admins demoting each other
    at once queue here, and the second sees the first's change (SQLite serializes writers)."""
    admins = repository.lock_active_admin_ids(session)
    if not any(admin_id != user_id for admin_id in admins):
        raise Conflict(
            "This is the clinic's last active admin: make another user an admin first.",
            code="last_admin",
        )


def change_own_password(
    session: Session,
    user: User,
    data: PasswordChange,
    *,
    actor: Actor,
    settings: Settings,
    now: datetime,
) -> tuple[str, datetime]:
    """A signed-in user's change of their own password, proven by the current one.

    Ends every token and session issued before it, and answers with a fresh access token
    so the caller stays signed in. A wrong current password is a 403 ``wrong_password`` that
    changes nothing.
    """
    assert user.id is not None
    current = get_user(session, user.id)
    if not verify_password(data.current_password, current.password_hash):
        raise Forbidden("The current password is wrong.", code="wrong_password")
    if data.new_password == data.current_password:
        raise InvalidInput(
            "The new password must differ from the current one.", field="new_password"
        )
    current.password_hash = hash_password(data.new_password)
    current.credentials_changed_at = now
    audited_write(
        session,
        current,
        actor=actor,
        now=now,
        action="user.password_change",
        entity_type="user",
        after=lambda: None,
        reason="own password changed",
    )
    return issue_access_token(
        user_id=user.id,
        role=current.role,
        secret=settings.secret_key,
        now=now,
        minutes=settings.access_token_minutes,
    )
