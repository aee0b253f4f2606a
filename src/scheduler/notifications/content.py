"""What a message says: subject, plain text and HTML from Jinja2 templates.

Templates live in this package (``templates/message.txt`` and ``message.html``); a clinic
overrides either by putting a file of the same name in ``SCHEDULER_MAIL_TEMPLATE_DIR``.

Minimum necessary: the patient's first name, the clinic, the local time with the zone's
name, the address, the preparation instructions and the manage link. Subjects name the
clinic and the time, never the treatment ("Your appointment at Downtown on Tue 9 Mar, 10:00").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from scheduler.kit.zones import everyday_zone_name

SUBJECTS = {
    "confirmation": "Your appointment at {clinic} on {when}",
    "rescheduled": "Your appointment at {clinic} has moved to {when}",
    "cancellation": "Your appointment at {clinic} on {when} is cancelled",
    "reminder": "Reminder: your appointment at {clinic} on {when}",
    "instructions": "Getting ready for your appointment at {clinic} on {when}",
}


@dataclass(frozen=True)
class MessageContext:
    kind: str
    first_name: str
    clinic: str
    address: str
    phone: str
    timezone: str
    start_at: datetime  # in the clinic's zone
    end_at: datetime
    instructions: tuple[str, ...]
    manage_url: str
    opt_out_url: str | None
    cancelled_by: str = ""


def short_when(local: datetime) -> str:
    """``Tue 9 Mar, 10:00`` (the clinic's wall clock)."""
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def long_when(local: datetime, zone: str) -> str:
    """``Tuesday 9 March 2026, 10:00 Eastern Time (EDT)``: the zone named as the patient
    pages name it (``kit/zones.py``), so the e-mail and the page a patient opens from it
    agree."""
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {everyday_zone_name(zone, local)}"


def subject(context: MessageContext) -> str:
    return SUBJECTS[context.kind].format(clinic=context.clinic, when=short_when(context.start_at))


@lru_cache(maxsize=8)
def environment(override_dir: str | None) -> jinja2.Environment:
    """The messages' templates: ``override_dir``'s files first, then this package's (also the
    waitlist offer's, ``waitlist/messages.py``)."""
    loaders: list[jinja2.BaseLoader] = []
    if override_dir:
        loaders.append(jinja2.FileSystemLoader(override_dir))
    loaders.append(jinja2.PackageLoader("scheduler.notifications", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(context: MessageContext, *, override_dir: Path | None = None) -> tuple[str, str, str]:
    """``(subject, text, html)`` of the message."""
    env = environment(str(override_dir) if override_dir else None)
    values = {
        "kind": context.kind,
        "first_name": context.first_name,
        "clinic": context.clinic,
        "address": context.address,
        "phone": context.phone,
        "when": long_when(context.start_at, context.timezone),
        "start_time": f"{context.start_at:%H:%M}",
        "end_time": f"{context.end_at:%H:%M}",
        "zone": context.timezone,
        "instructions": context.instructions,
        "manage_url": context.manage_url,
        "opt_out_url": context.opt_out_url,
        "cancelled_by": context.cancelled_by,
    }
    text = env.get_template("message.txt").render(values)
    html = env.get_template("message.html").render(values)
    return subject(context), text, html


def local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


SIGN_IN_SUBJECT = "Your sign-in link for {clinic}"


def render_sign_in(
    *,
    first_name: str,
    clinic: str,
    phone: str,
    link_url: str,
    minutes: int,
    override_dir: Path | None = None,
) -> tuple[str, str, str]:
    """``(subject, text, html)`` of a returning patient's sign-in message (``sign_in.txt``,
    ``sign_in.html``). Like every subject, it names no treatment."""
    env = environment(str(override_dir) if override_dir else None)
    values = {
        "first_name": first_name,
        "clinic": clinic,
        "phone": phone,
        "link_url": link_url,
        "minutes": minutes,
    }
    text = env.get_template("sign_in.txt").render(values)
    html = env.get_template("sign_in.html").render(values)
    return SIGN_IN_SUBJECT.format(clinic=clinic), text, html
