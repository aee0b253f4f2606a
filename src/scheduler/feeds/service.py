"""Calendar subscriptions: secret feed URLs for a provider's or a location's schedule.

Feeds go to third-party servers (Google, Apple, Microsoft), so they disclose as little as
possible: never a patient's name, phone, e-mail, date of birth or notes — only the appointment
type and, at the default privacy level, the patient's initials. Tokens are 256-bit random,
stored only as SHA-256, shown once, revocable and rotatable; an unknown or revoked token is an
immediate 404.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import Connection
from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.config import Settings
from scheduler.errors import NotFound
from scheduler.feeds import repository
from scheduler.feeds.cache import FeedRenderCache, RenderedFeed
from scheduler.feeds.schemas import FeedTokenCreate
from scheduler.ical.builder import FeedEvent, FeedEventStatus, Organizer, build_calendar
from scheduler.ical.vtimezone import zone_transitions
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    FeedToken,
    Location,
    Provider,
)
from scheduler.models.enums import ACTIVE_STATUSES, BookingStatus

MAX_FEED_EVENTS = 5000
# Cancellations a feed shows at most, the most recently changed first: a 30-chair location
# cancels a few hundred visits in the default 14 days' grace; a feed of thousands of them
# (booked and cancelled over and over, as benchmarks/soak.py does) only cost every render.
MAX_FEED_CANCELLATIONS = 1000
# Every active status, as a calendar event's STATUS.
STATUS_MAP: dict[str, FeedEventStatus] = {
    status: "TENTATIVE" if status == BookingStatus.PENDING else "CONFIRMED"
    for status in ACTIVE_STATUSES
}
_SECRET = frozenset({"token_hash"})


def feed_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/feeds/{token}.ics"


def _check_owner(session: Session, provider_id: int | None, location_id: int | None) -> None:
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise NotFound(f"Provider {provider_id} does not exist.")
    if location_id is not None and session.get(Location, location_id) is None:
        raise NotFound(f"Location {location_id} does not exist.")


def create_token(
    session: Session, data: FeedTokenCreate, *, actor: Actor, now: datetime
) -> tuple[FeedToken, str]:
    _check_owner(session, data.provider_id, data.location_id)
    return _issue(session, data.provider_id, data.location_id, data.label, actor=actor, now=now)


def _issue(
    session: Session,
    provider_id: int | None,
    location_id: int | None,
    label: str,
    *,
    actor: Actor,
    now: datetime,
    action: str = "feed_token.create",
) -> tuple[FeedToken, str]:
    secret = new_token()
    token = FeedToken(
        token_hash=hash_token(secret),
        provider_id=provider_id,
        location_id=location_id,
        label=label,
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    audited_write(
        session,
        token,
        actor=actor,
        now=now,
        action=action,
        entity_type="feed_token",
        after=snapshot(token, exclude=_SECRET),
    )
    return token, secret


def get_token(session: Session, token_id: int) -> FeedToken:
    token = session.get(FeedToken, token_id)
    if token is None:
        raise NotFound(f"Feed token {token_id} does not exist.")
    return token


def _chain(session: Session, token: FeedToken) -> list[FeedToken]:
    """``token`` and the tokens rotations replaced it with, oldest first: the last one is
    the URL a subscriber of ``token`` holds now (it may itself be revoked)."""
    chain = [token]
    while chain[-1].replaced_by_id is not None:
        chain.append(get_token(session, chain[-1].replaced_by_id))
    return chain


def revoke_token(session: Session, token_id: int, *, actor: Actor, now: datetime) -> FeedToken:
    """Revoke a feed URL, and with it every URL rotations of it have issued since: revoking
    a token by its original id ends the URL its subscribers hold now. The URLs answer 404 at
    once. Revoking again changes nothing."""
    chain = _chain(session, get_token(session, token_id))
    for token in chain:
        if token.revoked_at is None:
            _revoke(session, token, actor=actor, now=now)
    return chain[0]


def _revoke(session: Session, token: FeedToken, *, actor: Actor, now: datetime) -> None:
    before = snapshot(token, exclude=_SECRET)
    token.revoked_at = now
    audited_write(
        session,
        token,
        actor=actor,
        now=now,
        action="feed_token.revoke",
        entity_type="feed_token",
        before=before,
        exclude=_SECRET,
    )


def rotate_token(
    session: Session, token_id: int, *, actor: Actor, now: datetime
) -> tuple[FeedToken, str]:
    """Replace a feed URL: the old one stops working at once, the new one has the same owner.

    Given a token an earlier rotation replaced, the URL replaced is the one the rotations led
    to; once that is revoked there is nothing to rotate (404: create a new one)."""
    old = _chain(session, get_token(session, token_id))[-1]
    if old.revoked_at is not None:
        raise NotFound(f"Feed token {token_id} was revoked; create a new one instead.")
    _revoke(session, old, actor=actor, now=now)
    new, secret = _issue(
        session,
        old.provider_id,
        old.location_id,
        old.label,
        actor=actor,
        now=now,
        action="feed_token.rotate",
    )
    old.replaced_by_id = new.id
    session.add(old)
    session.flush()
    return new, secret


def list_tokens(
    session: Session, *, provider_id: int | None, location_id: int | None, include_revoked: bool
) -> list[FeedToken]:
    return repository.list_tokens(
        session, provider_id=provider_id, location_id=location_id, include_revoked=include_revoked
    )


def initials(first_name: str, last_name: str) -> str:
    letters = [part[0].upper() for part in (first_name.strip(), last_name.strip()) if part]
    return ".".join(letters) + "." if letters else ""


def event_summary(type_name: str, first_name: str, last_name: str, privacy: str) -> str:
    if privacy == "type_and_initials":
        who = initials(first_name, last_name)
        return f"{type_name} – {who}" if who else type_name
    return type_name


def _feed_status(booking: Booking) -> FeedEventStatus:
    return STATUS_MAP.get(booking.status, "CANCELLED")


# Part of every feed validator: raise it when the same data would render other bytes.
FEED_FORMAT = "4"
# Patients changed since the start of yesterday (UTC) are looked up by every feed check.
PATIENT_CHANGE_HORIZON = timedelta(days=1)


def feed_window(settings: Settings, now: datetime) -> repository.FeedWindow:
    """The feed's window in whole UTC days around ``now``'s: the past ``feed_past_days`` and
    the next ``feed_future_days`` (to the end of that day); cancelled bookings stay for
    ``feed_cancelled_grace_days`` counted the same way.

    Whole days make the window, and with it the feed, change once a day rather than with
    every request, so an unchanged feed can be revalidated.
    """
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    return repository.FeedWindow(
        start_at=today - timedelta(days=settings.feed_past_days),
        end_at=today + timedelta(days=settings.feed_future_days + 1),
        cancelled_since=today - timedelta(days=settings.feed_cancelled_grace_days),
        patients_since=today - PATIENT_CHANGE_HORIZON,
    )


@dataclass(frozen=True)
class FeedPlan:
    """A feed token's check: the validator of the feed's bytes, known before rendering.

    The validator is a SHA-256 over everything the bytes depend on: the format, the
    icalendar version, the settings, the window, the owner, the zone and its transitions
    (the VTIMEZONE), count and versions of the owner's bookings from the window on, every
    type, chair, location and provider name, and, when initials are shown, the names of the
    patients changed recently (see ``repository.feed_check``). A calendar client
    revalidating an unchanged feed therefore gets its 304 for one statement.
    """

    validator: str
    token_hash: str
    check: repository.FeedCheck
    window: repository.FeedWindow
    privacy: str


def plan_feed(
    connection: Connection, secret: str, *, settings: Settings, now: datetime
) -> FeedPlan:
    """What the feed for a token depends on now, or 404 for an unknown or revoked token.

    One statement: a connection without a transaction around it will do (``StatementReader``)
    when only the validator is needed, for a conditional request."""
    window = feed_window(settings, now)
    privacy = settings.feed_privacy
    token_hash = hash_token(secret)
    check = repository.feed_check(
        connection,
        token_hash,
        window=window,
        with_patients=privacy == "type_and_initials",
    )
    if check is None:
        raise NotFound("No such calendar feed.")
    zone = check.zone or "UTC"
    inputs = (
        FEED_FORMAT,
        icalendar.__version__,
        privacy,
        MAX_FEED_EVENTS,
        MAX_FEED_CANCELLATIONS,
        window,
        _zone_digest(zone, window.start_at.year - 1, window.end_at.year + 1),
        check,
    )
    validator = hashlib.sha256(repr(inputs).encode()).hexdigest()
    return FeedPlan(validator, token_hash, check, window, privacy)


@lru_cache(maxsize=64)
def _zone_digest(zone: str, first_year: int, last_year: int) -> str:
    """The zone's transitions in those years (what its VTIMEZONE says), as a digest."""
    transitions = zone_transitions(ZoneInfo(zone), first_year, last_year)
    return hashlib.sha256(repr((zone, transitions)).encode()).hexdigest()


