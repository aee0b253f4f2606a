"""Booking a treatment series: every visit of the placement in one transaction, or none.

``create_series`` takes the locks a single booking takes, for every eligible provider at once
(location, providers, patient), then plans under them and writes each visit through the same
``place`` check single bookings use. Any refusal raises and the unit of work rolls the whole
transaction back: a series books every visit or none. A transient abort (deadlock,
serialization failure) reruns the whole work (``db.transaction.complete``).

Messages: every visit is an ordinary booking, so each writes its own confirmation through the
outbox (one message per visit, each with its own time and calendar invitation); the series
writes none of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.bookings import repository as booking_repository
from scheduler.bookings.book import book_placement
from scheduler.bookings.placement import check_prerequisites, place
from scheduler.bookings.repository import PatientFlags
from scheduler.bookings.schemas import BookingRead
from scheduler.db.locks import lock_resources
from scheduler.errors import Conflict, InvalidInput
from scheduler.models import AppointmentType, Location, Series
from scheduler.series.managing import read_series
from scheduler.series.placer import SeriesPlan
from scheduler.series.planning import load_subject, plan_series
from scheduler.series.schemas import ExpectedVisit, SeriesRead, SeriesRequest


def create_series(
    session: Session, data: SeriesRequest, *, actor: Actor, now: datetime
) -> SeriesRead:
    """Book every visit of the placement, or none (409 ``series_unplaceable`` with the
    preview's problem and alternatives). With ``expected_visits`` (the plan a user saw), a
    placement that differs now books nothing: 409 ``series_plan_changed`` with the new preview."""
    override = data.override is not None
    if override and not actor.is_staff:
        raise InvalidInput("Only staff may override.", field="override")
    subject = load_subject(session, data, now)
    check_prerequisites(subject.patient, subject.appointment_type, override=override)
    assert subject.location.id is not None
    assert subject.appointment_type.id is not None
    provider_ids = (
        [data.provider_id]
        if data.provider_id is not None
        else booking_repository.eligible_provider_ids(
            session,
            location_id=subject.location.id,
            appointment_type_id=subject.appointment_type.id,
        )
    )
    # The locks a single booking takes, all at once and in the same order (location,
    # providers, patient): a single booking waits for the series or the series for it.
    lock_resources(
        session,
        location_ids=[subject.location.id] if subject.appointment_type.needs_chair else [],
        provider_ids=provider_ids,
        patient_ids=[subject.patient.id],
    )
    planned = plan_series(session, subject, data, now)
    if not isinstance(planned.result, SeriesPlan):
        problem = planned.preview.problem
        assert problem is not None
        raise Conflict(
            f"The series cannot be placed: visit {problem.visit_number} has no possible start.",
            code="series_unplaceable",
            extra={
                "problem": problem.model_dump(mode="json"),
                "alternatives": [a.model_dump(mode="json") for a in planned.preview.alternatives],
            },
        )
    if data.expected_visits is not None and _changed(data.expected_visits, planned.result):
        raise Conflict(
            "The placement changed since the preview (someone booked meanwhile): "
            "nothing was booked. Check the new placement.",
            code="series_plan_changed",
            extra={"preview": planned.preview.model_dump(mode="json")},
        )
    series = Series(
        patient_id=subject.patient.id,
        label=subject.template.name,
        template_id=subject.template.id,
        location_id=subject.location.id,
        status="active",
        created_at=now,
    )
    audited_write(
        session,
        series,
        actor=actor,
        now=now,
        action="series.create",
        entity_type="series",
        reason=data.override.reason if data.override else "",
    )
    write_visits(
        session,
        series,
        planned.result,
        subject=(subject.location, subject.appointment_type),
        patient=subject.patient,
        actor=actor,
        now=now,
        notes=data.notes,
        override=data.override.reason if data.override else None,
    )
    return read_series(session, series, now)


def _changed(expected: Sequence[ExpectedVisit], plan: SeriesPlan) -> bool:
    """Whether ``plan`` books anything else than the visits the user saw."""
    seen = [(v.start_at, v.chair_id, v.provider_id) for v in expected]
    now = [(v.start_at, v.chair_id, v.provider_id) for v in plan.visits]
    return seen != now


def write_visits(
    session: Session,
    series: Series,
    plan: SeriesPlan,
    *,
    subject: tuple[Location, AppointmentType],
    patient: PatientFlags,
    actor: Actor,
    now: datetime,
    notes: str = "",
    override: str | None = None,
) -> list[BookingRead]:
    """Write the visits of ``plan``, each checked by ``place`` as a single booking is. The
    first refusal raises, and the caller's transaction then keeps none of them."""
    location, appointment_type = subject
    assert location.id is not None
    assert appointment_type.id is not None
    assert series.id is not None
    written = []
    for visit in plan.visits:
        placement = place(
            session,
            location_id=location.id,
            appointment_type_id=appointment_type.id,
            start_at=visit.start_at,
            chair_id=visit.chair_id,
            provider_id=visit.provider_id,
            patient_id=patient.id,
            now=now,
            override=override is not None,
            patient=patient,
            subject=subject,
        )
        written.append(
            book_placement(
                session,
                placement,
                patient_id=patient.id,
                actor=actor,
                now=now,
                source="front_desk",
                notes=notes,
                override=override,
                series_id=series.id,
            )
        )
    return written
