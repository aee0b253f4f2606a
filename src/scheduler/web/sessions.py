"""Staff sign-in sessions of the web pages: started by a login, checked on every page.

The browser holds a random token in an ``HttpOnly`` cookie; the database holds its SHA-256
(``WebSession``). A session is valid while all of these hold, checked on every request:

- it was not ended (sign-out, or every session of a user ended by an administrator);
- it was used within ``web_session_idle_seconds`` (30 minutes by default) and started within
  ``web_session_absolute_seconds`` (12 hours);
- its user still exists and is active (disabling a user signs them out at their next click);
- its user's credentials (password, role, provider link, active flag) did not change after
  it started (``User.credentials_changed_at``, see ``auth/credentials.py``).

No FastAPI here: the page dependencies in ``web/deps.py`` call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from scheduler.auth.credentials import issued_in_time
from scheduler.config import Settings
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import User, WebSession
from scheduler.web import repository

# Write ``last_seen_at`` at most this often: a page view then costs no write, and the idle
# limit is still honoured to within this margin.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SignedIn:
    """A valid session and its user (a detached copy: safe to use after the transaction)."""

    session_id: int
    user: User
    flash: str | None
    # Messages that gave up (the nav's badge on "Messages"); counted for the desk only.
    failed_messages: int = 0


def start_session(session: Session, user: User, *, now: datetime) -> str:
    """Start a session for ``user`` (already authenticated); return the cookie's token."""
    assert user.id is not None
    token = new_token()
    session.add(
        WebSession(token_hash=hash_token(token), user_id=user.id, created_at=now, last_seen_at=now)
    )
    session.flush()
    return token


def _why_invalid(row: WebSession, user: User, *, settings: Settings, now: datetime) -> str | None:
    if row.ended_at is not None:
        return "ended"
    if not user.active:
        return "user_disabled"
    if now - row.last_seen_at >= timedelta(seconds=settings.web_session_idle_seconds):
        return "idle"
    if now - row.created_at >= timedelta(seconds=settings.web_session_absolute_seconds):
        return "expired"
    if not issued_in_time(user, row.created_at):
        return "credentials_changed"
    return None


@dataclass(frozen=True)
class SessionCheck:
    """What a cookie's token is worth now: the signed-in user (None when signed out), and
    what must be written because of the check (end it, note its use, take its flash)."""

    signed_in: SignedIn | None
    row_id: int | None = None
    end: bool = False
    touch: bool = False

    @property
    def needs_write(self) -> bool:
        return self.end or self.touch


def check_session(
    session: Session, token: str, *, settings: Settings, now: datetime
) -> SessionCheck:
    """Read only: whom a cookie's token signs in, if anyone, and what to record about it.

    Split from ``record_check`` so that most page views, which need no write, run in a
    read-only transaction (on SQLite a writing one waits for the database's single writer).
    """
    found = repository.session_with_user(session, hash_token(token))
    if found is None:
        return SessionCheck(signed_in=None)
    row, user = found
    if _why_invalid(row, user, settings=settings, now=now) is not None:
        return SessionCheck(signed_in=None, row_id=row.id, end=row.ended_at is None)
    assert row.id is not None
    signed_in = SignedIn(
        session_id=row.id, user=User.model_validate(user.model_dump()), flash=row.flash
    )
    touch = row.flash is not None or now - row.last_seen_at >= TOUCH_EVERY
    return SessionCheck(signed_in=signed_in, row_id=row.id, touch=touch)


def record_check(session: Session, check: SessionCheck, *, now: datetime) -> None:
    """Write what ``check_session`` found: an invalid session is ended for good (a later
    clock or a re-enabled account does not revive it); a valid one has its ``last_seen_at``
    moved to ``now`` and its flash message taken."""
    if check.row_id is None or not check.needs_write:
        return
    row = session.get(WebSession, check.row_id)
    if row is None or row.ended_at is not None:
        return
    if check.end:
        row.ended_at = now
    else:
        row.flash = None
        row.last_seen_at = max(now, row.last_seen_at)
    session.add(row)
    session.flush()


def end_session(session: Session, token: str, *, now: datetime) -> None:
    """Sign out: the token is refused from now on, whatever the clock says."""
    found = repository.session_with_user(session, hash_token(token))
    if found is not None and found[0].ended_at is None:
        found[0].ended_at = now
        session.add(found[0])
        session.flush()


def end_sessions_of_user(session: Session, user_id: int, *, now: datetime) -> int:
    """End every open session of a user (password reset, account disabled by an admin)."""
    return repository.end_sessions_of_user(session, user_id, now=now)


def set_flash(session: Session, session_id: int, message: str) -> None:
    """The message the next page shows once ("Checked in.")."""
    row = session.get(WebSession, session_id)
    if row is not None:
        row.flash = message[:500]
        session.add(row)
        session.flush()