def render_plan(
    session: Session, plan: FeedPlan, cache: FeedRenderCache | None = None
) -> RenderedFeed:
    """The calendar bytes for a plan, read in the plan's snapshot (the caller's transaction).

    Deterministic, so kept in ``cache`` under the feed's token with the plan's validator (the
    feed's latest version only): this helps only after a first render.
    """
    if cache is not None:
        cached = cache.get(plan.token_hash, plan.validator)
        if cached is not None:
            return cached
    rendered = _render(session, plan)
    if cache is not None:
        cache.put(plan.token_hash, plan.validator, rendered)
    return rendered


def _render(session: Session, plan: FeedPlan) -> RenderedFeed:
    check = plan.check
    with_patients = plan.privacy == "type_and_initials"
    rows = repository.feed_rows(
        session,
        provider_id=check.provider_id,
        location_id=check.location_id,
        window=plan.window,
        with_patients=with_patients,
        limit=MAX_FEED_EVENTS,
        cancelled_limit=MAX_FEED_CANCELLATIONS,
    )
    types = _names(check.types)
    chairs = _names(check.chairs)
    locations = _names(check.locations)
    providers = _names(check.providers)
    for_provider = check.provider_id is not None
    events = [
        FeedEvent(
            uid=row.ical_uid,
            sequence=row.sequence,
            start_at=row.start_at,
            end_at=row.end_at,
            summary=event_summary(
                types[row.appointment_type_id],
                row.first_name or "",
                row.last_name or "",
                plan.privacy,
            ),
            location=_event_location(
                None if row.chair_id is None else chairs[row.chair_id],
                locations[row.location_id] if for_provider else None,
            ),
            status=STATUS_MAP.get(row.status, "CANCELLED"),
            last_modified_at=row.updated_at,
            description=None if for_provider else providers[row.provider_id],
        )
        for row in rows
    ]
    if for_provider:
        assert check.provider_id is not None
        name = providers[check.provider_id]
    else:
        assert check.location_id is not None
        name = locations[check.location_id]
    body = build_calendar(
        name=f"{name} – schedule", tz=ZoneInfo(check.zone or "UTC"), events=events
    )
    last_modified = max((e.last_modified_at for e in events), default=check.created_at)
    return RenderedFeed(body, last_modified)


