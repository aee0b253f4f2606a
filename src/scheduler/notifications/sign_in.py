"""The message of a ``sign_in`` notification: a returning patient's single-use link.

Rendered by the worker when it claims the message: the link's token is computed again from
the link's stored nonce and the secret key (only its hash is stored). A link already used or
expired by the time the message is claimed is not sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scheduler.config import Settings
from scheduler.models import Notification, Patient
from scheduler.notifications.content import render_sign_in
from scheduler.notifications.transports import OutgoingMessage
from scheduler.patient_access import repository
from scheduler.patient_access.service import link_token
from scheduler.public import repository as public_repository


def sign_in_message(
    session: Session, notification: Notification, *, now: datetime, settings: Settings
) -> OutgoingMessage | tuple[str, str]:
    """The message, or ``(status, reason)`` when it is not to be sent."""
    assert notification.id is not None
    link = repository.link_of_notification(session, notification.id)
    patient = session.get(Patient, notification.patient_id)
    if link is None or patient is None:
        return ("failed", "no sign-in link for this message")
    if link.used_at is not None or link.expires_at <= now:
        return ("withdrawn", "the sign-in link expired or was used")
    if not patient.email:
        return ("failed", "no e-mail address on file")
    locations = public_repository.active_locations(session)
    first = locations[0] if locations else None
    clinic = settings.clinic_name or (first.name if first else "the clinic")
    phone = settings.clinic_phone or (first.phone if first else "")
    url = f"{settings.public_base_url.rstrip('/')}/me/link/{link_token(settings, link.nonce)}"
    minutes = max(1, int((link.expires_at - link.created_at).total_seconds() // 60))
    subject, text, html = render_sign_in(
        first_name=patient.first_name,
        clinic=clinic,
        phone=phone,
        link_url=url,
        minutes=minutes,
        override_dir=settings.mail_template_dir,
    )
    return OutgoingMessage(
        to=patient.email,
        sender=settings.mail_from,
        reply_to=settings.mail_reply_to,
        subject=subject,
        text=text,
        html=html,
        message_id=notification.message_id,
        attachments=(),
        headers={},
    )
