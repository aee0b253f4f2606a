"""Calendar feeds over HTTP: secret tokens, privacy, caching, and what real parsers read.

Bookings are made through the API in a New York clinic (frozen clock: Monday 2 March 2026),
on both sides of the US spring-forward (8 March), then the feed is parsed by icalendar,
vobject and Thunderbird's ical.js and compared with the database.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session, select
from tests.clinic_fixture import Clinic
from tests.conftest import dispose_database, fresh_database_url
from tests.factories import auth_headers, make_user
from tests.ical.conftest import Parser, libical_read
from tests.live import running_server
from tests.public.test_public_api import (
    NEWCOMER,
    PUBLIC,
    THURSDAY_9,
    hold_and_book,
)

from scheduler.config import Settings
from scheduler.feeds.service import MAX_FEED_CANCELLATIONS, MAX_FEED_EVENTS
from scheduler.kit.clock import FrozenClock
from scheduler.kit.secrets import hash_token
from scheduler.migrate import upgrade
from scheduler.models import Booking, FeedToken

BEFORE_DST = "2026-03-06T09:00:00-05:00"  # Friday, EST
AFTER_DST = "2026-03-10T09:00:00-04:00"  # Tuesday, EDT (same local 09:00)


def book(
    client: TestClient,
    headers: dict[str, str],
    clinic: Clinic,
    start: str,
    patient_id: int | None = None,
) -> Any:
    response = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": patient_id or clinic.patient.id,
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": start,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def new_feed(client: TestClient, headers: dict[str, str], **owner: int | None) -> dict[str, Any]:
    response = client.post("/api/v1/feed-tokens", json={**owner, "label": "phone"}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def feed_path(token: dict[str, Any]) -> str:
    return f"/feeds/{token['token']}.ics"


def test_provider_feed_reads_the_same_in_every_parser_across_dst(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    parsers: dict[str, Parser],
) -> None:
    winter = book(client, desk_headers, clinic, BEFORE_DST)
    summer = book(client, desk_headers, clinic, AFTER_DST, patient_id=clinic.other_patient.id)
    token = new_feed(client, desk_headers, provider_id=clinic.nurse.id)
    assert len(token["token"]) >= 43  # 256 bits, URL-safe base64
    assert token["url"].endswith(feed_path(token))

    response = client.get(feed_path(token))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    body = response.content
    assert b"DTSTART;TZID=America/New_York:20260306T090000" in body
    assert b"DTSTART;TZID=America/New_York:20260310T090000" in body
    expected = {
        b.ical_uid: (b.start_at, b.end_at)
        for b in db.exec(select(Booking).where(Booking.id.in_([winter["id"], summer["id"]]))).all()  # type: ignore[union-attr]
    }
    for name, parse in parsers.items():
        events = {e.uid: (e.start_at, e.end_at) for e in parse(body)}
        assert events == expected, name


def test_feed_discloses_no_patient_identifiers(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    book(client, desk_headers, clinic, BEFORE_DST)
    book(client, desk_headers, clinic, AFTER_DST, patient_id=clinic.other_patient.id)
    client.patch(
        f"/api/v1/patients/{clinic.patient.id}",
        json={"notes": "allergic to latex"},
        headers=desk_headers,
    )
    provider_feed = client.get(
        feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id))
    ).content
    location_feed = client.get(
        feed_path(new_feed(client, desk_headers, location_id=clinic.location_id))
    ).content
    for patient in (clinic.patient, clinic.other_patient, clinic.new_patient):
        identifiers = [
            patient.first_name,
            patient.last_name,
            patient.email,
            patient.phone,
            patient.date_of_birth.isoformat(),
            patient.date_of_birth.strftime("%Y%m%d"),
            patient.date_of_birth.strftime("%m/%d/%Y"),
            "latex",
        ]
        for feed in (provider_feed, location_feed):
            unfolded = feed.replace(b"\r\n ", b"").decode()
            for identifier in identifiers:
                assert identifier.lower() not in unfolded.lower(), identifier
    assert "Ketamine infusion – J.D.".encode() in provider_feed
    assert b"ATTENDEE" not in provider_feed


def test_privacy_level_type_only(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, settings: Settings
) -> None:
    book(client, desk_headers, clinic, BEFORE_DST)
    settings.feed_privacy = "type_only"
    feed = client.get(
        feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id))
    ).content
    assert b"SUMMARY:Ketamine infusion\r\n" in feed
    assert b"J.D." not in feed


def test_http_caching_head_and_gzip(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    book(client, desk_headers, clinic, BEFORE_DST)
    path = feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id))
    plain = {"Accept-Encoding": "identity"}
    first, second = client.get(path, headers=plain), client.get(path, headers=plain)
    assert "content-encoding" not in first.headers
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag == second.headers["etag"]
    assert not etag.startswith("W/")
    assert first.headers["cache-control"].startswith("private")
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "last-modified" in first.headers
    not_modified = client.get(path, headers={"If-None-Match": etag, **plain})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    # RFC 9110 15.4.5: what guides a cache, and no other representation metadata.
    assert not_modified.headers["etag"] == etag
    assert not_modified.headers["cache-control"] == first.headers["cache-control"]
    assert not_modified.headers["vary"] == "Accept-Encoding"
    assert "x-robots-tag" not in not_modified.headers
    head = client.head(path, headers=plain)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == etag
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == first.content  # httpx decodes; the bytes are the same calendar
    assert zipped.headers["etag"] != etag
    assert client.get(path, headers={"If-None-Match": zipped.headers["etag"]}).status_code == 304
    no_accept = client.get(path, headers={"Accept": ""})
    assert no_accept.status_code == 200


def test_reschedule_and_cancel_keep_the_uid(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, parsers: dict[str, Parser]
) -> None:
    booking = book(client, desk_headers, clinic, AFTER_DST)
    path = feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id))
    before = {e.uid: e for e in parsers["icalendar"](client.get(path).content)}
    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start_at": "2026-03-10T11:00:00-04:00"},
        headers=desk_headers,
    ).json()
    for name, parse in parsers.items():
        events = parse(client.get(path).content)
        assert [e.uid for e in events] == [booking["ical_uid"]], name
        assert events[0].sequence is not None
        assert events[0].sequence > (before[booking["ical_uid"]].sequence or 0), name
        assert events[0].start_at.isoformat() == "2026-03-10T15:00:00+00:00", name
    client.post(
        f"/api/v1/bookings/{moved['id']}/cancel", json={"reason": "flu"}, headers=desk_headers
    )
    for name, parse in parsers.items():
        events = parse(client.get(path).content)
        assert [(e.uid, e.status) for e in events] == [(booking["ical_uid"], "CANCELLED")], name


def test_cancelled_bookings_leave_after_the_grace_period(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    booking = book(client, desk_headers, clinic, "2026-04-21T09:00:00-04:00")
    client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "x"}, headers=desk_headers
    )
    path = feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id))
    assert booking["ical_uid"].encode() in client.get(path).content
    clock.advance(timedelta(days=15))
    assert booking["ical_uid"].encode() not in client.get(path).content


def test_many_cancellations_never_push_a_visit_out_of_the_feed(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    clock: FrozenClock,
) -> None:
    """A provider whose slots were booked and cancelled thousands of times in the grace
    period (as benchmarks/soak.py does) still sees every visit; of the cancellations the feed
    keeps the most recently changed ones, as many as MAX_FEED_CANCELLATIONS."""
    visit = book(client, desk_headers, clinic, "2026-04-21T09:00:00-04:00")
    now = clock.now()
    first = datetime.fromisoformat("2026-03-03T09:00:00-05:00")
    churn = MAX_FEED_EVENTS + 1  # cancelled visits before the booked one
    db.execute(
        insert(Booking),
        [
            {
                "patient_id": clinic.patient.id,
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "provider_id": clinic.nurse.id,
                "start_at": first + timedelta(minutes=10 * (i % 200), days=i // 200),
                "end_at": first + timedelta(minutes=10 * (i % 200) + 30, days=i // 200),
                "status": "cancelled",
                "ical_uid": f"churn-{i}@test",
                "cancelled_at": now - timedelta(minutes=churn - i),
                "created_at": now - timedelta(days=1),
                "updated_at": now - timedelta(minutes=churn - i),  # the last one most recent
            }
            for i in range(churn)
        ],
    )
    db.commit()
    token = new_feed(client, desk_headers, provider_id=clinic.nurse.id)
    body = client.get(feed_path(token)).content
    assert visit["ical_uid"].encode() in body
    shown = {int(uid) for uid in re.findall(rb"UID:churn-(\d+)@test", body)}
    assert shown == set(range(churn - MAX_FEED_CANCELLATIONS, churn))


def test_a_visit_begun_the_day_before_the_window_is_in_the_feed(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    """The feed reads the owner's visits from a day before its window on (its index scan is
    bounded there, not at the first visit ever): a visit of almost a day that ends inside
    the window is in it; one that ended as the window starts is not."""
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    window_start = today - timedelta(days=settings.feed_past_days)
    visits = {
        "long": (window_start - timedelta(hours=23), window_start + timedelta(minutes=30)),
        "ended": (window_start - timedelta(hours=2), window_start),
    }
    db.execute(
        insert(Booking),
        [
            {
                "patient_id": clinic.patient.id,
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "provider_id": clinic.nurse.id,
                "start_at": start,
                "end_at": end,
                "status": "fulfilled",
                "ical_uid": f"{name}@test",
                "created_at": start,
                "updated_at": end,
            }
            for name, (start, end) in visits.items()
        ],
    )
    db.commit()
    body = client.get(feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id)))
    assert b"UID:long@test" in body.content
    assert b"UID:ended@test" not in body.content


def test_tokens_are_hashed_revocable_and_rotatable(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    token = new_feed(client, desk_headers, provider_id=clinic.nurse.id)
    stored = db.exec(select(FeedToken).where(FeedToken.id == token["id"])).one()
    assert stored.token_hash == hash_token(token["token"])
    assert token["token"] not in stored.model_dump_json()
    listed = client.get("/api/v1/feed-tokens", headers=desk_headers).json()
    assert "token" not in listed[0]

    rotated = client.post(f"/api/v1/feed-tokens/{token['id']}/rotate", headers=desk_headers)
    assert rotated.status_code == 201
    assert client.get(feed_path(token)).status_code == 404
    assert client.get(feed_path(rotated.json())).status_code == 200
    assert (
        client.delete(
            f"/api/v1/feed-tokens/{rotated.json()['id']}", headers=desk_headers
        ).status_code
        == 204
    )
    gone = client.get(feed_path(rotated.json()))
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert client.get("/feeds/not-a-token.ics").status_code == 404


def test_providers_manage_only_their_own_feeds(
    client: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    from tests.factories import make_provider

    other = make_provider(db, name="Other Nurse", locations=(clinic.location,))
    nurse_user = make_user(
        db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id
    )
    headers = auth_headers(nurse_user, settings, clock.now())
    assert (
        client.post(
            "/api/v1/feed-tokens", json={"provider_id": clinic.nurse.id}, headers=headers
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/feed-tokens", json={"provider_id": other.id}, headers=headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/feed-tokens", json={"location_id": clinic.location_id}, headers=headers
        ).status_code
        == 403
    )
    both = client.post(
        "/api/v1/feed-tokens",
        json={"provider_id": clinic.nurse.id, "location_id": clinic.location_id},
        headers=headers,
    )
    assert both.status_code == 422


def test_booking_ics_carries_the_patients_instructions(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    parsers: dict[str, Parser],
) -> None:
    clinic.infusion.fasting_hours = 6
    clinic.infusion.driver_required = True
    db.add(clinic.infusion)
    db.commit()
    booking = book(client, desk_headers, clinic, AFTER_DST)
    response = client.get(f"/api/v1/bookings/{booking['id']}/calendar.ics", headers=desk_headers)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    for name, parse in parsers.items():
        (event,) = parse(response.content)
        assert event.uid == booking["ical_uid"], name
        assert event.description is not None
        assert "Stop eating at 03:00" in event.description, name
        assert "driver" in event.description, name
    assert b"METHOD:PUBLISH" in response.content


def test_booking_ics_is_an_itip_publish_libical_accepts_with_the_feeds_instants(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    parsers: dict[str, Parser],
    tmp_path: Path,
    libical_checker: Path,
) -> None:
    """Evolution (libical) refused every .ics (METHOD:PUBLISH without ORGANIZER): the clinic is
    now the organizer, and the .ics and the feeds say the same instants for the booking."""
    winter = book(client, desk_headers, clinic, BEFORE_DST)
    summer = book(client, desk_headers, clinic, AFTER_DST, patient_id=clinic.other_patient.id)
    feed = client.get(feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id)))
    location_feed = client.get(
        feed_path(new_feed(client, desk_headers, location_id=clinic.location_id))
    )
    for booking in (winter, summer):
        ics = client.get(f"/api/v1/bookings/{booking['id']}/calendar.ics", headers=desk_headers)
        assert ics.status_code == 200
        path = tmp_path / f"{booking['id']}.ics"
        path.write_bytes(ics.content)
        errors, events = libical_read(libical_checker, path)
        assert errors == []
        assert [e.uid for e in events] == [booking["ical_uid"]]
        assert b"\r\nORGANIZER;CN=" in ics.content
        for name, parse in parsers.items():
            (in_ics,) = parse(ics.content)
            for calendar in (feed.content, location_feed.content):
                (in_feed,) = [e for e in parse(calendar) if e.uid == booking["ical_uid"]]
                assert (in_ics.start_at, in_ics.end_at) == (in_feed.start_at, in_feed.end_at), name
            assert in_ics.start_at == datetime.fromisoformat(booking["start_at"]), name


def test_head_on_a_booking_ics_answers_like_get_without_a_body(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    booking = book(client, desk_headers, clinic, AFTER_DST)
    path = f"/api/v1/bookings/{booking['id']}/calendar.ics"
    plain = {**desk_headers, "Accept-Encoding": "identity"}
    get, head = client.get(path, headers=plain), client.head(path, headers=plain)
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for header in ("content-type", "etag", "content-disposition"):
        assert head.headers[header] == get.headers[header]
    assert client.head(path).status_code == 401  # HEAD is authorized like GET
    unknown = client.head("/api/v1/bookings/999999/calendar.ics", headers=desk_headers)
    assert unknown.status_code == 404


def test_head_on_the_patients_ics_answers_like_get_without_a_body(
    client: TestClient, clinic: Clinic, db: Session
) -> None:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    online = clinic
    booked = hold_and_book(client, online, online.consult.id or 0, THURSDAY_9, NEWCOMER)
    assert booked.status_code == 201, booked.text
    path = f"{PUBLIC}/manage/{booked.json()['manage_token']}/calendar.ics"
    plain = {"Accept-Encoding": "identity"}
    get, head = client.get(path, headers=plain), client.head(path, headers=plain)
    assert get.status_code == 200
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    for header in ("content-type", "etag", "content-disposition"):
        assert head.headers[header] == get.headers[header]
    assert client.head(f"{PUBLIC}/manage/{'x' * 43}/calendar.ics").status_code == 404


def test_feed_tokens_never_reach_the_access_log(backend: str, tmp_path: Path) -> None:
    """A real server process with access logging on: the secret must not be in its output."""
    url = fresh_database_url(backend, tmp_path, "logs")
    upgrade(url)
    log_file = tmp_path / "server.log"
    secret = "s3cret-token-" + "x" * 40
    try:
        with running_server(url, log_file=log_file) as base:
            assert httpx.get(f"{base}/feeds/{secret}.ics").status_code == 404
            assert httpx.get(f"{base}/feeds/{secret}.ics?token={secret}").status_code == 404
    finally:
        dispose_database(url)
    output = log_file.read_text()
    assert "GET /feeds/[redacted]" in output  # the access log did run
    assert secret not in output
