"""Forged, malformed and odd bearer tokens are 401 problem+json, never a 500 or a way in."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from tests.factories import make_user


@pytest.mark.parametrize(
    "case",
    ["wrong_secret", "exp_not_a_number", "sub_not_a_number", "no_exp", "garbage", "alg_none"],
)
def test_a_bad_token_is_refused(
    case: str, client: TestClient, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    user = make_user(db, role="admin", email="root@clinic.example")
    exp = int((clock.now() + timedelta(minutes=10)).timestamp())
    claims: dict[str, object] = {"sub": str(user.id), "role": "admin", "exp": exp}
    secret = settings.secret_key
    algorithm = "HS256"
    if case == "wrong_secret":
        secret = "another-secret-that-is-long-enough-0123456789"
    elif case == "exp_not_a_number":
        claims["exp"] = "tomorrow"
    elif case == "sub_not_a_number":
        claims["sub"] = "root"
    elif case == "no_exp":
        del claims["exp"]
    token = "not.a.token" if case == "garbage" else jwt.encode(claims, secret, algorithm)
    if case == "alg_none":
        token = jwt.encode(claims, None, algorithm="none")
    for _ in range(2):  # the second time the verdict may come from memory: the same one
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_authenticated"
