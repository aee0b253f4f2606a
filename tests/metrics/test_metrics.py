"""/metrics: refused without its token, counts what users did, labels routes by template.

The counters are per process and tests share one, so every check compares a scrape taken
before the action with one taken after it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from scheduler.models import Notification
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings

TOKEN = "metrics-token-for-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}
TUESDAY_9 = "2026-03-03T09:00:00-05:00"
NEWCOMER = {
    "first_name": "Rosa",
    "last_name": "Marquez",
    "date_of_birth": "1990-04-12",
    "email": "rosa.marquez@example.org",
    "phone": "+1 555 0199",
}
ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, keyed by sample name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metered(
    database_url: str, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    app = create_app(
        make_settings(database_url, metrics_token=TOKEN),
        clock=clock,
        session_factory=session_factory,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def scrape(client: TestClient) -> tuple[str, Samples]:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text, parse(response.text)


def book(client: TestClient, headers: dict[str, str], clinic: Clinic, **extra: Any) -> Any:
    body = {
        "patient_id": clinic.patient.id,
        "appointment_type_id": clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": TUESDAY_9,
        **extra,
    }
    return client.post("/api/v1/bookings", json=body, headers=headers)


def test_metrics_is_not_found_when_no_token_is_configured(client: TestClient) -> None:
    for headers in ({}, SCRAPE):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "scheduler_" not in response.text
    # Answered exactly like a path that does not exist: nothing tells a scanner it is there.
    unknown = client.get("/no-such-thing").json()
    assert {k: v for k, v in client.get("/metrics").json().items() if k != "instance"} == {
        k: v for k, v in unknown.items() if k != "instance"
    }


def test_metrics_refuses_a_missing_or_wrong_token(metered: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        response = metered.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert "scheduler_" not in response.text
    assert metered.get("/metrics", headers=SCRAPE).status_code == 200


def test_metrics_is_not_in_the_openapi_document(metered: TestClient) -> None:
    assert "/metrics" not in metered.get("/openapi.json").json()["paths"]


def test_a_booking_and_a_conflict_are_counted_by_source_code_and_route_template(
    metered: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    _, before = scrape(metered)
    created = book(metered, desk_headers, clinic)
    assert created.status_code == 201, created.text
    taken = book(metered, desk_headers, clinic, patient_id=clinic.other_patient.id)
    assert taken.status_code == 409, taken.text
    code = taken.json()["code"]
    booking_id = created.json()["id"]
    assert metered.get(f"/api/v1/bookings/{booking_id}", headers=desk_headers).status_code == 200
    text, after = scrape(metered)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("scheduler_bookings_created_total", source="front_desk") == 1
    assert delta("scheduler_conflicts_total", code=code) == 1
    posts = {"route": "/api/v1/bookings", "method": "POST"}
    assert delta("scheduler_http_requests_total", **posts, status="201") == 1
    assert delta("scheduler_http_requests_total", **posts, status="409") == 1
    one = {"route": "/api/v1/bookings/{booking_id}", "method": "GET"}
    assert delta("scheduler_http_requests_total", **one, status="200") == 1
    assert delta("scheduler_http_request_duration_seconds_count", **one) == 1
    assert f"/api/v1/bookings/{booking_id}" not in text  # the template, never the path


def test_unknown_paths_and_invented_methods_add_no_label_values(metered: TestClient) -> None:
    _, before = scrape(metered)
    secret = "zz-no-such-path-a1b2c3"
    assert metered.get(f"/{secret}").status_code == 404
    assert metered.request("BREW", "/api/v1/bookings").status_code in (404, 405)
    text, after = scrape(metered)
    unmatched = {"route": "(no route)", "method": "GET", "status": "404"}
    name = "scheduler_http_requests_total"
    assert value(after, name, **unmatched) - value(before, name, **unmatched) == 1
    assert secret not in text
    assert "BREW" not in text
    invented = [
        labels for (sample, labels) in after if sample == name and ("method", "other") in labels
    ]
    assert invented


def test_feed_responses_count_200_and_304_and_never_show_the_token(
    metered: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    assert book(metered, desk_headers, clinic).status_code == 201
    created = metered.post(
        "/api/v1/feed-tokens",
        json={"provider_id": clinic.nurse.id, "label": "phone"},
        headers=desk_headers,
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    _, before = scrape(metered)
    first = metered.get(f"/feeds/{token}.ics")
    assert first.status_code == 200
    again = metered.get(f"/feeds/{token}.ics", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    text, after = scrape(metered)
    for status in ("200", "304"):
        name = "scheduler_feed_responses_total"
        assert value(after, name, status=status) - value(before, name, status=status) == 1
        labels = {"route": "/feeds/{token}.ics", "method": "GET", "status": status}
        name = "scheduler_http_requests_total"
        assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert token not in text


def test_holds_and_slot_searches_are_counted(
    metered: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    _, before = scrape(metered)
    searched = metered.get(
        "/api/v1/slots",
        params={
            "appointment_type": clinic.infusion_id,
            "location": clinic.location_id,
            "start": "2026-03-03T00:00:00-05:00",
            "end": "2026-03-04T00:00:00-05:00",
        },
        headers=desk_headers,
    )
    assert searched.status_code == 200, searched.text
    held = metered.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_9,
        },
        headers=desk_headers,
    )
    assert held.status_code == 201, held.text
    _, after = scrape(metered)
    name = "scheduler_slot_search_duration_seconds_count"
    assert value(after, name, audience="staff") - value(before, name, audience="staff") == 1
    name = "scheduler_holds_created_total"
    assert value(after, name, audience="staff") - value(before, name, audience="staff") == 1


def test_an_online_booking_counts_its_search_hold_and_booking_and_hides_the_manage_token(
    metered: TestClient, clinic: Clinic, db: Session
) -> None:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    public = "/api/v1/public"
    _, before = scrape(metered)
    times = metered.get(
        f"{public}/slots",
        params={
            "appointment_type": clinic.consult.id,
            "location": clinic.location_id,
            "start": "2026-03-05T00:00:00-05:00",
            "end": "2026-03-06T00:00:00-05:00",
        },
    )
    assert times.status_code == 200, times.text
    held = metered.post(
        f"{public}/holds",
        json={
            "appointment_type_id": clinic.consult.id,
            "location_id": clinic.location_id,
            "start_at": times.json()["items"][0]["start_at"],
        },
    )
    assert held.status_code == 201, held.text
    booked = metered.post(
        f"{public}/bookings",
        json={"hold_id": held.json()["hold_id"], "patient": NEWCOMER},
        headers={"X-Booking-Session": held.json()["session_token"]},
    )
    assert booked.status_code == 201, booked.text
    manage = booked.json()["manage_token"]
    assert metered.get(f"{public}/manage/{manage}").status_code == 200
    text, after = scrape(metered)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("scheduler_slot_search_duration_seconds_count", audience="public") == 1
    assert delta("scheduler_holds_created_total", audience="public") == 1
    assert delta("scheduler_bookings_created_total", source="online") == 1
    routes = {labels for (name, labels) in after if name == "scheduler_http_requests_total"}
    assert any(("route", f"{public}/manage/{{token}}") in labels for labels in routes), routes
    for secret in (manage, held.json()["session_token"], NEWCOMER["email"], "Marquez"):
        assert secret not in text


def test_pool_use_is_read_from_the_engine_at_scrape_time(database_url: str) -> None:
    app: FastAPI = create_app(make_settings(database_url, metrics_token=TOKEN))
    with TestClient(app) as client:
        _, samples = scrape(client)
        size = value(samples, "scheduler_db_pool_size", pool="main")
        assert size == app.state.sessionmaker.kw["bind"].pool.size() > 0
        # The scrape itself holds no connection; one checked out shows up in the next scrape.
        assert value(samples, "scheduler_db_pool_connections_in_use", pool="main") == 0
        with app.state.sessionmaker.kw["bind"].connect():
            _, samples = scrape(client)
        assert value(samples, "scheduler_db_pool_connections_in_use", pool="main") == 1


def test_the_outbox_backlog_is_read_from_the_database_when_scraped(
    metered: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    """What an on-call person watches: messages waiting for a worker, how long the oldest
    has waited, and failures that need staff."""
    _, empty = scrape(metered)
    assert value(empty, "scheduler_outbox_messages", state="due") == 0
    assert value(empty, "scheduler_outbox_oldest_due_seconds") == 0
    # A week ahead: its reminders and day-before instructions are not due yet.
    created = book(metered, desk_headers, clinic, start_at="2026-03-10T09:00:00-04:00")
    assert created.status_code == 201, created.text
    with session_factory() as db:
        queued = db.exec(select(Notification).where(Notification.status == "queued")).all()
    due_now = [n for n in queued if n.due_at <= clock.now()]
    later = [n for n in queued if n.due_at > clock.now()]
    assert [n.kind for n in due_now] == ["confirmation"]
    assert later  # the reminders and the day-before instructions

    clock.advance(timedelta(seconds=90))
    _, samples = scrape(metered)
    assert value(samples, "scheduler_outbox_messages", state="due") == 1
    assert value(samples, "scheduler_outbox_messages", state="scheduled") == len(later)
    assert value(samples, "scheduler_outbox_messages", state="failed") == 0
    assert value(samples, "scheduler_outbox_oldest_due_seconds") == 90

    with session_factory() as db:
        message = db.get(Notification, due_now[0].id)
        assert message is not None
        message.status = "failed"
        message.last_error = "550 mailbox unavailable"
        db.add(message)
        db.commit()
    _, samples = scrape(metered)
    assert value(samples, "scheduler_outbox_messages", state="due") == 0
    assert value(samples, "scheduler_outbox_messages", state="failed") == 1
    assert value(samples, "scheduler_outbox_oldest_due_seconds") == 0


MULTIPROCESS_CHILD = """
import sys
from scheduler.kit.metrics import BOOKINGS_CREATED
BOOKINGS_CREATED.labels(sys.argv[1]).inc()
"""


def test_several_processes_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    """What `scheduler serve --workers N` in compose relies on: each process writes its
    counts to PROMETHEUS_MULTIPROC_DIR and the one answering the scrape sums them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_CHILD, "front_desk"], env=env, check=True
        )
    scraper = (
        "from types import SimpleNamespace\n"
        "from scheduler.http.metrics import exposition\n"
        "request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))\n"
        "print(exposition(request).decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", scraper], env=env, check=True, capture_output=True, text=True
    ).stdout
    samples = parse(out)
    assert value(samples, "scheduler_bookings_created_total", source="front_desk") == 2


