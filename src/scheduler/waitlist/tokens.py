"""The accept link of a waitlist offer: derived, never stored.

The raw token is HMAC-SHA256 of the offer's random ``nonce`` under the server's secret key
(``kit.secrets.derived_token``); the database keeps the nonce and the token's SHA-256. The
worker that renders the message derives the same token again, so no raw token sits at rest,
and a database leak (nonces, hashes) opens no offer without the key.
"""

from __future__ import annotations

import secrets

from scheduler.kit.secrets import derived_token, hash_token

PURPOSE = "waitlist-offer"


def new_nonce() -> str:
    return secrets.token_hex(16)


def offer_token(secret_key: str, nonce: str) -> str:
    return derived_token(secret_key, PURPOSE, nonce)


def offer_token_hash(secret_key: str, nonce: str) -> str:
    return hash_token(offer_token(secret_key, nonce))
