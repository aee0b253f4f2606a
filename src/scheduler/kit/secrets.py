"""Random bearer secrets (feed, manage and hold tokens) and their stored form.

A secret carries 256 bits from ``secrets.token_urlsafe``; only its SHA-256 hex digest is stored,
so a database leak does not leak working links. SHA-256 (not a slow KDF) is right here: the
input is high-entropy random, not a password.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
