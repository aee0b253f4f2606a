"""Calendar apps revalidate feeds all day: with the service's own engine (real commits, no
test transaction) a matching ``If-None-Match`` costs one statement and no transaction, and
still notices every change and a revoked token at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session
from tests.clinic_fixture import Clinic, make_clinic
from tests.conftest import (
    BACKENDS,
    DEFAULT_NOW,
    dispose_database,
    fresh_database_url,
    make_settings,
)
from tests.driver_trace import Sent, trace
from tests.factories import auth_headers, make_user
from tests.ical.test_feeds_api import book, feed_path, new_feed

from scheduler.feeds.repository import FeedCheck, check_statement, feed_check
from scheduler.feeds.service import feed_window
from scheduler.kit.clock import FrozenClock
from scheduler.kit.secrets import hash_token
from scheduler.main import create_app
from scheduler.migrate import upgrade


@dataclass
class Live:
    client: TestClient
    engine: Engine
    sent: list[Sent]  # what the connections for reads outside transactions send
    clinic: Clinic
    headers: dict[str, str]


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    url = fresh_database_url(request.param, tmp_path, "revalidate")
    upgrade(url)
    settings = make_settings(url)
    clock = FrozenClock(DEFAULT_NOW)
    app = create_app(settings, clock=clock)  # builds its own engine, as in production
    with TestClient(app) as client:
        engine: Engine = app.state.sessionmaker.kw["bind"]
        sent: list[Sent] = []
        # Every connection the feed's reads will open, traced at the driver from the start.
        event.listen(
            app.state.statement_reader.bind, "connect", lambda dbapi, _: trace(dbapi, sent)
        )
        with Session(engine, expire_on_commit=False) as db:
            clinic = make_clinic(db)
            headers = auth_headers(make_user(db, role="admin"), settings, clock.now())
        yield Live(client, engine, sent, clinic, headers)
    dispose_database(url)


def test_a_matching_revalidation_is_one_statement_outside_any_transaction(live: Live) -> None:
    assert live.clinic.nurse.id is not None
    feed = new_feed(live.client, live.headers, provider_id=live.clinic.nurse.id)
    booking = book(live.client, live.headers, live.clinic, "2026-03-03T09:00:00-05:00")
    path = feed_path(feed)
    first = live.client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]

    live.sent.clear()
    again = live.client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"].startswith("private")
    assert len(live.sent) == 1, live.sent  # one statement, no BEGIN
    assert live.sent[0].sql.lstrip().startswith("SELECT")
    assert live.sent[0].autocommit  # and no transaction around it

    # A change is noticed by the very next revalidation ...
    cancelled = live.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "ill"}, headers=live.headers
    )
    assert cancelled.status_code == 200
    changed = live.client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert b"STATUS:CANCELLED" in changed.content

    # ... and so is a revoked token, even with the current ETag.
    revoked = live.client.delete(f"/api/v1/feed-tokens/{feed['id']}", headers=live.headers)
    assert revoked.status_code == 204
    gone = live.client.get(path, headers={"If-None-Match": changed.headers["etag"]})
    assert gone.status_code == 404


def test_the_check_run_by_the_driver_reads_what_sqlalchemy_reads(live: Live) -> None:
    """The validator's statement is compiled once and run with exec_driver_sql (its values
    converted by hand): it must give exactly what SQLAlchemy's own execution gives."""
    assert live.clinic.nurse.id is not None
    feed = new_feed(live.client, live.headers, provider_id=live.clinic.nurse.id)
    book(live.client, live.headers, live.clinic, "2026-03-03T09:00:00-05:00")
    window = feed_window(make_settings(str(live.engine.url)), DEFAULT_NOW)
    token_hash = hash_token(feed["token"])
    with live.engine.connect() as conn:
        by_driver = feed_check(conn, token_hash, window=window, with_patients=True)
        statement = check_statement(conn.dialect.name, True)
        params = {
            "token_hash": token_hash,
            "window_start": window.start_at,
            "window_end": window.end_at,
            "patients_since": window.patients_since,
        }
        by_sqlalchemy = FeedCheck(*conn.execute(statement, params).one())
    assert by_driver == by_sqlalchemy
    assert by_driver is not None
    assert by_driver.created_at.tzinfo is UTC
    assert by_driver.bookings is not None
    assert json.loads(by_driver.bookings)[0] == 1  # the one booking, counted
