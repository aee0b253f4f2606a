"""Series templates: how a course of one appointment type is planned (admins configure them)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.errors import InvalidInput, NotFound
from scheduler.models import AppointmentType, SeriesTemplate
from scheduler.series import repository
from scheduler.series.schemas import SeriesTemplateCreate, SeriesTemplateRead


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
