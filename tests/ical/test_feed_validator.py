"""A feed's ETag is known before the feed is rendered, so it must change with every input.

Every fetch goes through ``FeedProbe``, which fails as soon as one ETag is seen with two
different bodies (a 304 would then have kept a stale calendar). Each change below is made
through the API, and afterwards the old ETag must no longer revalidate while the new one does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings
from tests.factories import auth_headers, make_user
from tests.ical.test_feeds_api import AFTER_DST, BEFORE_DST, book, feed_path, new_feed

from scheduler.config import Settings
from scheduler.db.engine import build_engine, build_sessionmaker
from scheduler.db.transaction import snapshot_transaction
from scheduler.kit.clock import FrozenClock
from scheduler.models import User


@dataclass
class FeedProbe:
    client: TestClient
    path: str
    seen: dict[str, bytes] = field(default_factory=dict)

    def get(self) -> tuple[str, bytes]:
        response = self.client.get(self.path, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, response.text
        etag, body = response.headers["etag"], response.content
        assert self.seen.setdefault(etag, body) == body, f"ETag {etag} named two feeds"
        return etag, body

    def revalidates(self, etag: str) -> bool:
        response = self.client.get(self.path, headers={"If-None-Match": etag})
        assert response.status_code in (200, 304), response.text
        if response.status_code == 200:  # gzip: its own ETag, the same calendar once decoded
            etag, body = response.headers["etag"], response.content
            assert self.seen.setdefault(etag, body) == body, f"ETag {etag} named two feeds"
        return response.status_code == 304


@dataclass
class World:
    client: TestClient
    staff: User
    clinic: Clinic
    clock: FrozenClock
    settings: Settings
    booking: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:  # fresh: some changes move the clock by days
        return auth_headers(self.staff, self.settings, self.clock.now())

    def post(self, url: str, body: dict[str, Any]) -> None:
        response = self.client.post(url, json=body, headers=self.headers)
        assert response.status_code in (200, 201), response.text

    def patch(self, url: str, body: dict[str, Any]) -> None:
        response = self.client.patch(url, json=body, headers=self.headers)
        assert response.status_code == 200, response.text


def _reschedule(w: World) -> None:
    w.post(
        f"/api/v1/bookings/{w.booking['id']}/reschedule",
        {"start_at": "2026-03-10T11:00:00-04:00"},
    )


def _cancel(w: World) -> None:
    w.post(f"/api/v1/bookings/{w.booking['id']}/cancel", {"reason": "flu"})


def _new_booking(w: World) -> None:
    book(w.client, w.headers, w.clinic, BEFORE_DST, patient_id=w.clinic.other_patient.id)


def _check_in(w: World) -> None:  # STATUS stays CONFIRMED; SEQUENCE and LAST-MODIFIED move
    w.clock.set(w.clock.now().replace(day=10, hour=12, minute=50))
    w.post(f"/api/v1/bookings/{w.booking['id']}/check-in", {})


def _rename_chair(w: World) -> None:
    chair = w.clinic.chairs[0]
    w.patch(f"/api/v1/locations/{w.clinic.location_id}/chairs/{chair.id}", {"name": "Recliner"})


def _rename_type(w: World) -> None:
    w.patch(f"/api/v1/appointment-types/{w.clinic.infusion_id}", {"name": "Esketamine session"})


def _rename_location(w: World) -> None:
    w.patch(f"/api/v1/locations/{w.clinic.location_id}", {"name": "Uptown clinic"})


def _rename_provider(w: World) -> None:
    w.patch(f"/api/v1/providers/{w.clinic.nurse.id}", {"display_name": "Nurse Ratched, RN"})


def _rename_patient(w: World) -> None:  # J.D. -> Z.D. under the default (initials) level
    w.patch(f"/api/v1/patients/{w.clinic.patient.id}", {"first_name": "Zoe"})


def _privacy_type_only(w: World) -> None:
    w.settings.feed_privacy = "type_only"


def _cancelled_grace_expires(w: World) -> None:
    _cancel(w)
    w.clock.advance(timedelta(days=w.settings.feed_cancelled_grace_days + 1))


def _next_day(w: World) -> None:  # the window's bounds move, even if no event leaves it
    w.clock.advance(timedelta(days=1))


CHANGES: dict[str, Callable[[World], None]] = {
    "reschedule": _reschedule,
    "cancel": _cancel,
    "new_booking": _new_booking,
    "check_in": _check_in,
    "chair_rename": _rename_chair,
    "type_rename": _rename_type,
    "location_rename": _rename_location,
    "provider_rename": _rename_provider,
    "patient_rename": _rename_patient,
    "privacy_level": _privacy_type_only,
    "cancelled_grace_expires": _cancelled_grace_expires,
    "day_rollover": _next_day,
}
# Changes after which the calendar's bytes must differ (the rest may only move the ETag).
CHANGES_THE_BYTES = set(CHANGES) - {"day_rollover"}


@pytest.fixture(params=["provider", "location"])
def owner(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(
    client: TestClient, db: Session, clinic: Clinic, clock: FrozenClock, settings: Settings
) -> World:
    staff = make_user(db, role="admin")
    booking = book(client, auth_headers(staff, settings, clock.now()), clinic, AFTER_DST)
    return World(client, staff, clinic, clock, settings, booking)


def _feed(w: World, owner: str) -> FeedProbe:
    ids = {"provider_id": w.clinic.nurse.id} if owner == "provider" else {}
    ids = ids or {"location_id": w.clinic.location_id}
    return FeedProbe(w.client, feed_path(new_feed(w.client, w.headers, **ids)))


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_input_changes_the_etag(world: World, owner: str, change: str) -> None:
    feed = _feed(world, owner)
    etag, body = feed.get()
    assert feed.revalidates(etag)

    CHANGES[change](world)

    new_etag, new_body = feed.get()
    assert new_etag != etag
    assert not feed.revalidates(etag)
    assert feed.revalidates(new_etag)
    if change in CHANGES_THE_BYTES:
        assert new_body != body
    if change == "patient_rename":
        assert "Ketamine infusion – Z.D.".encode() in new_body


def test_unchanged_feed_revalidates_all_day(world: World, owner: str) -> None:
    feed = _feed(world, owner)
    etag, body = feed.get()
    for _ in range(3):
        world.clock.advance(timedelta(hours=2))
        assert feed.revalidates(etag)
        assert feed.get() == (etag, body)


def test_a_patient_renamed_days_ago_is_still_shown_and_revalidates(world: World) -> None:
    """Patients drop out of the check a day after their change; their feed stays right."""
    feed = _feed(world, "provider")
    _rename_patient(world)
    world.clock.advance(timedelta(days=3))
    etag, body = feed.get()
    assert "Ketamine infusion – Z.D.".encode() in body
    assert feed.revalidates(etag)
    world.clock.advance(timedelta(hours=1))
    assert feed.get() == (etag, body)


def test_head_and_gzip_share_the_validator(world: World) -> None:
    feed = _feed(world, "provider")
    etag, _ = feed.get()
    zipped = world.client.get(feed.path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["etag"] == etag.removesuffix('"') + '-gz"'
    head = world.client.head(feed.path, headers={"If-None-Match": zipped.headers["etag"]})
    assert head.status_code == 304
    assert "last-modified" not in head.headers  # RFC 9110: the ETag is the validator here


def test_the_feed_reads_one_snapshot(database_url: str) -> None:
    """Validator and rows come from two statements: PostgreSQL must not let a commit fall
    between them (REPEATABLE READ), SQLite's read transaction holds one snapshot anyway."""
    engine = build_engine(make_settings(database_url))
    try:
        with snapshot_transaction(build_sessionmaker(engine)) as session:
            if engine.dialect.name == "postgresql":
                level = session.execute(text("SHOW transaction_isolation")).scalar()
                assert level == "repeatable read"
            else:
                session.execute(text("SELECT count(*) FROM booking")).scalar()
                assert session.connection().connection.dbapi_connection.in_transaction
    finally:
        engine.dispose()
