"""Returning patients get in without a password (``/me``).

- ``request_link``: "enter your e-mail and date of birth". The answer is the same whoever
  asks; when the person is on file (an unmerged record with that e-mail and date of birth:
  the one ``person_record`` picks), a sign-in message is queued (kind ``sign_in``, sent by
  the worker) with a single-use link valid ``sign_in_link_minutes``. At most
  ``sign_in_mails_per_hour`` links per patient an hour; more requests are answered the same
  and send nothing.
- The link's token is never stored: the link row keeps a random ``nonce`` and the hash of
  HMAC(secret key, nonce), which is the token the worker puts in the mail (``link_token``).
- Following the link shows a button (``link_is_live``); pressing it (``use_link``) uses the
  link up and starts a patient session (random cookie token, stored hashed, expiring).
- A signed-in patient sees the visits of every record with their e-mail and date of birth,
  opens any of them by a fresh manage link, and books as themself: types whose
  prerequisites their record meets are bookable too.
- One person may have several records: an anonymous online booking makes its own record
  (flagged as a probable duplicate) until staff merge it into the record they keep, which
  holds the eligibility flags. ``person_record`` is the one rule for which of them a
  signed-in person is (sign-in, booking as oneself, joining the waitlist).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.appointment_types.schemas import PREREQUISITES
from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.config import Settings
from scheduler.errors import NotFound
from scheduler.kit.secrets import derived_token, hash_token, new_token
from scheduler.models import Booking, Notification, NotificationLink, Patient, PatientLink
from scheduler.models import PatientSession as SessionRow
from scheduler.notifications.outbox import new_message_id, policy_of
from scheduler.patient_access import repository
from scheduler.public import repository as public_repository

LINK_PURPOSE = "patient-sign-in"
MANAGE_LINK_GRACE = timedelta(days=1)
_CALLED_OFF = frozenset({"cancelled", "entered-in-error"})


class LinkRefused(NotFound):
    """A sign-in link that is unknown, used or expired (one answer for all three)."""


def link_token(settings: Settings, nonce: str) -> str:
    """The token of the link with this nonce (what the mail carries)."""
    return derived_token(settings.secret_key, LINK_PURPOSE, nonce)


def _rank(patient: Patient) -> tuple[bool, bool, int]:
    flagged = patient.probable_duplicate_of_id is not None
    eligible = any(getattr(patient, flag) for flag in PREREQUISITES)
    return (flagged, not eligible, patient.id or 0)


def chosen_record(records: Sequence[Patient]) -> Patient | None:
    """Which of one person's unmerged records they are when signed in: records not flagged
    as probable duplicates first (staff keep those; an anonymous online booking's own record
    is flagged until merged), then one with recorded eligibility (consultation, consent or
    REMS), then the lowest id. None for no records."""
    return min(records, key=_rank, default=None)


def person_record(session: Session, email: str, date_of_birth: date) -> Patient | None:
    """The record of the person with this e-mail and date of birth (``chosen_record``)."""
    return chosen_record(
        repository.records_of_person(session, email.strip().lower(), date_of_birth)
    )


def _actor(request_id: str) -> Actor:
    return Actor(kind="public", label="public:sign-in", request_id=request_id)


def request_link(
    session: Session,
    *,
    email: str,
    date_of_birth: date,
    request_id: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Queue a sign-in link for the person, if on file and under the hourly cap. Says
    nothing either way (the caller answers the same whatever happened)."""
    patient = person_record(session, email, date_of_birth)
    if patient is None or patient.id is None:
        return
    patient_id = patient.id
    sent = repository.sign_in_mails_since(session, patient_id, now - timedelta(hours=1))
    if sent >= settings.sign_in_mails_per_hour:
        return
    notification = Notification(
        patient_id=patient_id,
        kind="sign_in",
        due_at=now,
        message_id=new_message_id(policy_of(session)),
        created_at=now,
        updated_at=now,
    )
    session.add(notification)
    session.flush()
    nonce = new_token()
    link = PatientLink(
        token_hash=hash_token(link_token(settings, nonce)),
        nonce=nonce,
        patient_id=patient_id,
        notification_id=notification.id,
        expires_at=now + timedelta(minutes=settings.sign_in_link_minutes),
        created_at=now,
    )
    audited_write(
        session,
        link,
        actor=_actor(request_id),
        now=now,
        action="sign-in-link",
        entity_type="patient",
        entity_id=patient_id,
        exclude=frozenset({"token_hash", "nonce"}),
    )


