"""When a staff user's credentials were last changed, and which credentials that ends.

A password change, a new role or provider link, and disabling or re-enabling an account set
``User.credentials_changed_at``. Every credential issued before that instant — a bearer access
token, a web session — is refused from then on, so a leaked or shared password stops working
for tokens already handed out, and a demoted user does not keep a token minted for their old
role. The API's bearer tokens (``auth.dependencies``) and the web pages' sessions both ask
``credentials_valid_since``.

Instants compare to the microsecond: a token issued in the same request that changed the
password (``POST /auth/password`` answers with one) is valid, one issued a moment before is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.models import User

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def credentials_valid_since(user: User) -> datetime | None:
    """The earliest issue instant of a token or session of ``user`` that is still honoured;
    ``None`` when the credentials never changed (anything unexpired is honoured)."""
    return user.credentials_changed_at


def issued_in_time(user: User, issued_at: datetime | None) -> bool:
    """Whether a credential of ``user`` issued at ``issued_at`` survives the user's last
    credentials change. A credential with no known issue instant survives only when the
    credentials never changed."""
    since = credentials_valid_since(user)
    if since is None:
        return True
    return issued_at is not None and issued_at >= since


def to_numeric_date(instant: datetime) -> float:
    """``instant`` as a JWT NumericDate (seconds since the epoch) to the microsecond.

    Exact microseconds divided once, so ``from_numeric_date`` gives back the same instant."""
    return ((instant - _EPOCH) // _MICROSECOND) / 1_000_000


def from_numeric_date(value: object) -> datetime | None:
    """A JWT NumericDate claim as an aware UTC instant, or ``None`` when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return _EPOCH + timedelta(microseconds=round(value * 1_000_000))
    except (OverflowError, ValueError):
        return None
