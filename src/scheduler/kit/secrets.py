"""Random bearer secrets (feed, manage and hold tokens) and their stored form.

A secret carries 256 bits from ``secrets.token_urlsafe``; only its SHA-256 hex digest is stored,
so a database leak does not leak working links. SHA-256 (not a slow KDF) is right here: the
input is high-entropy random, not a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def derived_token(secret_key: str, purpose: str, *parts: str) -> str:
    """A secret that a later request can compute again but the database never holds:
    HMAC-SHA256 of ``parts`` under the server's secret key (256 bits, URL-safe like
    ``new_token``). Used where a replay must hand back the same secret it gave the first time
    (an ``Idempotency-Key`` retry of an online booking) without storing that secret."""
    message = "\n".join((purpose, *parts)).encode("utf-8")
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
