"""Password hashing (argon2 via pwdlib) and short-lived signed access tokens (JWT via PyJWT)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import jwt
from pwdlib import PasswordHash

from scheduler.auth.credentials import to_numeric_date

ALGORITHM = "HS256"
_hasher = PasswordHash.recommended()
# Verified against when the e-mail is unknown, so a failed login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


def issue_access_token(
    *, user_id: int, role: str, secret: str, now: datetime, minutes: int
) -> tuple[str, datetime]:
    expires_at = now + timedelta(minutes=minutes)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        # To the microsecond, so a token is compared exactly with the account's last
        # credentials change (auth/credentials.py); a NumericDate may have a fraction.
        "iat": to_numeric_date(now),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def decode_access_token(token: str, *, secret: str, now: datetime) -> dict[str, Any] | None:
    """The token's claims, or None when it is forged, malformed or expired (as of ``now``)."""
    claims = _verified_claims(token, secret)
    if claims is None or int(claims["exp"]) <= int(now.timestamp()):
        return None
    return dict(claims)


@lru_cache(maxsize=2048)
def _verified_claims(token: str, secret: str) -> Mapping[str, Any] | None:
    """Signature and shape checked once per distinct token: a staff client sends the same
    token with every request for its lifetime. Expiry is not decided here but by the caller
    against its clock, on every request. The cached claims are read-only."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "require": ["sub", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    try:
        int(claims["exp"])
    except (TypeError, ValueError):
        return None
    return MappingProxyType(claims)
