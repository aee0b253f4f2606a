"""Staff see every message, failed ones first (``GET /api/v1/notifications``): the filters,
the provider's restriction to their own visits, a failed sign-in mail with its error, and
resend refused for kinds whose link would be used or expired.

Clock: Monday 2 March 2026, 09:00 in New York (the tests' frozen clock).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import Notification
from scheduler.models.enums import NotificationKind
from scheduler.patient_access.service import request_link
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_provider, make_user
from tests.notifications.helpers import drain, make_worker, worker_settings
from tests.notifications.smtp_sink import SmtpServer

LIST = "/api/v1/notifications"
THURSDAY_10 = "2026-03-05T10:00:00-05:00"
FRIDAY_10 = "2026-03-06T10:00:00-05:00"


def _sign_in_link(db: Session, clinic: Clinic, settings: Settings, clock: FrozenClock) -> None:
    """A returning patient asks for a sign-in link (the public form's service)."""
    request_link(
        db,
        email=clinic.other_patient.email,
        date_of_birth=clinic.other_patient.date_of_birth,
        request_id="test",
        now=clock.now(),
        settings=settings,
    )
    db.commit()


def _items(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_failed_sign_in_mail_comes_first_with_its_error_and_is_not_resent(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    settings = worker_settings(database_url, smtp, tmp_path)
    worker = make_worker(settings, session_factory, clock)
    booked = book(client, desk_headers, clinic, start=THURSDAY_10)
    assert booked.status_code == 201, booked.text
    drain(worker)  # the confirmation goes
    smtp.sink.mode = "refuse"  # e.g. the mail server turned the clinic away
    _sign_in_link(db, clinic, settings, clock)
    for _ in range(3):
        drain(worker)
        clock.advance(timedelta(minutes=2))

    listed = client.get(LIST, headers=desk_headers)
    items = _items(listed)
    assert listed.json()["total"] == len(items) == 4  # confirmation, 2 reminders, sign-in
    first = items[0]
    assert (first["kind"], first["status"], first["attempts"]) == ("sign_in", "failed", 3)
    assert first["booking_id"] is None
    assert first["patient_id"] == clinic.other_patient.id
    assert "451" in first["last_error"]
    assert clinic.other_patient.email not in first["last_error"]
    confirmation = next(i for i in items if i["kind"] == "confirmation")
    assert confirmation["status"] == "sent"
    assert confirmation["patient_id"] == clinic.patient.id  # the booking's patient

    refused = client.post(f"/api/v1/notifications/{first['id']}/resend", headers=desk_headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "not_resendable"
    assert "sign-in link works once" in refused.json()["detail"]
    db.expire_all()
    assert db.get(Notification, first["id"]) is not None
    assert _items(client.get(LIST, headers=desk_headers, params={"kind": "sign_in"})) == [first]


def test_filters_by_status_kind_patient_booking_and_due_time(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    mine = book(client, desk_headers, clinic, start=THURSDAY_10).json()["id"]
    other = clinic.other_patient.id
    theirs = book(client, desk_headers, clinic, start=FRIDAY_10, patient_id=other).json()["id"]

    def ids(**params: Any) -> set[tuple[int | None, str]]:
        found = _items(client.get(LIST, headers=desk_headers, params=params))
        return {(i["booking_id"], i["kind"]) for i in found}

    everything = ids()
    assert (mine, "confirmation") in everything
    assert (theirs, "reminder") in everything
    assert ids(patient=other) == {(b, k) for b, k in everything if b == theirs} != set()
    assert ids(booking=mine) == {(b, k) for b, k in everything if b == mine}
    assert ids(kind="confirmation") == {(mine, "confirmation"), (theirs, "confirmation")}
    assert ids(kind=["confirmation", "instructions"], booking=mine) <= {
        (mine, "confirmation"),
        (mine, "instructions"),
    }
    assert ids(status="failed") == set()
    assert ids(status="queued") == everything  # nothing was sent yet
    # Due now: the confirmations; reminders are due later.
    soon = (clock.now() + timedelta(minutes=1)).isoformat()
    assert ids(due_before=soon) == {(mine, "confirmation"), (theirs, "confirmation")}
    assert (mine, "confirmation") not in ids(due_from=soon)

    newest = _items(client.get(LIST, headers=desk_headers, params={"order": "newest"}))
    dues = [i["due_at"] for i in newest]
    assert dues == sorted(dues, reverse=True)
    page = client.get(LIST, headers=desk_headers, params={"limit": 2, "offset": 1}).json()
    assert (page["limit"], page["offset"], page["total"]) == (2, 1, len(newest))
    assert len(page["items"]) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"kind": "postcard"}, "kind"),
        ({"due_from": "2026-03-02T10:00:00"}, "due_from"),  # no offset
        ({"due_from": "2026-03-03T00:00:00Z", "due_before": "2026-03-02T00:00:00Z"}, "due_"),
        ({"order": "random"}, "order"),
    ],
    ids=["unknown_status", "unknown_kind", "naive_time", "backwards_range", "unknown_order"],
)
def test_a_bad_filter_is_a_422_naming_the_field(
    client: TestClient, desk_headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = client.get(LIST, headers=desk_headers, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


def test_a_provider_sees_only_the_messages_of_their_own_visits(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    own = book(client, desk_headers, clinic, start=THURSDAY_10).json()["id"]
    _sign_in_link(db, clinic, settings, clock)
    stranger = make_provider(db, name="Sam Stranger", locations=(clinic.location,))
    nurse = auth_headers(
        make_user(db, role="provider", email="nora@clinic.example", provider_id=clinic.nurse.id),
        settings,
        clock.now(),
    )
    other = auth_headers(
        make_user(db, role="provider", email="sam@clinic.example", provider_id=stranger.id),
        settings,
        clock.now(),
    )
    seen = _items(client.get(LIST, headers=nurse))
    assert seen
    assert {i["booking_id"] for i in seen} == {own}  # no sign-in link: not about a visit
    assert _items(client.get(LIST, headers=other)) == []
    assert _items(client.get(LIST, headers=other, params={"booking": own})) == []
    everything = _items(client.get(LIST, headers=desk_headers))
    assert NotificationKind.SIGN_IN in {i["kind"] for i in everything}


def test_a_waitlist_offer_is_never_resent_and_an_unknown_message_is_a_404(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    clock: FrozenClock,
) -> None:
    offer = Notification(
        patient_id=clinic.patient.id,
        kind="waitlist_offer",
        status="failed",
        due_at=clock.now(),
        attempts=3,
        last_error="SMTP refused the recipient ([451])",
        message_id="<offer-1@clinic.example>",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    db.add(offer)
    db.commit()
    refused = client.post(f"/api/v1/notifications/{offer.id}/resend", headers=desk_headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_resendable"
    assert "waitlist offer" in refused.json()["detail"]
    listed = _items(client.get(LIST, headers=desk_headers, params={"kind": "waitlist_offer"}))
    assert [(i["id"], i["patient_id"], i["status"]) for i in listed] == [
        (offer.id, clinic.patient.id, "failed")
    ]
    missing = client.post("/api/v1/notifications/999999/resend", headers=desk_headers)
    assert missing.status_code == 404