def _event_location(chair: str | None, location: str | None) -> str | None:
    """The chair in a location feed; chair and location in a provider feed."""
    if chair is None or location is None:
        return chair
    return f"{chair}, {location}"


def _names(encoded: str | None) -> dict[int, str]:
    """``{id: name}`` from a ``FeedCheck`` column of ``[id, name, ...]`` rows."""
    rows: list[list[Any]] = json.loads(encoded) if encoded else []
    return {int(row[0]): str(row[1]) for row in rows}


def render_feed(
    session: Session,
    secret: str,
    *,
    settings: Settings,
    now: datetime,
    cache: FeedRenderCache | None = None,
) -> RenderedFeed:
    """The calendar for a feed token, or 404 for an unknown or revoked one."""
    plan = plan_feed(session.connection(), secret, settings=settings, now=now)
    return render_plan(session, plan, cache)


def booking_organizer(settings: Settings, location: Location) -> Organizer:
    """The clinic as a booking's organizer: ``clinic_name`` (else the location's name) and
    ``mailto:clinic_email`` (else the public web address, a URI that names no mailbox)."""
    name = settings.clinic_name or location.name
    if settings.clinic_email:
        return Organizer(name, f"mailto:{settings.clinic_email}")
    return Organizer(name, settings.public_base_url.rstrip("/") + "/")


