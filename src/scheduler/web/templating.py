"""Rendering pages: the Jinja2 environment, ``render()``, static URLs, forms and flashes.

What other pages use (the day board, booking, patients...):

- ``render(request, "x.html", {...})`` -> an HTML response with the base layout's context
  (the signed-in user, their navigation, the flash message, the CSRF token);
- ``{{ csrf_field() }}`` inside every ``<form method="post">``;
- ``FormErrors`` with the macros of ``_forms.html``: the error next to its field, the input
  kept, and an error summary at the top linking to each field;
- ``flash(request, db_session, "Checked in.")`` for the message the next page shows once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from sqlmodel import Session

from scheduler.auth.actors import ADMIN, FRONT_DESK, PROVIDER
from scheduler.web import sessions

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static"
CSRF_FIELD = "csrftoken"
# The header's name when SCHEDULER_CLINIC_NAME is not set.
DEFAULT_HEADER_NAME = "Infusion Scheduler"


@dataclass(frozen=True)
class NavItem:
    """A section of the navigation: its page, who sees it, and the paths of its sub-pages
    (``href`` and each of ``also`` with anything under it), so the nav marks the section on
    every page of it."""

    label: str
    href: str
    roles: tuple[str, ...]
    also: tuple[str, ...] = ()

    def is_current(self, path: str) -> bool:
        if path.rstrip("/") == self.href.rstrip("/"):
            return True
        own = () if self.href == "/admin/" else (self.href,)
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in (*own, *self.also))


# A booking's page belongs to the board it is opened from (a provider's: their schedule).
BOOKING_PAGES = "/admin/bookings"

# The navigation by role; pages that do not exist yet are added by the work that builds them.
NAV: tuple[NavItem, ...] = (
    NavItem(
        "Day board", "/admin/", (ADMIN, FRONT_DESK), ("/admin/board", "/admin/week", BOOKING_PAGES)
    ),
    NavItem("Today", "/admin/today", (ADMIN, FRONT_DESK)),
    NavItem("Book", "/admin/book", (ADMIN, FRONT_DESK), ("/admin/series",)),
    NavItem("Patients", "/admin/patients", (ADMIN, FRONT_DESK)),
    NavItem("Waitlist", "/admin/waitlist", (ADMIN, FRONT_DESK)),
    NavItem("Messages", "/admin/messages", (ADMIN, FRONT_DESK)),
    NavItem("My schedule", "/admin/my-schedule", (PROVIDER,), (BOOKING_PAGES,)),
    NavItem("Availability", "/admin/availability", (ADMIN, FRONT_DESK, PROVIDER)),
    NavItem("Calendar feeds", "/admin/feeds", (ADMIN, FRONT_DESK, PROVIDER)),
    NavItem("Settings", "/admin/settings", (ADMIN,)),
)


@cache
def static_version(name: str) -> str:
    """A short content hash of a static file: its URL changes when it does, so browsers may
    cache it for a year (``immutable``)."""
    data = (STATIC_DIR / name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={static_version(name)}"


@pass_context
def _csrf_token(context: Context) -> str:
    request: Request | None = context.get("request")
    if request is None:
        return ""
    get = request.scope.get("csrftoken")
    return str(get()) if callable(get) else ""


@pass_context
def _csrf_field(context: Context) -> Markup:
    token = _csrf_token(context)
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(static_url=static_url, csrf_field=_csrf_field, csrf_token=_csrf_token)
    return env


@dataclass
class FormErrors:
    """Errors of a submitted form, by field name ('' for the form as a whole).

    ``add`` keeps the first message per field. In a template: ``errors.for_("email")``.
    """

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.messages.setdefault(name, message)

    def for_(self, name: str) -> str | None:
        return self.messages.get(name)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.messages.items())


def nav_for(role: str | None) -> list[NavItem]:
    return [item for item in NAV if role in item.roles]


def current_section(nav: list[NavItem], path: str) -> str | None:
    """The ``href`` of the section ``path`` is in (the nav marks it), or None."""
    return next((item.href for item in nav if item.is_current(path)), None)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` inside the base layout, with the signed-in user's context."""
    signed_in: sessions.SignedIn | None = getattr(request.state, "signed_in", None)
    user = signed_in.user if signed_in else None
    settings = request.app.state.settings
    nav = nav_for(user.role if user else None)
    values: dict[str, Any] = {
        "request": request,
        "user": user,
        "nav": nav,
        "current_path": request.url.path,
        "current_section": current_section(nav, request.url.path),
        "flash": signed_in.flash if signed_in else None,
        "failed_messages": signed_in.failed_messages if signed_in else 0,
        "clinic_name": settings.clinic_name or DEFAULT_HEADER_NAME,
        "errors": FormErrors(),
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def flash(request: Request, db: Session, message: str) -> None:
    """Show ``message`` once on the signed-in user's next page (written with the request's
    transaction, so a change that is rolled back announces nothing)."""
    signed_in: sessions.SignedIn | None = getattr(request.state, "signed_in", None)
    if signed_in is not None:
        sessions.set_flash(db, signed_in.session_id, message)
