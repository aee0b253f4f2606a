"""Appointment types: what can be booked and how a visit uses chair and provider.

A type is stored with its phases always spelled out (a type given as a plain duration gets one
phase of that length), ``duration_minutes`` equal to their sum and ``needs_chair`` true when
any phase uses the chair, so every reader sees one shape. ``phases_of`` is the one way other
modules read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from scheduler.appointment_types import repository
from scheduler.appointment_types.schemas import (
    MINUTES_PER_DAY,
    AppointmentTypeCreate,
    AppointmentTypeRead,
    AppointmentTypeUpdate,
    Phase,
)
from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import AppointmentType

# The fields that describe how a visit is laid out; everything else is copied as given.
SHAPE_FIELDS = frozenset({"duration_minutes", "needs_chair", "provider_use", "phases"})


def default_provider_use(uses_chair: bool) -> str:
    """A chair visit is monitored (one unit of capacity); a visit without one (a consultation)
    takes the provider exclusively."""
    return "monitor" if uses_chair else "exclusive"


def _phase(minutes: int, uses_chair: bool, provider_use: str | None) -> dict[str, Any]:
    return {
        "minutes": minutes,
        "uses_chair": uses_chair,
        "provider_use": provider_use or default_provider_use(uses_chair),
    }


def phases_of(appointment_type: AppointmentType) -> list[dict[str, Any]]:
    """The type's phases as ``{"minutes", "uses_chair", "provider_use"}`` dicts, in order.

    Types written through this service always store them; a row written otherwise without
    phases reads as one phase of its whole duration, using the chair when ``needs_chair``.
    Returns fresh dicts: callers may change them freely.
    """
    if not appointment_type.phases:
        return [_phase(appointment_type.duration_minutes, appointment_type.needs_chair, None)]
    out = []
    for phase in appointment_type.phases:
        uses_chair = bool(phase.get("uses_chair", False))
        out.append(_phase(int(phase["minutes"]), uses_chair, phase.get("provider_use")))
    return out


def resolve_phases(
    *,
    duration_minutes: int | None,
    needs_chair: bool | None,
    provider_use: str | None,
    phases: Sequence[Mapping[str, Any]] | None,
) -> list[dict[str, Any]]:
    """The normalized phases from a type's layout fields, or InvalidInput naming the field.

    - Without ``phases``: one phase of ``duration_minutes`` (required), using the chair when
      ``needs_chair``, with ``provider_use`` defaulting by chair (see ``default_provider_use``).
    - With ``phases``: ``duration_minutes`` and ``needs_chair``, when given, must agree with
      them; ``provider_use`` belongs on each phase instead.
    - A visit lasts at most a day and must use a chair or a provider (or it holds nothing).
    """
    if phases is None:
        if duration_minutes is None:
            raise InvalidInput(
                "Give duration_minutes, or the phases of the visit.", field="duration_minutes"
            )
        out = [_phase(duration_minutes, bool(needs_chair), provider_use)]
    else:
        if provider_use is not None:
            raise InvalidInput(
                "provider_use applies to a type without phases; set it on each phase.",
                field="provider_use",
            )
        out = [_phase(p["minutes"], p["uses_chair"], p["provider_use"]) for p in phases]
        total = sum(p["minutes"] for p in out)
        if duration_minutes is not None and duration_minutes != total:
            raise InvalidInput(
                f"duration_minutes ({duration_minutes}) does not match the phases, which add "
                f"up to {total} minutes; change the phases to change the duration.",
                field="duration_minutes",
            )
        uses_chair = any(p["uses_chair"] for p in out)
        if needs_chair is not None and needs_chair != uses_chair:
            raise InvalidInput(
                f"needs_chair ({str(needs_chair).lower()}) does not match the phases, which "
                f"{'use' if uses_chair else 'do not use'} a chair.",
                field="needs_chair",
            )
    if sum(p["minutes"] for p in out) > MINUTES_PER_DAY:
        raise InvalidInput("A visit cannot last more than a day (1440 minutes).", field="phases")
    if not any(p["uses_chair"] or p["provider_use"] != "none" for p in out):
        raise InvalidInput(
            "The visit uses neither a chair nor a provider, so nothing would be reserved.",
            field="phases",
        )
    return out


def _phase_fields(phases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "phases": phases,
        "duration_minutes": sum(p["minutes"] for p in phases),
        "needs_chair": any(p["uses_chair"] for p in phases),
    }


def _check_consistency(values: Mapping[str, Any]) -> None:
    """Rules across fields, checked on the complete (created or merged) type."""
    if values["turnover_minutes"] and not values["needs_chair"]:
        raise InvalidInput(
            "turnover_minutes is a chair cleaning buffer; this type uses no chair, so it "
            "must be 0.",
            field="turnover_minutes",
        )
    if values["min_notice_minutes"] >= values["max_days_ahead"] * MINUTES_PER_DAY:
        raise InvalidInput(
            "min_notice_minutes reaches past max_days_ahead, so no time could ever be booked.",
            field="min_notice_minutes",
        )
    fasting, liquids = values["fasting_hours"], values["clear_liquids_hours"]
    if fasting is not None and liquids is not None and liquids > fasting:
        raise InvalidInput(
            "clear_liquids_hours cannot exceed fasting_hours (clear liquids stop after food).",
            field="clear_liquids_hours",
        )


def get_appointment_type(session: Session, appointment_type_id: int) -> AppointmentType:
    appointment_type = session.get(AppointmentType, appointment_type_id)
    if appointment_type is None:
        raise NotFound(f"Appointment type {appointment_type_id} does not exist.")
    return appointment_type


def to_read(appointment_type: AppointmentType) -> AppointmentTypeRead:
    read = AppointmentTypeRead.model_validate(appointment_type, from_attributes=True)
    read.phases = [Phase.model_validate(p) for p in phases_of(appointment_type)]
    return read


def read_appointment_type(session: Session, appointment_type_id: int) -> AppointmentTypeRead:
    return to_read(get_appointment_type(session, appointment_type_id))


def list_appointment_types(
    session: Session,
    *,
    active: bool | None,
    self_schedulable: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[AppointmentTypeRead], int]:
    rows, total = repository.list_appointment_types(
        session, active=active, self_schedulable=self_schedulable, limit=limit, offset=offset
    )
    return [to_read(r) for r in rows], total


def _code_taken(code: str) -> Conflict:
    return Conflict(
        f"An appointment type with code {code!r} already exists.", code="already_exists"
    )


def create_appointment_type(
    session: Session, data: AppointmentTypeCreate, *, actor: Actor, now: datetime
) -> AppointmentTypeRead:
    if repository.code_taken(session, data.code):
        raise _code_taken(data.code)
    phases = resolve_phases(
        duration_minutes=data.duration_minutes,
        needs_chair=data.needs_chair,
        provider_use=data.provider_use,
        phases=None if data.phases is None else [p.model_dump() for p in data.phases],
    )
    values = data.model_dump(exclude=set(SHAPE_FIELDS)) | _phase_fields(phases)
    _check_consistency(values)
    appointment_type = AppointmentType(**values)
    audited_write(
        session,
        appointment_type,
        actor=actor,
        now=now,
        action="appointment_type.create",
        entity_type="appointment_type",
    )
    return to_read(appointment_type)


def _reshape(appointment_type: AppointmentType, shape: Mapping[str, Any]) -> list[dict[str, Any]]:
    """New phases from the layout fields of a partial update.

    ``phases`` replaces them outright. Otherwise a single-phase type takes the new duration,
    chair and provider use (provider use falls back to the default for the chair when the chair
    changes); a multi-phase type accepts only values that agree with its phases.
    """
    if "phases" in shape:
        return resolve_phases(
            duration_minutes=shape.get("duration_minutes"),
            needs_chair=shape.get("needs_chair"),
            provider_use=shape.get("provider_use"),
            phases=shape["phases"],
        )
    current = phases_of(appointment_type)
    if len(current) == 1:
        only = current[0]
        uses_chair = shape.get("needs_chair", only["uses_chair"])
        kept_use = only["provider_use"] if uses_chair == only["uses_chair"] else None
        return resolve_phases(
            duration_minutes=shape.get("duration_minutes", only["minutes"]),
            needs_chair=uses_chair,
            provider_use=shape.get("provider_use") or kept_use,
            phases=None,
        )
    return resolve_phases(
        duration_minutes=shape.get("duration_minutes"),
        needs_chair=shape.get("needs_chair"),
        provider_use=shape.get("provider_use"),
        phases=current,
    )


def update_appointment_type(
    session: Session,
    appointment_type_id: int,
    data: AppointmentTypeUpdate,
    *,
    actor: Actor,
    now: datetime,
) -> AppointmentTypeRead:
    appointment_type = get_appointment_type(session, appointment_type_id)
    before = snapshot(appointment_type)
    changes = data.model_dump(exclude_unset=True, exclude=set(SHAPE_FIELDS))
    shape = data.model_dump(exclude_unset=True, include=set(SHAPE_FIELDS))
    if "code" in changes and repository.code_taken(
        session, changes["code"], except_id=appointment_type_id
    ):
        raise _code_taken(changes["code"])
    if shape:
        changes |= _phase_fields(_reshape(appointment_type, shape))
    _check_consistency(appointment_type.model_dump() | changes)
    for key, value in changes.items():
        setattr(appointment_type, key, value)
    audited_write(
        session,
        appointment_type,
        actor=actor,
        now=now,
        action="appointment_type.update",
        entity_type="appointment_type",
        before=before,
    )
    return to_read(appointment_type)
