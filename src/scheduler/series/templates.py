"""Series templates: how a course of one appointment type is planned (admins configure them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.errors import InvalidInput, NotFound
from scheduler.models import AppointmentType, SeriesTemplate
from scheduler.series import repository
from scheduler.series.schemas import (
    SeriesTemplateCreate,
    SeriesTemplateRead,
    SeriesTemplateUpdate,
)


def create_template(
    session: Session,
    appointment_type_id: int,
    data: SeriesTemplateCreate,
    *,
    actor: Actor,
    now: datetime,
) -> SeriesTemplateRead:
    """A template on an existing type. The spacing must leave room for one visit: the least
    gap is at least the visit's length with its turnover (else two visits would overlap)."""
    appointment_type = session.get(AppointmentType, appointment_type_id)
    if appointment_type is None:
        raise NotFound(f"Appointment type {appointment_type_id} does not exist.")
    _check_shape(data, appointment_type)
    template = SeriesTemplate(
        appointment_type_id=appointment_type_id,
        **data.model_dump(),
        active=True,
        created_at=now,
        updated_at=now,
    )
    audited_write(
        session,
        template,
        actor=actor,
        now=now,
        action="series_template.create",
        entity_type="series_template",
    )
    return SeriesTemplateRead.model_validate(template)


def _check_shape(data: SeriesTemplateCreate, appointment_type: AppointmentType) -> None:
    busy = appointment_type.duration_minutes + appointment_type.turnover_minutes
    if data.min_gap_hours * 60 < busy:
        raise InvalidInput(
            f"min_gap_hours must leave room for one visit ({busy} minutes with turnover).",
            field="min_gap_hours",
        )
    if data.visit_count > 1 and data.min_gap_hours * (data.visit_count - 1) > (
        data.window_days * 24
    ):
        raise InvalidInput(
            "The visits cannot fit in the window at the least gap.", field="window_days"
        )


def update_template(
    session: Session,
    template_id: int,
    data: SeriesTemplateUpdate,
    *,
    actor: Actor,
    now: datetime,
) -> SeriesTemplateRead:
    """Change the fields given; the result is checked as a new template would be."""
    template = repository.get_template(session, template_id)
    if template is None:
        raise NotFound(f"Series template {template_id} does not exist.")
    before = snapshot(template)
    changes = data.model_dump(exclude_unset=True)
    if any(changes.get(k, 0) is None for k in _REQUIRED):
        raise InvalidInput("Only booster_interval_days may be null.", field="body")
    merged = {
        **SeriesTemplateRead.model_validate(template).model_dump(include=set(_SHAPE)),
        **{k: v for k, v in changes.items() if k in _SHAPE},
    }
    try:
        shape = SeriesTemplateCreate.model_validate(merged)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput(message, field="max_gap_hours") from None
    appointment_type = session.get(AppointmentType, template.appointment_type_id)
    assert appointment_type is not None
    _check_shape(shape, appointment_type)
    for key, value in changes.items():
        setattr(template, key, value)
    template.updated_at = now
    audited_write(
        session,
        template,
        actor=actor,
        now=now,
        action="series_template.update",
        entity_type="series_template",
        before=before,
    )
    return SeriesTemplateRead.model_validate(template)


_SHAPE = frozenset(SeriesTemplateCreate.model_fields)
_REQUIRED = frozenset(
    {
        "name",
        "visit_count",
        "window_days",
        "min_gap_hours",
        "max_gap_hours",
        "max_per_week",
        "prefer_same_time",
        "prefer_same_chair",
        "prefer_same_provider",
        "active",
    }
)


def read_template(session: Session, template_id: int) -> SeriesTemplateRead:
    template = repository.get_template(session, template_id)
    if template is None:
        raise NotFound(f"Series template {template_id} does not exist.")
    return SeriesTemplateRead.model_validate(template)


def list_templates(
    session: Session, *, appointment_type_id: int | None, limit: int, offset: int
) -> tuple[list[SeriesTemplateRead], int]:
    rows, total = repository.list_templates(
        session, appointment_type_id=appointment_type_id, limit=limit, offset=offset
    )
    return [SeriesTemplateRead.model_validate(r) for r in rows], total
