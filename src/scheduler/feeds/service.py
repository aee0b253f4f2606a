"""Calendar subscriptions: secret feed URLs for a provider's or a location's schedule.

Feeds go to third-party servers (Google, Apple, Microsoft), so they disclose as little as
possible: never a patient's name, phone, e-mail, date of birth or notes — only the appointment
type and, at the default privacy level, the patient's initials. Tokens are 256-bit random,
stored only as SHA-256, shown once, revocable and rotatable; an unknown or revoked token is an
immediate 404.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from scheduler.audit.service import Actor, record_event, snapshot
from scheduler.config import Settings
from scheduler.errors import NotFound
from scheduler.feeds import repository
from scheduler.feeds.schemas import FeedTokenCreate
from scheduler.ical.builder import FeedEvent, FeedEventStatus, build_calendar
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    FeedToken,
    Location,
    Provider,
    ProviderLocation,
)

MAX_FEED_EVENTS = 5000
STATUS_MAP: dict[str, FeedEventStatus] = {
    "pending": "TENTATIVE",
    "booked": "CONFIRMED",
    "arrived": "CONFIRMED",
    "checked-in": "CONFIRMED",
    "fulfilled": "CONFIRMED",
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
    session.add(token)
    session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        action=action,
        entity_type="feed_token",
        entity_id=token.id,
        after=snapshot(token, exclude=_SECRET),
    )
    return token, secret


def get_token(session: Session, token_id: int) -> FeedToken:
    token = session.get(FeedToken, token_id)
    if token is None:
        raise NotFound(f"Feed token {token_id} does not exist.")
    return token


def revoke_token(session: Session, token_id: int, *, actor: Actor, now: datetime) -> FeedToken:
    token = get_token(session, token_id)
    if token.revoked_at is None:
        before = snapshot(token, exclude=_SECRET)
        token.revoked_at = now
        session.add(token)
        session.flush()
        record_event(
            session,
            actor=actor,
            now=now,
            action="feed_token.revoke",
            entity_type="feed_token",
            entity_id=token.id,
            before=before,
            after=snapshot(token, exclude=_SECRET),
        )
    return token


def rotate_token(
    session: Session, token_id: int, *, actor: Actor, now: datetime
) -> tuple[FeedToken, str]:
    """Replace a feed URL: the old one stops working at once, the new one has the same owner."""
    old = get_token(session, token_id)
    if old.revoked_at is not None:
        raise NotFound(f"Feed token {token_id} was revoked; create a new one instead.")
    revoke_token(session, token_id, actor=actor, now=now)
    return _issue(
        session,
        old.provider_id,
        old.location_id,
        old.label,
        actor=actor,
        now=now,
        action="feed_token.rotate",
    )


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


@dataclass(frozen=True)
class FeedPlan:
    """Everything one feed render depends on, and a validator (hash) of it.

    The validator is known before rendering, so a calendar client revalidating an unchanged
    feed gets its 304 for the price of one query; a changed feed renders once per process
    and is then served from a small cache keyed by the validator.
    """

    validator: str
    name: str
    zone: str
    events: tuple[FeedEvent, ...]
    last_modified: datetime


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    last_modified: datetime | None


_RENDER_CACHE_SIZE = 32
_render_cache: OrderedDict[str, bytes] = OrderedDict()
_render_lock = threading.Lock()


def plan_feed(session: Session, secret: str, *, settings: Settings, now: datetime) -> FeedPlan:
    """What the feed for a token holds now, or 404 for an unknown or revoked token."""
    token = repository.active_token(session, hash_token(secret))
    if token is None:
        raise NotFound("No such calendar feed.")
    rows = repository.feed_rows(
        session,
        provider_id=token.provider_id,
        location_id=token.location_id,
        start_at=now - timedelta(days=settings.feed_past_days),
        end_at=now + timedelta(days=settings.feed_future_days),
        cancelled_since=now - timedelta(days=settings.feed_cancelled_grace_days),
        limit=MAX_FEED_EVENTS,
    )
    name, zone = _calendar_identity(session, token)
    events = tuple(
        FeedEvent(
            uid=row.ical_uid,
            sequence=row.sequence,
            start_at=row.start_at,
            end_at=row.end_at,
            summary=event_summary(
                row.type_name, row.first_name, row.last_name, settings.feed_privacy
            ),
            location=row.chair_name
            if token.provider_id is None or row.chair_name is None
            else f"{row.chair_name}, {row.location_name}",
            status=STATUS_MAP.get(row.status, "CANCELLED"),
            last_modified_at=row.updated_at,
            description=None if token.provider_id is not None else row.provider_name,
        )
        for row in rows
    )
    validator = hashlib.sha256(repr((name, zone, events)).encode()).hexdigest()
    last_modified = max((e.last_modified_at for e in events), default=token.created_at)
    return FeedPlan(validator, name, zone, events, last_modified)


def render_plan(plan: FeedPlan) -> bytes:
    """The calendar bytes for a plan (deterministic, so cached by the plan's validator)."""
    with _render_lock:
        cached = _render_cache.get(plan.validator)
        if cached is not None:
            _render_cache.move_to_end(plan.validator)
            return cached
    body = build_calendar(name=plan.name, tz=ZoneInfo(plan.zone), events=plan.events)
    with _render_lock:
        _render_cache[plan.validator] = body
        while len(_render_cache) > _RENDER_CACHE_SIZE:
            _render_cache.popitem(last=False)
    return body


def render_feed(
    session: Session, secret: str, *, settings: Settings, now: datetime
) -> RenderedFeed:
    """The calendar for a feed token, or 404 for an unknown or revoked one."""
    plan = plan_feed(session, secret, settings=settings, now=now)
    return RenderedFeed(body=render_plan(plan), last_modified=plan.last_modified)


def _calendar_identity(session: Session, token: FeedToken) -> tuple[str, str]:
    if token.location_id is not None:
        location = session.get(Location, token.location_id)
        assert location is not None
        return f"{location.name} – schedule", location.timezone
    provider = session.get(Provider, token.provider_id)
    assert provider is not None
    zone = session.exec(
        select(Location.timezone)
        .join(ProviderLocation, col(ProviderLocation.location_id) == col(Location.id))
        .where(ProviderLocation.provider_id == provider.id)
        .order_by(col(Location.id))
    ).first()
    return f"{provider.display_name} – schedule", zone or "UTC"


def render_booking_ics(
    session: Session, booking: Booking, *, clinic_name: str | None = None
) -> bytes:
    """The patient's own appointment as a single-event calendar, with their instructions.

    It goes to the patient (or staff), not to a subscription server, so it may carry the
    preparation instructions; it still carries no other personal data.
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
        summary=f"{appointment_type.name} – {clinic_name or location.name}",
        location=where,
        status=_feed_status(booking),
        last_modified_at=booking.updated_at,
        description=patient_instructions_text(
            appointment_type, booking, ZoneInfo(location.timezone)
        )
        or None,
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
