"""Booking over HTTP: every rule is enforced at write time, with clear problem+json errors.

The clock is frozen at Monday 2 March 2026 09:00 New York; "tomorrow" is Tuesday 3 March,
when the nurse works 08:00-17:00 (EST, UTC-5).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.audit.service import snapshot
from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, Booking
from tests.clinic_fixture import Clinic

TUESDAY_9 = "2026-03-03T09:00:00-05:00"
TUESDAY_9_UTC = "2026-03-03T14:00:00Z"


def book(
    client: TestClient,
    headers: dict[str, str],
    clinic: Clinic,
    *,
    start: str = TUESDAY_9,
    patient_id: int | None = None,
    type_id: int | None = None,
    **extra: Any,
) -> Any:
    body = {
        "patient_id": patient_id or clinic.patient.id,
        "appointment_type_id": type_id or clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": start,
        **extra,
    }
    return client.post("/api/v1/bookings", json=body, headers=headers)


def slot_starts(
    client: TestClient, headers: dict[str, str], clinic: Clinic, type_id: int
) -> list[str]:
    response = client.get(
        "/api/v1/slots",
        params={
            "appointment_type": type_id,
            "location": clinic.location_id,
            "start": "2026-03-03T00:00:00-05:00",
            "end": "2026-03-04T00:00:00-05:00",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [s["start_at"] for s in response.json()["items"]]


def test_booking_an_offered_slot_succeeds_and_uses_it_up(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    offered = slot_starts(client, desk_headers, clinic, clinic.infusion_id)
    assert "2026-03-03T09:00:00-05:00" in offered
    first = book(client, desk_headers, clinic)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "booked"
    assert body["start_at"] == TUESDAY_9_UTC
    assert body["end_at"] == "2026-03-03T15:40:00Z"  # 100 minutes
    assert body["chair_id"] == clinic.chairs[0].id  # lowest position first
    assert first.headers["etag"] == f'"{body["id"]}.1"'
    # One IV start at a time: 09:00 is gone for the second chair, 09:15 is offered ...
    offered = slot_starts(client, desk_headers, clinic, clinic.infusion_id)
    assert "2026-03-03T09:00:00-05:00" not in offered
    assert "2026-03-03T09:15:00-05:00" in offered
    second = book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.other_patient.id,
        start="2026-03-03T09:15:00-05:00",
    )
    assert second.status_code == 201, second.text
    assert second.json()["chair_id"] == clinic.chairs[1].id
    # ... and then both chairs are busy until the first is clean again.
    after = slot_starts(client, desk_headers, clinic, clinic.infusion_id)
    assert "2026-03-03T09:30:00-05:00" not in after
    assert "2026-03-03T10:45:00-05:00" not in after  # 09:00 + 100 min + 15 turnover = 10:55
    assert "2026-03-03T11:00:00-05:00" in after
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "booking.create")).all()
    assert len(audit) == 2
    assert audit[0].actor.startswith("user:")
    assert_audit_pictures_the_stored_row(db, audit[0], body["id"])


def assert_audit_pictures_the_stored_row(db: Session, event: AuditEvent, booking_id: int) -> None:
    """The event's "after" is every column of the row as the database keeps it, but the
    manage-token hash (a secret)."""
    stored = db.get(Booking, booking_id)
    assert stored is not None
    db.refresh(stored)
    assert event.entity_id == booking_id
    assert event.after == snapshot(stored, exclude=frozenset({"manage_token_hash"}))
    assert "manage_token_hash" not in (event.after or {})


def test_third_patient_in_two_chairs_is_slot_unavailable(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    from tests.factories import make_patient

    third = make_patient(
        db, first_name="Tia", email="tia@example.org", consult_completed=True, consent_signed=True
    )
    assert book(client, desk_headers, clinic).status_code == 201
    second = book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.other_patient.id,
        start="2026-03-03T09:15:00-05:00",
    )
    assert second.status_code == 201
    response = book(
        client, desk_headers, clinic, patient_id=third.id, start="2026-03-03T09:30:00-05:00"
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "slot_unavailable"
    # Even staff cannot override a full chair: it is a physical limit.
    forced = book(
        client,
        desk_headers,
        clinic,
        patient_id=third.id,
        start="2026-03-03T09:30:00-05:00",
        override={"reason": "urgent"},
    )
    assert forced.status_code == 409
    assert forced.json()["code"] == "slot_unavailable"


def test_consultation_takes_the_provider_exclusively(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    assert book(client, desk_headers, clinic).status_code == 201  # infusion monitoring 09:00-
    consult = book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.new_patient.id,
        type_id=clinic.consult.id,
        start="2026-03-03T09:30:00-05:00",
    )
    assert consult.status_code == 409
    assert consult.json()["code"] == "slot_unavailable"
    assert "monitoring" in consult.json()["detail"]


def test_patient_cannot_overlap_themselves(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    assert book(client, desk_headers, clinic).status_code == 201
    again = book(client, desk_headers, clinic, start="2026-03-03T10:00:00-05:00")
    assert again.status_code == 409
    assert again.json()["code"] == "patient_conflict"


def test_outside_hours_needs_an_override_with_a_reason(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    late = "2026-03-03T16:30:00-05:00"  # would end 18:10, after the nurse's 17:00
    refused = book(client, desk_headers, clinic, start=late)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "outside_availability"
    assert {r["code"] for r in problem["reasons"]} >= {"outside_provider_hours"}
    empty_reason = book(client, desk_headers, clinic, start=late, override={"reason": ""})
    assert empty_reason.status_code == 422
    forced = book(
        client, desk_headers, clinic, start=late, override={"reason": "only time patient can come"}
    )
    assert forced.status_code == 201, forced.text
    assert "only time patient can come" in forced.json()["override_reason"]
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "booking.override")).one()
    assert "only time patient can come" in event.reason
    assert "outside_provider_hours" in event.reason


def test_prerequisites_are_enforced_and_overridable_by_staff(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    refused = book(client, desk_headers, clinic, patient_id=clinic.new_patient.id)
    assert refused.status_code == 409
    assert refused.json()["code"] == "prerequisite_missing"
    assert set(refused.json()["missing"]) == {"consult_completed", "consent_signed"}
    forced = book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.new_patient.id,
        override={"reason": "consult done at partner clinic"},
    )
    assert forced.status_code == 201, forced.text
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "booking.override")).one()
    assert "prerequisite:consult_completed" in event.reason


def test_min_notice_and_naive_datetimes(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    too_soon = book(client, desk_headers, clinic, start="2026-03-02T09:30:00-05:00")
    assert too_soon.status_code == 409
    assert "min_notice" in {r["code"] for r in too_soon.json()["reasons"]}
    naive = book(client, desk_headers, clinic, start="2026-03-03T09:00:00")
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "start_at"


def test_unknown_ids_are_clear_errors(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    assert book(client, desk_headers, clinic, patient_id=999_999).json()["code"] == "invalid_input"
    missing_location = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": clinic.patient.id,
            "appointment_type_id": clinic.infusion_id,
            "location_id": 999_999,
            "start_at": TUESDAY_9,
        },
        headers=desk_headers,
    )
    assert missing_location.status_code == 404
    missing_type = book(client, desk_headers, clinic, type_id=999_999)
    assert missing_type.status_code == 404
    assert "Appointment type 999999" in missing_type.json()["detail"]
    # Both unknown: the patient is named first.
    both = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": 999_999,
            "appointment_type_id": clinic.infusion_id,
            "location_id": 999_999,
            "start_at": TUESDAY_9,
        },
        headers=desk_headers,
    )
    assert both.json()["errors"][0]["field"] == "patient_id"
    assert client.get("/api/v1/bookings/999999", headers=desk_headers).status_code == 404


def test_holds_block_others_until_they_expire_or_are_released(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    hold_body = {
        "appointment_type_id": clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": TUESDAY_9,
    }
    holds = [
        client.post("/api/v1/holds", json=hold_body, headers=desk_headers),
        client.post(
            "/api/v1/holds",
            json={**hold_body, "start_at": "2026-03-03T09:15:00-05:00"},
            headers=desk_headers,
        ),
    ]
    assert [h.status_code for h in holds] == [201, 201]
    assert {h.json()["chair_id"] for h in holds} == {c.id for c in clinic.chairs}
    blocked = book(client, desk_headers, clinic, start="2026-03-03T09:30:00-05:00")
    assert blocked.status_code == 409
    # Releasing one frees it at once.
    assert (
        client.delete(f"/api/v1/holds/{holds[0].json()['id']}", headers=desk_headers).status_code
        == 204
    )
    assert book(client, desk_headers, clinic).status_code == 201
    # The other expires after 10 minutes, with no job running.
    at_915 = "2026-03-03T09:15:00-05:00"
    assert (
        book(
            client, desk_headers, clinic, patient_id=clinic.other_patient.id, start=at_915
        ).status_code
        == 409
    )
    clock.advance(timedelta(minutes=10, seconds=1))
    assert (
        book(
            client, desk_headers, clinic, patient_id=clinic.other_patient.id, start=at_915
        ).status_code
        == 201
    )


def test_booking_from_a_hold(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    hold = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_9,
            "chair_id": clinic.chairs[1].id,
        },
        headers=desk_headers,
    ).json()
    booked = client.post(
        "/api/v1/bookings",
        json={"patient_id": clinic.patient.id, "hold_id": hold["id"]},
        headers=desk_headers,
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["chair_id"] == clinic.chairs[1].id
    reused = client.post(
        "/api/v1/bookings",
        json={"patient_id": clinic.other_patient.id, "hold_id": hold["id"]},
        headers=desk_headers,
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "hold_expired"
    expiring = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-03T13:00:00-05:00",
        },
        headers=desk_headers,
    ).json()
    clock.advance(timedelta(minutes=11))
    late = client.post(
        "/api/v1/bookings",
        json={"patient_id": clinic.other_patient.id, "hold_id": expiring["id"]},
        headers=desk_headers,
    )
    assert late.status_code == 409
    assert late.json()["code"] == "hold_expired"


def test_idempotency_key_replays_and_rejects_a_different_body(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    headers = {**desk_headers, "Idempotency-Key": "front-desk-42"}
    first = book(client, headers, clinic)
    replay = book(client, headers, clinic)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(db.exec(select(Booking)).all()) == 1
    different = book(client, headers, clinic, start="2026-03-03T11:00:00-05:00")
    assert different.status_code == 422
    assert different.json()["code"] == "idempotency_key_reused"
    assert len(db.exec(select(Booking)).all()) == 1


def test_if_match_guards_against_lost_updates(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    created = book(client, desk_headers, clinic)
    booking_id, etag = created.json()["id"], created.headers["etag"]
    url = f"/api/v1/bookings/{booking_id}"
    first = client.patch(
        url, json={"notes": "prefers left arm"}, headers={**desk_headers, "If-Match": etag}
    )
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    stale = client.patch(
        url, json={"notes": "overwrites"}, headers={**desk_headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_conflict"
    assert client.get(url, headers=desk_headers).json()["notes"] == "prefers left arm"
    stale_action = client.post(f"{url}/check-in", headers={**desk_headers, "If-Match": etag})
    assert stale_action.status_code == 412


def test_reschedule_is_atomic_and_keeps_the_calendar_uid(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    old = book(client, desk_headers, clinic).json()
    moved = client.post(
        f"/api/v1/bookings/{old['id']}/reschedule",
        json={"start_at": "2026-03-03T09:30:00-05:00", "reason": "patient running late"},
        headers=desk_headers,
    )
    assert moved.status_code == 201, moved.text
    new = moved.json()
    assert new["rescheduled_from_id"] == old["id"]
    assert new["ical_uid"] == old["ical_uid"]
    assert new["sequence"] > old["sequence"]
    assert new["status"] == "booked"
    created = db.exec(
        select(AuditEvent).where(
            AuditEvent.action == "booking.create", AuditEvent.entity_id == new["id"]
        )
    ).one()
    assert created.reason == f"rescheduled from booking {old['id']}"
    assert_audit_pictures_the_stored_row(db, created, new["id"])
    previous = client.get(f"/api/v1/bookings/{old['id']}", headers=desk_headers).json()
    assert previous["status"] == "cancelled"
    assert previous["cancel_reason"] == "patient running late"

    # A move into a conflict changes nothing: still exactly one active booking, unmoved.
    blocker = book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.other_patient.id,
        start="2026-03-03T13:00:00-05:00",
    )
    assert blocker.status_code == 201
    third = book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.new_patient.id,
        start="2026-03-03T13:15:00-05:00",
        override={"reason": "consult elsewhere"},
    )
    assert third.status_code == 201
    refused = client.post(
        f"/api/v1/bookings/{new['id']}/reschedule",
        json={"start_at": "2026-03-03T13:30:00-05:00"},
        headers=desk_headers,
    )
    assert refused.status_code == 409
    active = client.get(
        "/api/v1/bookings",
        params={"patient_id": clinic.patient.id, "status": ["booked"]},
        headers=desk_headers,
    ).json()
    assert [b["id"] for b in active["items"]] == [new["id"]]
    assert active["items"][0]["start_at"] == "2026-03-03T14:30:00Z"


def test_cancel_records_who_why_and_late_flag(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    booking = book(client, desk_headers, clinic).json()  # tomorrow 09:00: 24 h from now
    clock.advance(timedelta(minutes=1))  # now inside the 24 h cut-off
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "no driver", "cancelled_by": "patient"},
        headers=desk_headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancelled_by"], body["late_cancel"]) == (
        "cancelled",
        "patient",
        True,
    )
    again = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "x"}, headers=desk_headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    # The time is free again.
    assert book(client, desk_headers, clinic, patient_id=clinic.other_patient.id).status_code == 201


def test_day_list_for_the_front_desk(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    book(client, desk_headers, clinic)
    book(
        client,
        desk_headers,
        clinic,
        patient_id=clinic.other_patient.id,
        start="2026-03-04T09:00:00-05:00",
    )
    day = client.get(
        "/api/v1/bookings",
        params={"date": "2026-03-03", "location_id": clinic.location_id},
        headers=desk_headers,
    ).json()
    assert [b["patient_id"] for b in day["items"]] == [clinic.patient.id]
    needs_location = client.get(
        "/api/v1/bookings", params={"date": "2026-03-03"}, headers=desk_headers
    )
    assert needs_location.status_code == 422


def test_audit_events_are_for_admins(
    client: TestClient, desk_headers: dict[str, str], admin_headers: dict[str, str], clinic: Clinic
) -> None:
    booking = book(client, desk_headers, clinic).json()
    assert client.get("/api/v1/audit-events", headers=desk_headers).status_code == 403
    events = client.get(
        "/api/v1/audit-events",
        params={"entity_type": "booking", "entity_id": booking["id"]},
        headers=admin_headers,
    ).json()
    assert [e["action"] for e in events["items"]] == ["booking.create"]
    assert events["items"][0]["request_id"]
    methods = client.options("/api/v1/audit-events", headers=admin_headers)
    assert methods.status_code == 405  # no update or delete through the API


def test_a_hold_for_one_patient_cannot_be_booked_for_another(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    hold = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_9,
            "patient_id": clinic.patient.id,
        },
        headers=desk_headers,
    ).json()
    other = client.post(
        "/api/v1/bookings",
        json={"patient_id": clinic.other_patient.id, "hold_id": hold["id"]},
        headers=desk_headers,
    )
    assert other.status_code == 409
    assert other.json()["code"] == "hold_patient_mismatch"


def test_a_live_hold_keeps_the_notice_it_was_placed_under(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    # Min notice is 60 minutes: at 09:00 the 10:00 start is just bookable.
    hold = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-02T10:00:00-05:00",
        },
        headers=desk_headers,
    )
    assert hold.status_code == 201, hold.text
    clock.advance(timedelta(minutes=5))
    booked = client.post(
        "/api/v1/bookings",
        json={"patient_id": clinic.patient.id, "hold_id": hold.json()["id"]},
        headers=desk_headers,
    )
    assert booked.status_code == 201, booked.text