def render_booking_ics(
    session: Session, booking: Booking, *, settings: Settings, neutral: bool = False
) -> bytes:
    """The patient's own appointment as a single-event calendar, with their instructions.

    It goes to the patient (or staff), not to a subscription server, so it may carry the
    preparation instructions; it still carries no other personal data. ``neutral``: the
    SUMMARY says "Appointment", not the treatment, like the subject of the e-mail it is
    attached to (mail and calendar servers read both). ``METHOD:PUBLISH``
    with the clinic as ORGANIZER (RFC 5546 3.2.1), so iTIP readers (libical) accept it; the
    instants are written exactly as in the feeds.
    """
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    location = session.get(Location, booking.location_id)
    assert appointment_type is not None
    assert location is not None
    chair = session.get(Chair, booking.chair_id) if booking.chair_id is not None else None
    where = ", ".join(
        p for p in (chair.name if chair else "", location.name, location.address) if p
    )
    event = FeedEvent(
        uid=booking.ical_uid,
        sequence=booking.sequence,
        start_at=booking.start_at,
        end_at=booking.end_at,
        summary=(
            f"{'Appointment' if neutral else appointment_type.name}"
            f" – {settings.clinic_name or location.name}"
        ),
        location=where,
        status=_feed_status(booking),
        last_modified_at=booking.updated_at,
        description=patient_instructions_text(
            appointment_type, booking, ZoneInfo(location.timezone)
        )
        or None,
        organizer=booking_organizer(settings, location),
    )
    return build_calendar(
        name=f"{location.name} appointment",
        tz=ZoneInfo(location.timezone),
        events=[event],
        method="PUBLISH",
    )


def patient_instructions_text(
    appointment_type: AppointmentType, booking: Booking, tz: ZoneInfo
) -> str:
    return "\n".join(patient_instructions(appointment_type, booking.start_at, tz))


def patient_instructions(
    appointment_type: AppointmentType, start_at: datetime, tz: ZoneInfo
) -> Sequence[str]:
    """Day-of instructions with concrete local clock times ("stop eating at 07:30")."""
    lines: list[str] = []
    if appointment_type.fasting_hours:
        stop = (start_at - timedelta(hours=appointment_type.fasting_hours)).astimezone(tz)
        hours = appointment_type.fasting_hours
        lines.append(f"Stop eating at {stop:%H:%M} on {stop:%A %d %B} ({hours} h before).")
    if appointment_type.clear_liquids_hours:
        stop = (start_at - timedelta(hours=appointment_type.clear_liquids_hours)).astimezone(tz)
        lines.append(f"Clear liquids only until {stop:%H:%M}, then nothing by mouth.")
    if appointment_type.driver_required:
        lines.append("Bring a driver: you must not drive for the rest of the day.")
    if appointment_type.patient_instructions:
        lines.append(appointment_type.patient_instructions)
    return lines
