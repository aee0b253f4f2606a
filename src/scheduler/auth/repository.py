"""Queries over staff accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from scheduler.models import User
from scheduler.models.enums import Role


def user_by_email(session: Session, email: str) -> User | None:
    """The account with this (already normalised) e-mail, active or not."""
    return session.exec(select(User).where(User.email == email)).first()


def email_taken(session: Session, email: str) -> bool:
    return session.exec(select(User.id).where(User.email == email)).first() is not None


def list_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.exec(select(func.count()).select_from(User)).one()
    rows = session.exec(select(User).order_by(col(User.id)).limit(limit).offset(offset)).all()
    return list(rows), total


def lock_active_admin_ids(session: Session) -> Sequence[int | None]:
    """The active admins' ids, their rows locked in id order (``FOR UPDATE`` on PostgreSQL;
    SQLite serializes writers anyway)."""
    return session.exec(
        select(User.id)
        .where(User.role == Role.ADMIN, col(User.active).is_(True))
        .order_by(col(User.id))
        .with_for_update()
    ).all()