def _live_link(session: Session, token: str, now: datetime) -> PatientLink:
    link = repository.link_by_hash(session, hash_token(token)) if token else None
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise LinkRefused("This link has expired or has already been used.")
    return link


def link_is_live(session: Session, token: str, *, now: datetime) -> None:
    """Raises ``LinkRefused`` unless the link can still be used."""
    _live_link(session, token, now)


def use_link(session: Session, token: str, *, now: datetime, settings: Settings) -> str:
    """Use the link up and start a patient session; the session's cookie token."""
    link = _live_link(session, token, now)
    assert link.id is not None
    if not repository.use_link(session, link.id, now):
        raise LinkRefused("This link has expired or has already been used.")
    cookie = new_token()
    session.add(
        SessionRow(
            token_hash=hash_token(cookie),
            patient_id=link.patient_id,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.patient_session_minutes),
        )
    )
    session.flush()
    return cookie


def signed_in_patient(session: Session, cookie: str | None, *, now: datetime) -> Patient | None:
    """The patient of a live session, or None: the record ``person_record`` picks among the
    records with the e-mail and date of birth of the one the session started on (chosen
    again each time: a record staff merged meanwhile gives way to the record kept, a
    duplicate made since by an anonymous booking does not take over)."""
    if not cookie or len(cookie) > 200:
        return None
    row = repository.live_session(session, hash_token(cookie), now)
    if row is None:
        return None
    started_on = session.get(Patient, row.patient_id)
    if started_on is None:
        return None
    chosen = person_record(session, started_on.email, started_on.date_of_birth)
    if chosen is None and started_on.merged_into_id is None:
        return started_on
    return chosen


def sign_out(session: Session, cookie: str | None, *, now: datetime) -> None:
    if not cookie or len(cookie) > 200:
        return
    row = repository.live_session(session, hash_token(cookie), now)
    if row is not None:
        row.ended_at = now
        session.add(row)


@dataclass(frozen=True)
class MyVisit:
    booking_id: int
    start_at: datetime  # in the location's zone
    end_at: datetime
    timezone: str
    type_name: str
    location_name: str
    status: str


@dataclass(frozen=True)
class MyVisits:
    patient: Patient
    upcoming: list[MyVisit]
    past: list[MyVisit]


def record_ids(session: Session, patient: Patient) -> list[int]:
    """The ids of every record of the signed-in person (same e-mail and date of birth)."""
    ids = public_repository.same_person_ids(
        session, patient.email.strip().lower(), patient.date_of_birth
    )
    return ids or [patient.id or 0]


def my_visits(session: Session, patient: Patient, *, now: datetime) -> MyVisits:
    """Upcoming (start order) and past (newest first) visits of the signed-in person."""
    upcoming: list[MyVisit] = []
    past: list[MyVisit] = []
    for booking, kind, location in repository.visits_of(session, record_ids(session, patient)):
        assert booking.id is not None
        tz = ZoneInfo(location.timezone)
        visit = MyVisit(
            booking_id=booking.id,
            start_at=booking.start_at.astimezone(tz),
            end_at=booking.end_at.astimezone(tz),
            timezone=location.timezone,
            type_name=kind.name,
            location_name=location.name,
            status=booking.status,
        )
        if booking.end_at > now and booking.status not in _CALLED_OFF:
            upcoming.append(visit)
        else:
            past.append(visit)
    past.reverse()
    return MyVisits(patient, upcoming, past)


def manage_link_for(session: Session, patient: Patient, booking_id: int, *, now: datetime) -> str:
    """A fresh manage token for one of the signed-in person's visits (only its hash is
    stored, like a message's link); any other booking is the usual 404."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.patient_id not in record_ids(session, patient):
        raise NotFound("Not found.")
    token = new_token()
    session.add(
        NotificationLink(
            token_hash=hash_token(token),
            booking_id=booking_id,
            notification_id=None,
            expires_at=max(booking.end_at, now) + MANAGE_LINK_GRACE,
            created_at=now,
        )
    )
    session.flush()
    return token
