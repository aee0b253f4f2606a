"""What the desk's messages page (``/admin/messages``) and a patient's page show of the
outbox: each message's kind and state in words, its patient and visit, its times in the
visit's clinic zone (named), its attempts, its last error in plain words, and whether a
Resend button fits. Never a message's body: staff see what was sent and how it went, not what
it said (minimum necessary).

Reads only, through ``notifications.service`` (the same functions as the API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.http.pagination import MAX_LIMIT
from scheduler.kit.timeutil import to_local
from scheduler.models.enums import NotificationKind, NotificationStatus
from scheduler.notifications import service as notifications_service
from scheduler.notifications.service import MessageFilter, MessageRow
from scheduler.web import repository

KIND_LABELS: dict[str, str] = {
    NotificationKind.CONFIRMATION: "Confirmation",
    NotificationKind.RESCHEDULED: "Moved notice",
    NotificationKind.CANCELLATION: "Cancellation notice",
    NotificationKind.REMINDER: "Reminder",
    NotificationKind.INSTRUCTIONS: "Day-before instructions",
    NotificationKind.WAITLIST_OFFER: "Waitlist offer",
    NotificationKind.SIGN_IN: "Sign-in link",
}
STATUS_LABELS: dict[str, str] = {
    NotificationStatus.QUEUED: "Due",
    NotificationStatus.SENT: "Sent",
    NotificationStatus.FAILED: "Failed",
    NotificationStatus.WITHDRAWN: "Withdrawn",
}
PAGE_SIZE = 50
PATIENT_PAGE_MESSAGES = 20

# The worker's error texts (notifications/transports.py, compose.py), read for a person.
_EXPLAINED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words)
    for pattern, words in (
        (
            r"SMTP 53[05]|Authentication",
            "The mail server refused the clinic's sign-in: check the mail account's user "
            "name and password in the server settings.",
        ),
        (
            r"refused the recipient \(\[5",
            "The patient's address was refused: it may be mistyped or no longer exist. "
            "Check the e-mail on file.",
        ),
        (
            r"refused the recipient \(\[4|SMTP 4\d\d",
            "The mail server kept asking to try again later.",
        ),
        (r"timed out|Timeout", "The mail server did not answer in time."),
        (
            r"ConnectionRefused|disconnected|unreachable|getaddrinfo|OSError",
            "The mail server could not be reached.",
        ),
        (r"no e-mail address on file", "The patient has no e-mail address on file."),
        (r"cannot encode", "The e-mail address on file cannot be used as it is written."),
        (r"cannot write", "The message could not be saved to the mail folder."),
    )
)


def explain_error(error: str) -> str:
    """``error`` (as the worker stored it) in plain words, or "" when it is unknown (the
    page then shows the stored text alone)."""
    return next((words for pattern, words in _EXPLAINED if pattern.search(error)), "")


@dataclass(frozen=True)
class MessageLine:
    id: int
    kind: str
    status: str
    status_code: str
    patient_id: int
    patient_name: str
    booking_id: int | None
    due_at: datetime  # local
    sent_at: datetime | None  # local
    zone: str
    attempts: int
    error_words: str
    error_text: str
    can_resend: bool
    resent: bool = False  # a failed message followed by a newer one of its kind


@dataclass(frozen=True)
class MessagesPage:
    lines: list[MessageLine]
    total: int
    offset: int
    limit: int
    statuses: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def zones(self) -> list[str]:
        """The zones the times on this page are in (named once when there is one)."""
        return sorted({line.zone for line in self.lines})

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None


def _line(row: MessageRow, default_zone: str, now: datetime) -> MessageLine:
    n, patient = row.notification, row.patient
    assert n.id is not None
    assert patient.id is not None
    zone = row.location.timezone if row.location is not None else default_zone
    return MessageLine(
        id=n.id,
        kind=KIND_LABELS.get(n.kind, n.kind),
        status=STATUS_LABELS.get(n.status, n.status),
        status_code=n.status,
        patient_id=patient.id,
        patient_name=f"{patient.first_name} {patient.last_name}",
        booking_id=n.booking_id,
        due_at=to_local(n.due_at, zone),
        sent_at=to_local(n.sent_at, zone) if n.sent_at else None,
        zone=zone,
        attempts=n.attempts,
        error_words=explain_error(n.last_error) if n.status == "failed" else "",
        error_text=n.last_error,
        can_resend=notifications_service.offers_resend(
            n, row.booking, now=now, superseded=row.superseded
        ),
        resent=row.superseded,
    )


def _default_zone(session: Session) -> str:
    """The zone of a message about no visit: the clinic's (its first active location's)."""
    locations = repository.location_choices(session)
    return locations[0].timezone if locations else "UTC"


def messages_page(
    session: Session,
    *,
    viewer: Actor,
    statuses: tuple[str, ...],
    kinds: tuple[str, ...],
    offset: int,
    now: datetime,
) -> MessagesPage:
    """A page of every message (failed first, then the newest due first)."""
    rows, total = notifications_service.list_messages(
        session,
        MessageFilter(statuses=statuses, kinds=kinds),
        viewer=viewer,
        limit=min(PAGE_SIZE, MAX_LIMIT),
        offset=offset,
    )
    zone = _default_zone(session)
    return MessagesPage(
        lines=[_line(r, zone, now) for r in rows],
        total=total,
        offset=offset,
        limit=PAGE_SIZE,
        statuses=statuses,
        kinds=kinds,
    )


def patient_messages(session: Session, patient_id: int, *, now: datetime) -> list[MessageLine]:
    """The patient's latest messages, newest due first (sign-in links and offers too)."""
    rows = notifications_service.messages_of_patient(
        session, patient_id, limit=PATIENT_PAGE_MESSAGES
    )
    zone = _default_zone(session)
    return [_line(r, zone, now) for r in rows]