SERIES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def test_the_example_dashboard_queries_only_metrics_the_service_exposes(
    metered: TestClient,
) -> None:
    text, _ = scrape(metered)
    # The series PromQL can name: a family is described even before its first sample.
    exposed = {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SERIES.get(family.type, ("",))
    }
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bscheduler_\w+", target["expr"])
    }
    expected = {
        "scheduler_http_requests_total",
        "scheduler_http_request_duration_seconds_bucket",
        "scheduler_bookings_created_total",
        "scheduler_conflicts_total",
        "scheduler_holds_created_total",
        "scheduler_slot_search_duration_seconds_bucket",
        "scheduler_feed_responses_total",
        "scheduler_db_pool_connections_in_use",
        "scheduler_db_pool_size",
        "scheduler_outbox_messages",
        "scheduler_outbox_oldest_due_seconds",
    }
    assert queried == expected
    assert queried <= exposed, f"not exposed: {queried - exposed}"


def test_the_web_pages_are_counted_by_their_route_template(metered: TestClient) -> None:
    """The pages sit behind the CSRF layer, which hands the app a copy of the request's scope:
    the staff sign-in page, the patient time picker and a manage link's page are each counted
    under their own template (they all were "(no route)"), never with the link's token."""
    _, before = scrape(metered)
    token = "zz-manage-token-4f9c2a"
    assert metered.get("/admin/login").status_code == 200
    assert metered.get("/book/times").status_code == 400  # no type chosen: said on the page
    assert metered.get(f"/manage/{token}").status_code in (200, 404, 410)
    text, after = scrape(metered)
    counted = {
        dict(labels)["route"]
        for (name, labels), count in after.items()
        if name == "scheduler_http_requests_total"
        and dict(labels)["method"] == "GET"
        and count > before.get((name, labels), 0.0)
    }
    assert {"/admin/login", "/book/times", "/manage/{token}"} <= counted
    assert token not in text
