"""The ``waitlist_offer`` message: what the worker sends for an offer in the outbox.

The accept link's token is derived again here from the offer's nonce and the server's secret
key (``waitlist/tokens.py``): nothing at rest opens the offer. Like every message, the subject
names the clinic and the time, never the treatment; templates ``waitlist_offer.txt`` and
``waitlist_offer.html`` (overridable in ``SCHEDULER_MAIL_TEMPLATE_DIR``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.config import Settings
from scheduler.models import Hold, Location, Notification, Patient
from scheduler.notifications.content import environment, long_when, short_when
from scheduler.notifications.transports import OutgoingMessage
from scheduler.waitlist import repository
from scheduler.waitlist.tokens import offer_token

SUBJECT = "A time has opened at {clinic} on {when}"


def accept_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/waitlist/offer/{token}"


def offer_message(
    session: Session, notification: Notification, *, now: datetime, settings: Settings
) -> tuple[OutgoingMessage | None, tuple[str, str] | None]:
    """The message, or ``(status, reason)`` when it is not to be sent."""
    assert notification.id is not None
    offer = repository.offer_by_notification(session, notification.id)
    if offer is None:
        return None, ("failed", "no offer for this message")
    hold = session.get(Hold, offer.hold_id)
    if offer.status != "offered" or offer.expires_at <= now or hold is None:
        return None, ("withdrawn", f"the offer is {offer.status}")
    patient = session.get(Patient, notification.patient_id)
    location = session.get(Location, hold.location_id)
    assert location is not None
    if patient is None or not patient.email:
        return None, ("failed", "no e-mail address on file")
    tz = ZoneInfo(location.timezone)
    start = offer.start_at.astimezone(tz)
    until = offer.expires_at.astimezone(tz)
    values = {
        "first_name": patient.first_name,
        "clinic": location.name,
        "address": location.address,
        "phone": location.phone,
        "when": long_when(start, location.timezone),
        "until": f"{until:%H:%M} {until:%Z} on {until:%A} {until.day} {until:%B}",
        "accept_url": accept_url(settings, offer_token(settings.secret_key, offer.nonce)),
    }
    override = settings.mail_template_dir
    env = environment(str(override) if override else None)
    sender = settings.mail_location_senders.get(location.id or 0)
    message = OutgoingMessage(
        to=patient.email,
        sender=(sender.from_address if sender and sender.from_address else settings.mail_from),
        reply_to=(sender.reply_to if sender and sender.reply_to else settings.mail_reply_to),
        subject=SUBJECT.format(clinic=location.name, when=short_when(start)),
        text=env.get_template("waitlist_offer.txt").render(values),
        html=env.get_template("waitlist_offer.html").render(values),
        message_id=notification.message_id,
    )
    return message, None
