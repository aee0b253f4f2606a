"""Settings: staff accounts (``/admin/settings/users``): list, create, change role or provider
link, disable and enable, reset the password.

The account rules are the auth service's: e-mail unique, a provider account names its
provider, the clinic keeps an active admin, and a new password, role, provider link or
status ends every session and token the user holds. A new or reset password is made here,
shown once on the answer to the form, and never stored or sent anywhere else.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from scheduler.auth import service as auth_service
from scheduler.auth.dependencies import staff_accounts
from scheduler.auth.schemas import UserCreate, UserUpdate
from scheduler.deps import ClockDep
from scheduler.errors import SchedulerError
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.clock import Clock
from scheduler.models import User
from scheduler.providers import service as providers_service
from scheduler.web.deps import AdminPage, Staff
from scheduler.web.settings import ALL, FormDep, IdPath, attempt, status_of
from scheduler.web.settings_forms import ROLE_LABELS, service_errors, text, validation_errors
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/settings/users", include_in_schema=False)

# 15 random bytes: 20 characters, 120 bits; the user changes it after signing in.
TEMPORARY_PASSWORD_BYTES = 15


def temporary_password() -> str:
    return secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)


def _providers(db: Session) -> list[tuple[int, str]]:
    rows, _ = providers_service.list_providers(
        db, location_id=None, appointment_type_id=None, active=None, limit=ALL, offset=0
    )
    return [(p.id, p.display_name or p.name) for p in rows]


def _users_page(
    request: Request,
    db: Session,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    users, _ = auth_service.list_users(db, limit=ALL, offset=0)
    providers = _providers(db)
    context = {
        "users": users,
        "providers": providers,
        "provider_names": dict(providers),
        "roles": ROLE_LABELS,
        "values": values or {"role": "front_desk"},
        "errors": errors or FormErrors(),
    }
    return render(request, "settings_users.html", context, status_code=status_code)


@router.get("")
def users_page(request: Request, staff: AdminPage, db: ReadSessionDep) -> Response:
    return _users_page(request, db)


def _password_page(request: Request, user: User, password: str, *, created: bool) -> Response:
    """The one time the password is shown: the answer to the POST itself (never a redirect,
    a flash or a URL), marked no-store like every page of the app."""
    context = {"account": user, "password": password, "created": created}
    return render(request, "settings_user_password.html", context)


@router.post("")
def create_user(
    request: Request, staff: AdminPage, db: SessionDep, clock: ClockDep, form: FormDep
) -> Response:
    values = {name: text(form, name) for name in ("email", "full_name", "role", "provider_id")}
    password = temporary_password()
    payload: dict[str, Any] = dict(values, password=password)
    # The provider link belongs to a provider's account only (the select says so).
    payload["provider_id"] = (
        (values["provider_id"] or None) if values["role"] == "provider" else None
    )
    try:
        data = UserCreate.model_validate(payload)
        user = attempt(
            db, lambda: auth_service.create_user(db, data, actor=staff.actor, now=clock.now())
        )
    except ValidationError as exc:
        return _users_page(
            request, db, values=values, errors=validation_errors(exc), status_code=422
        )
    except SchedulerError as exc:
        errors = service_errors(exc, default_field="email")
        return _users_page(request, db, values=values, errors=errors, status_code=status_of(exc))
    return _password_page(request, user, password, created=True)


def _user_page(
    request: Request,
    db: Session,
    user_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    account = auth_service.get_user(db, user_id)
    shown = values or {
        "full_name": account.full_name,
        "role": account.role,
        "provider_id": str(account.provider_id or ""),
    }
    context = {
        "account": account,
        "providers": _providers(db),
        "roles": ROLE_LABELS,
        "values": shown,
        "errors": errors or FormErrors(),
    }
    return render(request, "settings_user.html", context, status_code=status_code)


@router.get("/{user_id}")
def user_page(request: Request, user_id: IdPath, staff: AdminPage, db: ReadSessionDep) -> Response:
    return _user_page(request, db, user_id)


def _update(
    request: Request,
    db: Session,
    user_id: int,
    payload: dict[str, Any],
    *,
    staff: Staff,
    clock: Clock,
    default_field: str,
    values: dict[str, str] | None = None,
) -> User | Response:
    """Change the account through the auth service, or the user's page with the error."""
    try:
        data = UserUpdate.model_validate(payload)
        user = attempt(
            db,
            lambda: auth_service.update_user(db, user_id, data, actor=staff.actor, now=clock.now()),
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
        return _user_page(request, db, user_id, values=values, errors=errors, status_code=422)
    except SchedulerError as exc:
        if exc.status == 404:
            raise
        errors = service_errors(exc, default_field=default_field)
        if exc.code == "last_admin":
            errors = FormErrors({default_field: exc.detail})
        return _user_page(
            request, db, user_id, values=values, errors=errors, status_code=status_of(exc)
        )
    # The API's tokens of this user are re-checked at once in this process.
    staff_accounts(request).forget_on_commit(db, user_id)
    return user


@router.post("/{user_id}")
def update_user(
    request: Request,
    user_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    values = {name: text(form, name) for name in ("full_name", "role", "provider_id")}
    payload: dict[str, Any] = dict(values, provider_id=values["provider_id"] or None)
    if payload["role"] != "provider":
        payload["provider_id"] = None
    result = _update(
        request, db, user_id, payload, staff=staff, clock=clock, default_field="role", values=values
    )
    if isinstance(result, Response):
        return result
    flash(request, db, f"{result.full_name or result.email}: account saved.")
    return RedirectResponse(f"/admin/settings/users/{user_id}", status_code=303)


@router.post("/{user_id}/active")
def set_active(
    request: Request,
    user_id: IdPath,
    staff: AdminPage,
    db: SessionDep,
    clock: ClockDep,
    form: FormDep,
) -> Response:
    """Disable (``active`` = 0) or enable (1) the account; disabling signs the user out."""
    active = text(form, "active") == "1"
    result = _update(
        request, db, user_id, {"active": active}, staff=staff, clock=clock, default_field="active"
    )
    if isinstance(result, Response):
        return result
    who = result.full_name or result.email
    message = f"{who} can sign in again." if active else f"{who} is disabled and signed out."
    flash(request, db, message)
    return RedirectResponse("/admin/settings/users", status_code=303)


@router.post("/{user_id}/password")
def reset_password(
    request: Request, user_id: IdPath, staff: AdminPage, db: SessionDep, clock: ClockDep
) -> Response:
    """A new temporary password, shown once; the user's sessions and tokens end."""
    password = temporary_password()
    result = _update(
        request, db, user_id, {"password": password}, staff=staff, clock=clock, default_field=""
    )
    if isinstance(result, Response):
        return result
    return _password_page(request, result, password, created=False)
