"""Sign-in, sessions, CSRF and page headers of the staff web app, in process (frozen clock).

The browser tests (test_browser.py) drive the same through Chromium; these cover the time
limits and account changes exactly, by moving the app's clock.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from scheduler.models import User, WebSession
from scheduler.web.router import SIGN_IN_FAILED
from tests.factories import STAFF_PASSWORD, make_provider, make_user
from tests.web.inprocess import csrf_of, is_signed_out, sign_in, sign_out


@pytest.fixture
def desk(db: Session) -> User:
    return make_user(db, role="front_desk", email="desk@clinic.example")


def test_sign_in_sets_a_locked_down_cookie_and_opens_the_start_page(
    browser: TestClient, desk: User
) -> None:
    token = csrf_of(browser)
    response = browser.post(
        "/admin/login",
        data={"email": "DESK@clinic.example ", "password": STAFF_PASSWORD, "csrftoken": token},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("scheduler_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" in cookie
    assert "Path=/admin" in cookie  # never sent with API or feed requests
    page = browser.get("/admin/")
    assert page.status_code == 200
    assert "Front Desk" in page.text  # the signed-in user's name in the header
    assert "Sign out" in page.text


def test_the_cookie_holds_a_token_whose_hash_only_is_stored(
    browser: TestClient, desk: User, db: Session
) -> None:
    sign_in(browser, desk.email)
    token = browser.cookies.get("scheduler_session")
    assert token
    stored = db.exec(__import__("sqlmodel").select(WebSession)).all()
    assert len(stored) == 1
    assert stored[0].token_hash != token
    assert token not in stored[0].token_hash


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("desk@clinic.example", "wrong password", id="wrong_password"),
        pytest.param("nobody@clinic.example", STAFF_PASSWORD, id="unknown_email"),
    ],
)
def test_a_failed_sign_in_says_the_same_whatever_was_wrong(
    browser: TestClient, desk: User, email: str, password: str
) -> None:
    token = csrf_of(browser)
    response = browser.post(
        "/admin/login", data={"email": email, "password": password, "csrftoken": token}
    )
    assert response.status_code == 401
    assert SIGN_IN_FAILED in response.text
    assert f'value="{email}"' in response.text  # the e-mail is kept, the password is not
    assert password not in response.text
    assert "scheduler_session" not in response.headers.get("set-cookie", "")


def test_an_empty_form_shows_each_error_next_to_its_field(browser: TestClient) -> None:
    token = csrf_of(browser)
    response = browser.post("/admin/login", data={"email": "", "password": "", "csrftoken": token})
    assert response.status_code == 422
    assert 'id="error-email"' in response.text
    assert 'id="error-password"' in response.text
    assert 'href="#field-email"' in response.text  # the summary links to the field


def test_a_post_without_the_csrf_token_is_refused(browser: TestClient, desk: User) -> None:
    csrf_of(browser)  # the browser has its CSRF cookie, but the form omits the field
    response = browser.post("/admin/login", data={"email": desk.email, "password": STAFF_PASSWORD})
    assert response.status_code == 403
    assert "nothing was changed" in response.text
    assert "scheduler_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("path", ["/admin/login", "/admin/logout", "/book/details", "/manage/x"])
def test_a_multipart_form_post_is_refused_plainly_not_a_server_error(
    browser: TestClient, desk: User, path: str
) -> None:
    """No page has a file field; a form sent as multipart/form-data (a crafted request) is
    answered 415 with a page that says so, and changes nothing."""
    token = csrf_of(browser)
    response = browser.post(
        path,
        data={"email": desk.email, "password": STAFF_PASSWORD, "csrftoken": token},
        files={"attachment": ("a.txt", b"hello", "text/plain")},
    )
    assert response.status_code == 415
    assert "nothing was changed" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "scheduler_session" not in response.headers.get("set-cookie", "")


def test_a_sign_in_posted_from_a_browser_without_cookies_is_refused(
    browser: TestClient, desk: User
) -> None:
    response = browser.post("/admin/login", data={"email": desk.email, "password": STAFF_PASSWORD})
    assert response.status_code == 403


def test_sign_out_ends_the_session_for_a_copied_cookie_too(browser: TestClient, desk: User) -> None:
    sign_in(browser, desk.email)
    copied = browser.cookies.get("scheduler_session")
    sign_out(browser)
    browser.cookies.set("scheduler_session", copied or "", domain="testserver")
    assert is_signed_out(browser.get("/admin/"))


def test_signed_out_visitors_are_sent_to_sign_in_and_back(browser: TestClient) -> None:
    response = browser.get("/admin/my-schedule?week=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/my-schedule%3Fweek%3D2"


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(
    browser: TestClient, desk: User
) -> None:
    for target, expected in [
        ("/admin/my-schedule", "/admin/my-schedule"),
        ("//evil.example/", "/admin/"),
    ]:
        browser.cookies.clear()
        token = csrf_of(browser)
        response = browser.post(
            "/admin/login",
            data={
                "email": desk.email,
                "password": STAFF_PASSWORD,
                "csrftoken": token,
                "next": target,
            },
        )
        assert response.headers["location"] == expected


def test_idle_for_thirty_minutes_signs_out(
    browser: TestClient, desk: User, clock: FrozenClock
) -> None:
    sign_in(browser, desk.email)
    clock.advance(timedelta(minutes=29))
    assert browser.get("/admin/").status_code == 200  # activity restarts the idle limit
    clock.advance(timedelta(minutes=29))
    assert browser.get("/admin/").status_code == 200
    clock.advance(timedelta(minutes=30))
    assert is_signed_out(browser.get("/admin/"))
    clock.advance(-timedelta(minutes=30))  # an ended session stays ended
    assert is_signed_out(browser.get("/admin/"))


def test_twelve_hours_after_sign_in_the_session_ends_even_when_busy(
    browser: TestClient, desk: User, clock: FrozenClock
) -> None:
    sign_in(browser, desk.email)
    for _ in range(47):  # a page every 15 minutes for 11 h 45
        clock.advance(timedelta(minutes=15))
        assert browser.get("/admin/").status_code == 200
    clock.advance(timedelta(minutes=15))
    assert is_signed_out(browser.get("/admin/"))


def test_disabling_a_user_signs_them_out_at_their_next_click(
    browser: TestClient, desk: User, db: Session
) -> None:
    sign_in(browser, desk.email)
    assert browser.get("/admin/").status_code == 200
    desk.active = False
    db.add(desk)
    db.commit()
    assert is_signed_out(browser.get("/admin/"))
    desk.active = True  # re-enabling does not revive the old session
    db.add(desk)
    db.commit()
    assert is_signed_out(browser.get("/admin/"))


def test_a_provider_is_refused_front_desk_pages(browser: TestClient, db: Session) -> None:
    provider = make_provider(db)
    user = make_user(db, role="provider", email="doc@clinic.example", provider_id=provider.id)
    token = csrf_of(browser)
    response = browser.post(
        "/admin/login",
        data={"email": user.email, "password": STAFF_PASSWORD, "csrftoken": token},
    )
    assert response.headers["location"] == "/admin/my-schedule"
    refused = browser.get("/admin/")
    assert refused.status_code == 403
    assert "not available to your role" in refused.text
    assert browser.get("/admin/my-schedule").status_code == 200


def test_pages_carry_the_security_headers(browser: TestClient, desk: User) -> None:
    sign_in(browser, desk.email)
    for path in ("/admin/login", "/admin/"):
        headers = browser.get(path, follow_redirects=True).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"


def test_static_files_are_served_with_long_caching_when_versioned(browser: TestClient) -> None:
    page = browser.get("/admin/login")
    css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page.text)
    assert css
    response = browser.get(css.group(1))
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-type"].startswith("text/css")


def test_the_api_keeps_its_problem_json_and_skips_csrf(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "x@y.z", "password": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "content-security-policy" not in response.headers


def test_signing_in_again_ends_the_browsers_previous_session(
    browser: TestClient, desk: User
) -> None:
    sign_in(browser, desk.email)
    first = browser.cookies.get("scheduler_session")
    token = csrf_of(browser, "/admin/")  # the sign-in page itself sends a signed-in user on
    again = {"email": desk.email, "password": STAFF_PASSWORD, "csrftoken": token}
    assert browser.post("/admin/login", data=again).status_code == 303
    assert browser.cookies.get("scheduler_session") != first
    browser.cookies.clear()
    browser.cookies.set("scheduler_session", first or "", domain="testserver")
    assert is_signed_out(browser.get("/admin/"))


def test_sign_in_attempts_are_rate_limited_with_a_plain_message(
    settings: Settings, clock: FrozenClock, session_factory: sessionmaker[Session], desk: User
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "login_rate_limit": "2/minute"}
    )
    app = create_app(limited, clock=clock, session_factory=session_factory)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        for _ in range(2):
            token = csrf_of(client)
            wrong = {"email": desk.email, "password": "wrong", "csrftoken": token}
            assert client.post("/admin/login", data=wrong).status_code == 401
        token = csrf_of(client)
        right = {"email": desk.email, "password": STAFF_PASSWORD, "csrftoken": token}
        response = client.post("/admin/login", data=right)
        assert response.status_code == 429
        assert "Too many sign-in attempts" in response.text
        assert "scheduler_session" not in response.headers.get("set-cookie", "")


def test_page_errors_are_pages_not_json(browser: TestClient, desk: User) -> None:
    sign_in(browser, desk.email)
    missing = browser.get("/admin/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "This page does not exist." in missing.text
    token = csrf_of(browser, "/admin/")
    truncated = browser.post("/admin/bookings/1/check-in", data={"csrftoken": token})
    assert truncated.status_code == 400
    assert "nothing was changed" in truncated.text
    unknown_location = browser.get("/admin/today?location=999999")
    assert unknown_location.status_code == 404
    assert "Location 999999 does not exist." in unknown_location.text


def test_a_password_change_ends_the_sessions_started_before_it(
    browser: TestClient,
    client: TestClient,
    desk: User,
    admin_headers: dict[str, str],
    clock: FrozenClock,
) -> None:
    sign_in(browser, desk.email)
    assert browser.get("/admin/").status_code == 200
    clock.advance(timedelta(minutes=1))
    changed = client.patch(
        f"/api/v1/users/{desk.id}",
        json={"password": "a brand new passphrase"},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert is_signed_out(browser.get("/admin/"))
    browser.cookies.clear()
    sign_in(browser, desk.email, password="a brand new passphrase")
    assert browser.get("/admin/").status_code == 200
