"""Treatment series over HTTP: templates, preview, all-or-nothing booking, management.

The clock is frozen at Monday 2 March 2026 09:00 New York (EST); the US spring-forward is on
Sunday 8 March. The clinic fixture's nurse works weekdays 08:00-17:00 with two chairs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from scheduler.auth.actors import Actor
from scheduler.availability.engine import local_instant
from scheduler.bookings.lifecycle import patient_flags_of
from scheduler.config import Settings
from scheduler.errors import Conflict
from scheduler.kit.clock import FrozenClock
from scheduler.models import (
    AuditEvent,
    AvailabilityException,
    Booking,
    Hold,
    Notification,
    Patient,
    Series,
    SeriesTemplate,
    User,
)
from scheduler.series.placer import PlannedVisit, SeriesPlan
from scheduler.series.service import spacing_problem, write_visits
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers

NY_OFFSET_BEFORE = "-05:00"


def make_template(
    client: TestClient, headers: dict[str, str], clinic: Clinic, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "Induction",
        "visit_count": 4,
        "window_days": 14,
        "min_gap_hours": 48,
        "max_gap_hours": 96,
        "max_per_week": 3,
        "booster_interval_days": 28,
        "prefer_same_time": True,
        **fields,
    }
    response = client.post(
        f"/api/v1/appointment-types/{clinic.infusion_id}/series-templates",
        json=body,
        headers=headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def request_body(clinic: Clinic, template: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "patient_id": clinic.patient.id,
        "template_id": template["id"],
        "location_id": clinic.location_id,
        "first_day": "2026-03-03",
        **fields,
    }


def count(db: Session, model: type[Any], *where: Any) -> int:
    return int(db.exec(select(func.count()).select_from(model).where(*where)).one())


def test_templates_are_admin_configured_and_checked(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
) -> None:
    template = make_template(client, admin_headers, clinic)
    assert template["appointment_type_id"] == clinic.infusion_id
    url = f"/api/v1/appointment-types/{clinic.infusion_id}/series-templates"
    body = {k: template[k] for k in ("name", "visit_count", "window_days", "max_per_week")}
    refused = client.post(
        url, json={**body, "min_gap_hours": 48, "max_gap_hours": 96}, headers=desk_headers
    )
    assert refused.status_code == 403
    too_close = client.post(
        url, json={**body, "min_gap_hours": 1, "max_gap_hours": 96}, headers=admin_headers
    )
    assert too_close.status_code == 422
    assert too_close.headers["content-type"].startswith("application/problem+json")
    backwards = client.post(
        url, json={**body, "min_gap_hours": 72, "max_gap_hours": 48}, headers=admin_headers
    )
    assert backwards.status_code == 422
    missing = client.post(
        "/api/v1/appointment-types/999999/series-templates",
        json={**body, "min_gap_hours": 48, "max_gap_hours": 96},
        headers=admin_headers,
    )
    assert missing.status_code == 404
    listed = client.get(
        "/api/v1/series-templates",
        params={"appointment_type_id": clinic.infusion_id},
        headers=desk_headers,
    )
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["items"]] == [template["id"]]
    one = client.get(f"/api/v1/series-templates/{template['id']}", headers=desk_headers)
    assert one.json() == template


def test_preview_places_every_visit_at_the_same_local_time_and_changes_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
) -> None:
    template = make_template(client, admin_headers, clinic)
    response = client.post(
        "/api/v1/series/preview", json=request_body(clinic, template), headers=desk_headers
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["feasible"] is True
    assert preview["score"] == preview["max_score"] == 3
    # Tue 3, Thu 5, Mon 9 (after the spring-forward: still 08:00 local), Wed 11.
    assert [v["start_at"] for v in preview["visits"]] == [
        "2026-03-03T08:00:00-05:00",
        "2026-03-05T08:00:00-05:00",
        "2026-03-09T08:00:00-04:00",
        "2026-03-11T08:00:00-04:00",
    ]
    assert count(db, Booking) == 0
    assert count(db, Series) == 0


def test_a_series_books_every_visit_in_one_transaction(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
) -> None:
    template = make_template(client, admin_headers, clinic)
    body = request_body(clinic, template)
    preview = client.post("/api/v1/series/preview", json=body, headers=desk_headers).json()
    response = client.post(
        "/api/v1/series", json=body, headers={**desk_headers, "Idempotency-Key": "course-1"}
    )
    assert response.status_code == 201, response.text
    series = response.json()
    assert series["status"] == "active"
    assert series["progress"] == {"total": 4, "fulfilled": 0, "upcoming": 4, "cancelled": 0}
    starts = [datetime.fromisoformat(v["start_at"]) for v in series["visits"]]
    assert starts == [datetime.fromisoformat(v["start_at"]) for v in preview["visits"]]
    assert {v["series_id"] for v in series["visits"]} == {series["id"]}
    row = db.get(SeriesTemplate, template["id"])
    assert row is not None
    assert spacing_problem(starts, row, timedelta(hours=48), clinic_tz()) is None
    assert {v["status"] for v in series["visits"]} == {"booked"}
    # One confirmation per visit (each visit is an ordinary booking), audited one by one.
    ids = [v["id"] for v in series["visits"]]
    confirmations = (col(Notification.booking_id).in_(ids), Notification.kind == "confirmation")
    assert count(db, Notification, *confirmations) == 4
    assert count(db, AuditEvent, AuditEvent.entity_type == "booking") == 4
    assert count(db, AuditEvent, AuditEvent.entity_type == "series") == 1
    # A retry with the same key replays the answer and books nothing more.
    again = client.post(
        "/api/v1/series", json=body, headers={**desk_headers, "Idempotency-Key": "course-1"}
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == series["id"]
    assert count(db, Booking) == 4
    # The patient's list and the series itself.
    listed = client.get(
        "/api/v1/series", params={"patient_id": clinic.patient.id}, headers=desk_headers
    )
    assert [s["id"] for s in listed.json()["items"]] == [series["id"]]
    one = client.get(f"/api/v1/series/{series['id']}", headers=desk_headers)
    assert one.status_code == 200
    assert [v["id"] for v in one.json()["visits"]] == ids
    # The same course again for the same patient must go around the first one's visits.
    second = client.post("/api/v1/series/preview", json=body, headers=desk_headers).json()
    taken = set(starts)
    assert second["feasible"] is True
    assert not taken & {datetime.fromisoformat(v["start_at"]) for v in second["visits"]}


def test_a_placement_that_changed_since_the_preview_books_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
) -> None:
    """The front desk sends back the plan it showed; a chair booked meanwhile changes the
    placement, so nothing is booked and the answer carries the new preview."""
    template = make_template(client, admin_headers, clinic)
    body = request_body(clinic, template)
    preview = client.post("/api/v1/series/preview", json=body, headers=desk_headers).json()
    seen = [{k: v[k] for k in ("start_at", "chair_id", "provider_id")} for v in preview["visits"]]
    first = preview["visits"][0]
    taken = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": clinic.other_patient.id,
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": first["start_at"],
            "chair_id": first["chair_id"],
        },
        headers=desk_headers,
    )
    assert taken.status_code == 201, taken.text
    refused = client.post(
        "/api/v1/series", json={**body, "expected_visits": seen}, headers=desk_headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "series_plan_changed"
    fresh = refused.json()["preview"]
    assert fresh["feasible"] is True
    assert fresh["visits"] != preview["visits"]
    assert count(db, Series) == 0
    assert count(db, Booking) == 1
    # The new plan, sent back as seen, is booked.
    again = [{k: v[k] for k in ("start_at", "chair_id", "provider_id")} for v in fresh["visits"]]
    booked = client.post(
        "/api/v1/series", json={**body, "expected_visits": again}, headers=desk_headers
    )
    assert booked.status_code == 201, booked.text
    assert [datetime.fromisoformat(v["start_at"]) for v in booked.json()["visits"]] == [
        datetime.fromisoformat(v["start_at"]) for v in fresh["visits"]
    ]


def close_day(db: Session, clinic: Clinic, day: date) -> None:
    tz_start = local_instant(day, datetime.min.time(), clinic_tz())
    db.add(
        AvailabilityException(
            location_id=clinic.location_id,
            kind="unavailable",
            start_at=tz_start,
            end_at=tz_start + timedelta(hours=24),
            reason="closed",
        )
    )
    db.commit()


def clinic_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/New_York")


def test_a_series_whose_fourth_visit_cannot_be_placed_books_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
) -> None:
    """Four visits a day apart from Tuesday 3 March; Friday 6 March is closed."""
    template = make_template(
        client,
        admin_headers,
        clinic,
        min_gap_hours=24,
        max_gap_hours=24,
        window_days=4,
        max_per_week=4,
    )
    close_day(db, clinic, date(2026, 3, 6))
    body = request_body(clinic, template)
    response = client.post("/api/v1/series", json=body, headers=desk_headers)
    assert response.status_code == 409, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "series_unplaceable"
    assert problem["problem"]["visit_number"] == 4
    assert len(problem["problem"]["placed"]) == 3
    codes = {r["code"] for r in problem["problem"]["reasons"]}
    assert "location_closed" in codes
    kinds = {a["kind"]: a for a in problem["alternatives"]}
    assert kinds["later_first_day"]["first_day"] == "2026-03-09"
    assert count(db, Booking) == 0
    assert count(db, Hold) == 0
    assert count(db, Series) == 0
    preview = client.post("/api/v1/series/preview", json=body, headers=desk_headers).json()
    assert preview["feasible"] is False
    assert preview["problem"] == problem["problem"]


def test_a_refused_visit_rolls_back_the_visits_written_before_it(
    db: Session, clinic: Clinic, clock: FrozenClock
) -> None:
    """The write path itself: visits 1-3 are written, visit 4 falls on a closed day and is
    refused by the same check single bookings get; the transaction keeps none of them."""
    close_day(db, clinic, date(2026, 3, 6))
    tz = clinic_tz()
    plan = SeriesPlan(
        visits=tuple(
            PlannedVisit(
                local_instant(date(2026, 3, d), datetime.min.time().replace(hour=9), tz),
                clinic.chairs[0].id,
                clinic.nurse.id or 0,
            )
            for d in (3, 4, 5, 6)
        ),
        score=0,
        max_score=0,
    )
    actor = Actor(kind="user", label="user:test")
    nested = db.begin_nested()
    series = Series(patient_id=clinic.patient.id or 0, created_at=clock.now())
    db.add(series)
    db.flush()
    with pytest.raises(Conflict) as refused:
        write_visits(
            db,
            series,
            plan,
            subject=(clinic.location, clinic.infusion),
            patient=patient_flags_of(db, clinic.patient.id or 0),
            actor=actor,
            now=clock.now(),
        )
    assert refused.value.code == "outside_availability"
    assert count(db, Booking) == 3  # written before the refusal, in the same transaction
    nested.rollback()
    assert count(db, Booking) == 0
    assert count(db, Series) == 0
    assert count(db, Notification) == 0


def test_eligibility_gates_and_staff_override(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
) -> None:
    template = make_template(client, admin_headers, clinic)
    body = request_body(clinic, template, patient_id=clinic.new_patient.id)
    refused = client.post("/api/v1/series", json=body, headers=desk_headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "prerequisite_missing"
    assert count(db, Booking) == 0
    overridden = client.post(
        "/api/v1/series",
        json={**body, "override": {"reason": "consult done at referring clinic"}},
        headers=desk_headers,
    )
    assert overridden.status_code == 201, overridden.text
    reasons = {v["override_reason"] for v in overridden.json()["visits"]}
    assert len(reasons) == 1
    assert "consult done at referring clinic" in reasons.pop()


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"first_day": "2026-03-01"}, 422),  # in the past
        ({"first_day": "9999-12-31"}, 422),
        ({"template_id": 999999}, 422),
        ({"patient_id": 999999}, 422),
        ({"location_id": 999999}, 422),
        ({"patient_id": 2**40}, 422),
        ({"earliest_time": "15:00", "latest_time": "09:00"}, 422),
        ({"earliest_time": "09:00+02:00"}, 422),
        ({"unknown": 1}, 422),
    ],
    ids=[
        "past",
        "far_future",
        "template",
        "patient",
        "location",
        "huge_id",
        "times",
        "tz",
        "extra",
    ],
)
def test_bad_requests_are_problems(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    fields: dict[str, Any],
    status: int,
) -> None:
    template = make_template(client, admin_headers, clinic)
    for path in ("/api/v1/series/preview", "/api/v1/series"):
        response = client.post(
            path, json=request_body(clinic, template, **fields), headers=desk_headers
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_alternatives_relax_the_provider_and_the_time_of_day(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
) -> None:
    template = make_template(client, admin_headers, clinic)
    # The nurse works until 17:00 and a visit lasts 100 minutes: nothing starts after 15:20.
    body = request_body(clinic, template, earliest_time="16:00", provider_id=clinic.nurse.id)
    preview = client.post("/api/v1/series/preview", json=body, headers=desk_headers).json()
    assert preview["feasible"] is False
    assert preview["problem"]["visit_number"] == 1
    kinds = [a["kind"] for a in preview["alternatives"]]
    assert "any_time_of_day" in kinds
    assert "later_first_day" not in kinds


def desk_at(db: Session, settings: Settings, at: datetime) -> dict[str, str]:
    """Front-desk headers issued at ``at`` (a token issued before the clock moved expires)."""
    user = db.exec(select(User).where(User.role == "front_desk")).one()
    return auth_headers(user, settings, at)


def book_series(
    client: TestClient, admin_headers: dict[str, str], desk_headers: dict[str, str], clinic: Clinic
) -> dict[str, Any]:
    template = make_template(client, admin_headers, clinic)
    response = client.post(
        "/api/v1/series", json=request_body(clinic, template), headers=desk_headers
    )
    assert response.status_code == 201, response.text
    series: dict[str, Any] = response.json()
    return series


def test_cancel_the_rest_of_a_series(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    series = book_series(client, admin_headers, desk_headers, clinic)
    first = series["visits"][0]
    db.exec(select(Booking).where(Booking.id == first["id"])).one().status = "fulfilled"
    db.commit()
    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    desk_headers = desk_at(db, settings, clock.now())
    response = client.post(
        f"/api/v1/series/{series['id']}/cancel",
        json={"reason": "moving away"},
        headers=desk_headers,
    )
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert [v["status"] for v in cancelled["visits"]] == ["fulfilled", *["cancelled"] * 3]
    assert cancelled["progress"] == {"total": 1, "fulfilled": 1, "upcoming": 0, "cancelled": 3}
    again = client.post(
        f"/api/v1/series/{series['id']}/cancel", json={"reason": "again"}, headers=desk_headers
    )
    assert again.status_code == 409
    assert client.get("/api/v1/series/424242", headers=desk_headers).status_code == 404


def test_rescheduling_a_visit_keeps_the_series_rules(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
) -> None:
    series = book_series(client, admin_headers, desk_headers, clinic)
    second = series["visits"][1]  # Thursday 5 March 08:00
    url = f"/api/v1/series/{series['id']}/visits/{second['id']}/reschedule"
    # Wednesday 4 March is only 24 h after the first visit.
    too_close = client.post(
        url, json={"start_at": "2026-03-04T08:00:00-05:00"}, headers=desk_headers
    )
    assert too_close.status_code == 409
    assert too_close.json()["code"] == "series_spacing"
    assert "less than 48 h" in too_close.json()["detail"]
    moved = client.post(
        url, json={"start_at": "2026-03-05T10:00:00-05:00", "reason": "later"}, headers=desk_headers
    )
    assert moved.status_code == 200, moved.text
    active = [v for v in moved.json()["visits"] if v["status"] == "booked"]
    assert [v["start_at"] for v in active][1] == "2026-03-05T15:00:00Z"
    assert moved.json()["progress"]["total"] == 4
    stale = client.post(url, json={"start_at": "2026-03-05T11:00:00-05:00"}, headers=desk_headers)
    assert stale.status_code == 404  # the old visit was replaced by a new booking


def test_boosters_are_proposed_after_the_course(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    series = book_series(client, admin_headers, desk_headers, clinic)
    url = f"/api/v1/series/{series['id']}/boosters/preview"
    early = client.post(url, headers=desk_headers)
    assert early.status_code == 409
    assert early.json()["code"] == "series_incomplete"
    for booking in db.exec(select(Booking).where(Booking.series_id == series["id"])):
        booking.status = "fulfilled"
    db.commit()
    clock.set(datetime(2026, 3, 12, 12, 0, tzinfo=UTC))
    desk_headers = desk_at(db, settings, clock.now())
    response = client.post(url, headers=desk_headers)
    assert response.status_code == 200, response.text
    proposal = response.json()
    # The last visit: Wednesday 11 March 08:00; 28 days later, same local time.
    assert proposal["target_at"] == "2026-04-08T08:00:00-04:00"
    assert proposal["proposals"][0]["start_at"] == "2026-04-08T08:00:00-04:00"
    assert proposal["proposals"][0]["chair_id"] == series["visits"][-1]["chair_id"]


def finish_course(db: Session, series_id: int) -> None:
    for booking in db.exec(select(Booking).where(Booking.series_id == series_id)):
        booking.status = "fulfilled"
    db.commit()


def test_a_booked_booster_belongs_to_its_series(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    series = book_series(client, admin_headers, desk_headers, clinic)
    url = f"/api/v1/series/{series['id']}/boosters"
    body = {"start_at": "2026-04-08T08:00:00-04:00"}
    early = client.post(url, json=body, headers=desk_headers)
    assert early.status_code == 409
    assert early.headers["content-type"].startswith("application/problem+json")
    assert early.json()["code"] == "series_incomplete"
    finish_course(db, series["id"])
    clock.set(datetime(2026, 3, 12, 12, 0, tzinfo=UTC))
    desk_headers = desk_at(db, settings, clock.now())
    proposal = client.post(f"{url}/preview", headers=desk_headers).json()["proposals"][0]
    chosen = {k: proposal[k] for k in ("start_at", "chair_id", "provider_id")}
    headers = {**desk_headers, "Idempotency-Key": "booster-1"}
    booked = client.post(url, json=chosen, headers=headers)
    assert booked.status_code == 201, booked.text
    booster = booked.json()["booking"]
    assert booster["series_id"] == series["id"]
    assert booster["start_at"] == "2026-04-08T12:00:00Z"
    assert booster["chair_id"] == series["visits"][-1]["chair_id"]
    shown = client.get(f"/api/v1/series/{series['id']}", headers=desk_headers).json()
    assert shown["visits"][-1]["id"] == booster["id"]
    assert shown["progress"] == {"total": 5, "fulfilled": 4, "upcoming": 1, "cancelled": 0}
    # A retry with the key replays; without it, the same start answers the same booking.
    replay = client.post(url, json=chosen, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = client.post(url, json=chosen, headers=desk_headers)
    assert again.status_code == 200
    assert (again.json()["booking"]["id"], again.json()["created"]) == (booster["id"], False)
    assert count(db, Booking, col(Booking.series_id) == series["id"]) == 5
    events = db.exec(
        select(AuditEvent).where(
            AuditEvent.action == "series.booster", AuditEvent.entity_id == series["id"]
        )
    ).all()
    assert len(events) == 1
    # The next booster waits until this one is done.
    other = client.post(url, json={"start_at": "2026-04-09T08:00:00-04:00"}, headers=desk_headers)
    assert other.status_code == 409
    assert other.json()["code"] == "series_incomplete"


def test_a_booster_time_taken_meanwhile_is_a_conflict(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    series = book_series(client, admin_headers, desk_headers, clinic)
    finish_course(db, series["id"])
    clock.set(datetime(2026, 3, 12, 12, 0, tzinfo=UTC))
    desk_headers = desk_at(db, settings, clock.now())
    url = f"/api/v1/series/{series['id']}/boosters"
    proposal = client.post(f"{url}/preview", headers=desk_headers).json()["proposals"][0]
    chosen = {k: proposal[k] for k in ("start_at", "chair_id", "provider_id")}
    taken = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": clinic.other_patient.id,
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            **chosen,
        },
        headers=desk_headers,
    )
    assert taken.status_code == 201, taken.text
    refused = client.post(url, json=chosen, headers=desk_headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_unavailable"
    assert count(db, Booking, col(Booking.series_id) == series["id"]) == 4
    before = client.post(
        url, json={"start_at": series["visits"][-1]["start_at"]}, headers=desk_headers
    )
    assert before.status_code == 422
    assert (
        client.post("/api/v1/series/999999/boosters", json=chosen, headers=desk_headers).status_code
        == 404
    )
    # The same eligibility gates as a single booking, and the staff override with a reason.
    later = client.post(f"{url}/preview", headers=desk_headers).json()["proposals"][0]
    later_start = {"start_at": later["start_at"]}
    patient = db.get(Patient, clinic.patient.id)
    assert patient is not None
    patient.consent_signed = False
    db.commit()
    gated = client.post(url, json=later_start, headers=desk_headers)
    assert gated.status_code == 409
    assert gated.json()["code"] == "prerequisite_missing"
    overridden = client.post(
        url,
        json={**later_start, "override": {"reason": "consent on paper"}},
        headers=desk_headers,
    )
    assert overridden.status_code == 201, overridden.text
    assert "consent on paper" in overridden.json()["booking"]["override_reason"]
    assert overridden.json()["booking"]["series_id"] == series["id"]


def test_admins_change_and_withdraw_a_template(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    clinic: Clinic,
) -> None:
    template = make_template(client, admin_headers, clinic)
    url = f"/api/v1/series-templates/{template['id']}"
    changed = client.patch(url, json={"visit_count": 3, "name": "Short"}, headers=admin_headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["visit_count"], changed.json()["name"]) == (3, "Short")
    backwards = client.patch(url, json={"max_gap_hours": 24}, headers=admin_headers)
    assert backwards.status_code == 422
    assert "max_gap_hours" in backwards.text
    assert client.patch(url, json={"name": None}, headers=admin_headers).status_code == 422
    assert client.patch(url, json={"active": False}, headers=desk_headers).status_code == 403
    withdrawn = client.patch(url, json={"active": False}, headers=admin_headers)
    assert withdrawn.json()["active"] is False
    refused = client.post(
        "/api/v1/series/preview", json=request_body(clinic, template), headers=desk_headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "template_inactive"
