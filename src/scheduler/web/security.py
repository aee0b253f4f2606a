"""What every web page's response carries, and CSRF protection of every form post.

``WebSecurity`` is one ASGI middleware in front of the app that acts on ``/admin``, the
patient pages (``/book``, ``/manage``, ``/me``) and ``/static`` only (the API's hot paths pass
straight through):

- CSRF: ``asgi-csrf`` (a signed double-submit token: a cookie plus the ``csrftoken`` form
  field or ``X-CSRFToken`` header). Every unsafe method under ``/admin`` must carry it, the
  sign-in form included (login CSRF), even from a browser without cookies yet.
- Headers: a Content-Security-Policy allowing nothing from another host and no inline
  script, framing forbidden, ``Referrer-Policy: same-origin``, ``nosniff``; pages are
  ``Cache-Control: no-store`` (they show personal data); versioned static files are cached
  for a year (their URL changes with their content, see ``templating.static_url``).
- The patient pages: the same, with their own CSRF cookies (paths ``/book``, ``/manage``
  ``/me`` and ``/waitlist``), ``Referrer-Policy: no-referrer`` (a manage page's, a sign-in
  link's or a waitlist offer's URL holds its token) and, on manage, ``/me`` and waitlist offer
  pages, ``X-Robots-Tag: noindex``.

The policy allows inline ``style`` *attributes* (``style-src-attr``), not ``<style>``
elements: the day board places blocks on its time grid with them. No script can be inline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgi_csrf import Errors, asgi_csrf

from scheduler.config import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
PATIENT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"referrer-policy", b"no-referrer"),
    *(h for h in COMMON_HEADERS if h[0] != b"referrer-policy"),
)
MANAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *PATIENT_HEADERS,
    (b"x-robots-tag", b"noindex, nofollow"),
)
NO_STORE = (b"cache-control", b"no-store")
STATIC_IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
STATIC_SHORT = (b"cache-control", b"public, max-age=300")
CSRF_PROTECTED_WITHOUT_COOKIES = frozenset({"/admin/login", "/admin/logout"})

CSRF_FAILED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Form expired</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>This form could not be accepted</h1>
<p>The form expired or did not come from this site, so nothing was changed.
Go back, reload the page and try again.</p>
<p><a href="/admin/">Back to the start page</a></p></main></body></html>
"""
PATIENT_CSRF_FAILED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Form expired</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>This form could not be accepted</h1>
<p>The form expired or did not come from this site, so nothing was changed.
Go back, reload the page and try again.</p>
<p><a href="/book">Book a visit</a></p></main></body></html>
"""


UNSUPPORTED_FORM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Form not accepted</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>This form could not be accepted</h1>
<p>The pages' forms are sent as <code>application/x-www-form-urlencoded</code>; this one came
in another encoding, so nothing was changed. Go back, reload the page and try again.</p>
</main></body></html>
"""


def _is_multipart_post(scope: Scope) -> bool:
    """A form post in ``multipart/form-data``. No page has a file field, so every page form
    is url-encoded; asgi-csrf cannot read multipart bodies with the python-multipart this
    project pins (its parser changed), so such a post is refused before it gets there."""
    if scope.get("method") != "POST":
        return False
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            return bool(value.lower().lstrip().startswith(b"multipart/"))
    return False


async def _unsupported_form(send: Send, extra: tuple[tuple[bytes, bytes], ...]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 415,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), *extra, NO_STORE],
        }
    )
    await send({"type": "http.response.body", "body": UNSUPPORTED_FORM_PAGE.encode()})


async def _csrf_failed(scope: Scope, send: Send, _reason: Errors) -> None:
    patient = not str(scope.get("path", "")).startswith("/admin")
    body = PATIENT_CSRF_FAILED_PAGE if patient else CSRF_FAILED_PAGE
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                *(PATIENT_HEADERS if patient else COMMON_HEADERS),
                NO_STORE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def _with_headers(
    send: Send, extra: tuple[tuple[bytes, bytes], ...], cache: tuple[bytes, bytes]
) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            present = {key.lower() for key, _ in headers}
            headers.extend(h for h in extra if h[0] not in present)
            if cache[0] not in present or cache is STATIC_IMMUTABLE:
                headers = [h for h in headers if h[0].lower() != b"cache-control"]
                headers.append(cache)
            message["headers"] = headers
        await send(message)

    return wrapped


class _EveryPath:
    """``always_protect`` for the patient pages: every form post needs its token, even from
    a browser that sends no cookie (asgi-csrf lets cookie-less posts through otherwise)."""

    def __contains__(self, _path: object) -> bool:
        return True


# asgi-csrf hands the app a copy of the scope, and the router notes the route it matched in
# the scope it is given: without this, the access log and /metrics (outside this middleware)
# saw no route for any page. The match is copied back to the scope this middleware was given.
_OUTER_SCOPE = "scheduler.web.outer_scope"
_ROUTING_KEYS = ("endpoint", "route", "fastapi", "path_params")


def _routing_kept(app: ASGIApp) -> ASGIApp:
    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            outer = scope.get(_OUTER_SCOPE)
            if outer is not None and outer is not scope:
                for key in _ROUTING_KEYS:
                    if key in scope:
                        outer[key] = scope[key]

    return routed


class WebSecurity:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        routed = _routing_kept(app)
        self.protected: ASGIApp = asgi_csrf(
            routed,
            signing_secret=settings.secret_key,
            signing_namespace="scheduler-web-csrf",
            always_protect=CSRF_PROTECTED_WITHOUT_COOKIES,
            cookie_secure=settings.environment != "development",
            cookie_samesite="Lax",
            cookie_path="/admin",
            send_csrf_failed=_csrf_failed,
        )
        self.patient_protected = {
            prefix: asgi_csrf(
                routed,
                signing_secret=settings.secret_key,
                signing_namespace="scheduler-patient-csrf",
                always_protect=_EveryPath(),
                cookie_secure=settings.public_base_url.startswith("https://"),
                cookie_samesite="Lax",
                cookie_path=prefix,
                send_csrf_failed=_csrf_failed,
            )
            for prefix in ("/book", "/manage", "/me", "/waitlist")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/admin" or path.startswith("/admin/"):
            if _is_multipart_post(scope):
                await _unsupported_form(send, COMMON_HEADERS)
                return
            scope[_OUTER_SCOPE] = scope
            try:
                await self.protected(scope, receive, _with_headers(send, COMMON_HEADERS, NO_STORE))
            finally:
                del scope[_OUTER_SCOPE]
        elif path in ("/book", "/manage", "/me") or path.startswith(
            ("/book/", "/manage/", "/me/", "/waitlist/")
        ):
            prefix = "/" + path.split("/")[1]
            # /me and /waitlist: a sign-in link's or an offer's token is in the URL, like a
            # manage page's.
            extra = PATIENT_HEADERS if prefix == "/book" else MANAGE_HEADERS
            if _is_multipart_post(scope):
                await _unsupported_form(send, extra)
                return
            scope[_OUTER_SCOPE] = scope
            try:
                await self.patient_protected[prefix](
                    scope, receive, _with_headers(send, extra, NO_STORE)
                )
            finally:
                del scope[_OUTER_SCOPE]
        elif path.startswith("/static/"):
            versioned = b"v=" in scope.get("query_string", b"")
            cache = STATIC_IMMUTABLE if versioned else STATIC_SHORT
            await self.app(scope, receive, _with_headers(send, COMMON_HEADERS, cache))
        else:
            await self.app(scope, receive, send)
