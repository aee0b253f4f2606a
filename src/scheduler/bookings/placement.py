"""Placing one appointment at write time: lock, reload, and check with the engine's rules.

The same engine function that offers slots (``check_candidate``) decides here, after the
locks are held, so an offered slot can be booked and a write can never break a rule the
search respects. Staff overrides lift only policy (hours, closures, notice, horizon, grid),
never physical limits (chair, provider capacity, staggered starts, the patient's other visits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from scheduler.availability.engine import Reason, check_candidate, occupancy, ranked_checks
from scheduler.availability.rows import CommitmentRow
from scheduler.availability.service import (
    REASON_TEXT,
    SearchContext,
    load_context,
    load_subject,
    phases_of,
)
from scheduler.bookings import repository
from scheduler.bookings.repository import PatientFlags
from scheduler.db.locks import lock_resources
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import AppointmentType, Chair, Location

OVERRIDABLE = frozenset(
    {"off_grid", "min_notice", "beyond_horizon", "location_closed", "outside_provider_hours"}
)
PHYSICAL = frozenset({"no_chair_free", "provider_at_capacity", "start_too_close"})

PATIENT_BUSY = "The patient already has an appointment (or a held time) overlapping this one."
PREREQUISITE_TEXT = {
    "consult_completed": "a completed screening consultation",
    "consent_signed": "signed treatment consent",
    "rems_enrolled": "enrolment in the Spravato REMS program",
}


@dataclass(frozen=True)
class Placement:
    location: Location
    appointment_type: AppointmentType
    start_at: datetime
    end_at: datetime
    chair_id: int | None
    provider_id: int
    chair_start_at: datetime | None
    chair_end_at: datetime | None
    phases: list[dict[str, Any]]
    turnover_minutes: int
    overridden: tuple[str, ...]  # reason codes the override lifted
    missing: tuple[str, ...]  # prerequisites the patient lacks (lifted by the override)


def missing_prerequisites(patient: PatientFlags, appointment_type: AppointmentType) -> list[str]:
    return [p for p in appointment_type.prerequisites if not getattr(patient, p, False)]


def check_prerequisites(
    patient: PatientFlags, appointment_type: AppointmentType, *, override: bool
) -> list[str]:
    """The prerequisites the patient lacks; raises 409 unless staff override."""
    missing = missing_prerequisites(patient, appointment_type)
    if missing and not override:
        needs = ", ".join(PREREQUISITE_TEXT.get(m, m) for m in missing)
        raise Conflict(
            f"{appointment_type.name} requires {needs}.",
            code="prerequisite_missing",
            extra={"missing": missing},
        )
    return missing


def _problem(reasons: list[Reason], ctx: SearchContext) -> Conflict:
    names = {p.id: p.display_name for p in ctx.calendar.providers.values()}
    codes = {r.code for r in reasons}
    detail = "; ".join(
        dict.fromkeys(
            (f"{names.get(r.provider_id, r.provider_id)}: " if r.provider_id else "")
            + REASON_TEXT.get(r.code, r.code)
            for r in reasons
        )
    )
    extra = {"reasons": [{"code": r.code, "provider_id": r.provider_id} for r in reasons]}
    if codes & PHYSICAL:
        return Conflict(
            f"That time cannot be booked: {detail}.", code="slot_unavailable", extra=extra
        )
    return Conflict(
        f"That time is outside availability: {detail}. Staff may book it anyway with an "
        "override and a reason.",
        code="outside_availability",
        extra=extra,
    )


def place(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    start_at: datetime,
    chair_id: int | None,
    provider_id: int | None,
    patient_id: int | None,
    now: datetime,
    override: bool = False,
    ignore: tuple[str, int] | None = None,
    notice_from: datetime | None = None,
    patient: PatientFlags | None = None,
    subject: tuple[Location, AppointmentType] | None = None,
    same_person_ids: Sequence[int] = (),
) -> Placement:
    """Lock what the appointment touches, reload the calendar and choose chair and provider.

    ``ignore`` = ("hold", id) or ("booking", id): the reservation being turned into this one
    does not compete with it. ``notice_from``: see ``load_context`` (booking a live hold).
    With ``patient`` the type's prerequisites are checked first (409
    ``prerequisite_missing`` unless ``override``). ``subject``: the location and the type,
    when the caller already loaded them. ``same_person_ids``: other records of the same
    person (an online booking's own record and the ones it matched): they are locked too,
    and none may have a visit overlapping this one. Raises 404/422 for unknown or unfit ids,
    409 ``slot_unavailable`` / ``outside_availability`` / ``patient_conflict`` when the time
    cannot be taken.
    """
    subject = subject or load_subject(session, location_id, appointment_type_id)
    missing = (
        check_prerequisites(patient, subject[1], override=override) if patient is not None else []
    )
    # A named provider is locked as named and checked against the calendar below (which
    # loads only providers who may do this type here); otherwise lock every eligible one.
    provider_ids = (
        [provider_id]
        if provider_id is not None
        else repository.eligible_provider_ids(
            session, location_id=location_id, appointment_type_id=appointment_type_id
        )
    )
    # The location lock guards its chairs; a type that uses no chair needs only the provider
    # and patient locks, so consultations at one location do not queue behind each other.
    uses_chair = any(phase.uses_chair for phase in phases_of(subject[1]))
    lock_resources(
        session,
        location_ids=[location_id] if uses_chair else [],
        provider_ids=provider_ids,
        patient_ids=[*([patient_id] if patient_id is not None else []), *same_person_ids],
    )

    def ignored(c: CommitmentRow) -> bool:
        return ignore is not None and (c.kind, c.id) == ignore

    ctx = load_context(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id,
        start_at=start_at,
        end_at=start_at + timedelta(minutes=1),
        now=now,
        patient_id=patient_id,
        ignore=ignored if ignore is not None else None,  # no call per commitment for nothing
        notice_from=notice_from,
        subject=subject,
    )
    appointment_type = ctx.appointment_type
    if not appointment_type.active:
        raise Conflict(f"{appointment_type.name} is no longer offered.", code="type_inactive")
    needs_chair = ctx.query.appointment_type.needs_chair
    chair_ids = [c.id for c in ctx.query.chairs]
    if chair_id is not None:
        if not needs_chair:
            raise InvalidInput(f"{appointment_type.name} does not use a chair.", field="chair_id")
        chair = session.get(Chair, chair_id)
        if chair is None or chair.location_id != location_id:
            raise NotFound(f"Chair {chair_id} does not exist at location {location_id}.")
        if chair_id not in chair_ids:
            raise Conflict(f"Chair {chair.name} is out of service.", code="slot_unavailable")
        chair_ids = [chair_id]
    if not ctx.query.providers:
        if provider_id is not None:
            raise InvalidInput(
                f"Provider {provider_id} does not exist, is inactive, or does not do this "
                "appointment type at this location.",
                field="provider_id",
            )
        raise Conflict(
            "No active provider does this appointment type at this location.",
            code="slot_unavailable",
        )

    occ = occupancy(start_at, ctx.query.appointment_type.phases, appointment_type.turnover_minutes)
    if patient_id is not None:
        _check_patient_free(ctx.commitments, patient_id, start_at, occ.end_at)
    if repository.person_busy(
        session, same_person_ids, start_at=start_at, end_at=occ.end_at, now=now
    ):
        raise Conflict(PATIENT_BUSY, code="patient_conflict")

    def blocking(reasons: tuple[Reason, ...]) -> list[Reason]:
        return [r for r in reasons if not (override and r.code in OVERRIDABLE)]

    collected: list[Reason] = []
    chosen_provider: int | None = None
    lifted: set[str] = set()
    # The engine's ranking, the one slot search uses: without a named provider the booking
    # takes the provider the search offered for this start (problem reasons stay in id order).
    # Each provider's reasons are check_candidate's, from the ranking's one evaluation.
    for pid, reasons in ranked_checks(ctx.query, start_at):
        own = [r for r in blocking(reasons) if r.code != "no_chair_free"]
        if not own:
            chosen_provider = pid
            lifted |= {r.code for r in reasons if r.code in OVERRIDABLE}
            break
        collected.extend(own)
    if chosen_provider is None:
        raise _problem(sorted(collected, key=lambda r: r.provider_id or 0), ctx)

    chosen_chair: int | None = None
    if needs_chair:
        for cid in _chair_preference(ctx, start_at, chosen_provider, chair_ids):
            reasons = check_candidate(ctx.query, start_at, cid, chosen_provider)
            if not blocking(reasons):
                chosen_chair = cid
                break
        else:
            raise _problem([Reason("no_chair_free")], ctx)

    return Placement(
        location=ctx.location,
        appointment_type=appointment_type,
        start_at=start_at,
        end_at=occ.end_at,
        chair_id=chosen_chair,
        provider_id=chosen_provider,
        chair_start_at=occ.chair_busy.start_at if occ.chair_busy else None,
        chair_end_at=occ.chair_busy.end_at if occ.chair_busy else None,
        phases=[
            {"minutes": p.minutes, "uses_chair": p.uses_chair, "provider_use": p.provider_use}
            for p in ctx.query.appointment_type.phases
        ],
        turnover_minutes=appointment_type.turnover_minutes,
        overridden=tuple(sorted(lifted)),
        missing=tuple(missing),
    )


def _chair_preference(
    ctx: SearchContext, start_at: datetime, provider_id: int, allowed: list[int]
) -> list[int]:
    """The engine's ranked chairs for this start when it offers it, then the rest in order."""
    from dataclasses import replace

    from scheduler.availability.engine import find_free_slots

    narrow = replace(
        ctx.query,
        providers=tuple(p for p in ctx.query.providers if p.id == provider_id),
        window_start_at=start_at,
        window_end_at=start_at + timedelta(minutes=1),
    )
    ranked: list[int] = []
    for slot in find_free_slots(narrow):
        if slot.start_at == start_at:
            ranked = [c for c in slot.chair_ids if c in allowed]
    return ranked + [c for c in allowed if c not in ranked]


def _check_patient_free(
    commitments: list[CommitmentRow], patient_id: int, start_at: datetime, end_at: datetime
) -> None:
    for c in commitments:
        if c.patient_id != patient_id:
            continue
        other_end = occupancy(c.start_at, c.phases, 0).end_at
        if c.start_at < end_at and start_at < other_end:
            raise Conflict(PATIENT_BUSY, code="patient_conflict")
