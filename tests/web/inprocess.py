"""Helpers for in-process page tests (TestClient on the app with a frozen clock)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import STAFF_PASSWORD

CSRF_INPUT = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/admin/login") -> str:
    page = client.get(path)
    found = CSRF_INPUT.search(page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = STAFF_PASSWORD) -> None:
    token = csrf_of(client)
    response = client.post(
        "/admin/login", data={"email": email, "password": password, "csrftoken": token}
    )
    assert response.status_code == 303, response.text


def sign_out(client: TestClient) -> None:
    token = csrf_of(client, "/admin/")
    response = client.post("/admin/logout", data={"csrftoken": token})
    assert response.status_code == 303


def is_signed_out(response: object) -> bool:
    location = getattr(response, "headers", {}).get("location", "")
    return getattr(response, "status_code", 0) == 303 and location.startswith("/admin/login")
