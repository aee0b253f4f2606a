"""Queries of the web pages' own tables (staff sign-in sessions)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select, update

from scheduler.models import User, WebSession


def session_with_user(session: Session, token_hash: str) -> tuple[WebSession, User] | None:
    row = session.exec(
        select(WebSession, User)
        .join(User, col(User.id) == col(WebSession.user_id))
        .where(WebSession.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row is not None else None


def end_sessions_of_user(session: Session, user_id: int, *, now: datetime) -> int:
    result = session.exec(
        update(WebSession)
        .where(col(WebSession.user_id) == user_id, col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount or 0)
