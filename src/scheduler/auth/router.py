from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from scheduler.auth import service
from scheduler.auth.dependencies import (
    Admin,
    AnyStaff,
    StaffAccounts,
    StaffActor,
    staff_accounts,
)
from scheduler.auth.schemas import PasswordChange, TokenRead, UserCreate, UserRead, UserUpdate
from scheduler.deps import ClockDep, SettingsDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.kit.ids import RowId
from scheduler.kit.ratelimit import rate_limit

router = APIRouter(tags=["auth"], route_class=CommitRoute)


@router.post(
    "/auth/token",
    response_model=TokenRead,
    summary="Staff login (OAuth2 password)",
    dependencies=[Depends(rate_limit("login", lambda r: r.app.state.settings.login_rate_limit))],
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: ReadSessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenRead:
    token, expires_at = service.authenticate(
        session, email=form.username, password=form.password, settings=settings, now=clock.now()
    )
    return TokenRead(access_token=token, expires_at=expires_at)


@router.post(
    "/auth/password",
    response_model=TokenRead,
    summary="Change one's own password (ends every other token and session)",
    dependencies=[Depends(rate_limit("password", lambda r: r.app.state.settings.login_rate_limit))],
)
def change_password(
    data: PasswordChange,
    user: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    accounts: Annotated[StaffAccounts, Depends(staff_accounts)],
) -> TokenRead:
    token, expires_at = service.change_own_password(
        session, user, data, actor=actor, settings=settings, now=clock.now()
    )
    # The tokens issued before are refused on this process's next request.
    accounts.forget_on_commit(session, user.id or 0)
    return TokenRead(access_token=token, expires_at=expires_at)


@router.get("/auth/me", response_model=UserRead)
def me(user: AnyStaff) -> UserRead:
    return UserRead.model_validate(user)


@router.get("/users", response_model=Page[UserRead], tags=["users"])
def list_users(
    _: Admin, session: SessionDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[UserRead]:
    rows, total = service.list_users(session, limit=page.limit, offset=page.offset)
    items = [UserRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED, tags=["users"])
def create_user(
    data: UserCreate, _: Admin, actor: StaffActor, session: SessionDep, clock: ClockDep
) -> UserRead:
    return UserRead.model_validate(service.create_user(session, data, actor=actor, now=clock.now()))


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"])
def get_user(user_id: RowId, _: Admin, session: SessionDep) -> UserRead:
    return UserRead.model_validate(service.get_user(session, user_id))


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"])
def update_user(
    user_id: RowId,
    data: UserUpdate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    accounts: Annotated[StaffAccounts, Depends(staff_accounts)],
) -> UserRead:
    user = service.update_user(session, user_id, data, actor=actor, now=clock.now())
    # A disabled account, a new role and the end of the user's old tokens take effect on
    # this process's next request (on other processes within StaffAccounts' time to live).
    accounts.forget_on_commit(session, user_id)
    return UserRead.model_validate(user)
