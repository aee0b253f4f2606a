"""Request and response shapes for appointment types.

Field ranges are checked here. How fields combine (``duration_minutes`` / ``needs_chair`` /
``provider_use`` / ``phases``, turnover without a chair, notice beyond the horizon, fasting) is
checked by the service, the same way for a create and for the merged result of a partial update.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

ProviderUse = Literal["exclusive", "hands_on", "monitor", "none"]
Prerequisite = Literal["consult_completed", "consent_signed", "rems_enrolled"]
PREREQUISITES: tuple[Prerequisite, ...] = ("consult_completed", "consent_signed", "rems_enrolled")

MINUTES_PER_DAY = 24 * 60
MAX_PHASES = 20

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Phase(BaseModel):
    """One consecutive part of a visit: its minutes, whether it occupies the chair, and how it
    uses the provider (``exclusive``: nothing else at the same time; ``hands_on``: one unit and
    no other hands-on phase; ``monitor``: one unit; ``none``: not at all)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    minutes: int = Field(ge=1, le=MINUTES_PER_DAY)
    uses_chair: bool
    provider_use: ProviderUse


def _step_divides_day(value: int | None) -> int | None:
    if value is not None and MINUTES_PER_DAY % value != 0:
        msg = "slot_step_minutes must divide 1440 (a day), e.g. 5, 10, 15, 20, 30, 60"
        raise ValueError(msg)
    return value


def _canonical_prerequisites(value: list[Prerequisite] | None) -> list[Prerequisite] | None:
    if value is None:
        return None
    return [p for p in PREREQUISITES if p in value]


def _not_null(value: object) -> object:
    if value is None:
        msg = "may be left out, but not null"
        raise ValueError(msg)
    return value


class AppointmentTypeCreate(BaseModel):
    """Give ``duration_minutes`` (with ``needs_chair`` and ``provider_use`` for its single
    phase) or ``phases``; when both are given the durations must agree."""

    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="Unique slug, e.g. 'ketamine-infusion'")
    name: Name
    description: str = Field(default="", max_length=2000)
    duration_minutes: int | None = Field(default=None, ge=1, le=MINUTES_PER_DAY)
    needs_chair: bool | None = Field(default=None, description="Without phases: default false")
    provider_use: ProviderUse | None = Field(
        default=None,
        description="Without phases: how the single phase uses the provider "
        "(default 'monitor' with a chair, else 'exclusive')",
    )
    phases: list[Phase] | None = Field(default=None, min_length=1, max_length=MAX_PHASES)
    turnover_minutes: int = Field(default=0, ge=0, le=120, description="Chair cleaning buffer")
    slot_step_minutes: int = Field(default=15, ge=5, le=120)
    min_notice_minutes: int = Field(default=0, ge=0, le=730 * MINUTES_PER_DAY)
    max_days_ahead: int = Field(default=90, ge=1, le=730)
    patient_cancel_cutoff_minutes: int = Field(default=24 * 60, ge=0, le=30 * MINUTES_PER_DAY)
    patient_reschedule_cutoff_minutes: int = Field(default=48 * 60, ge=0, le=30 * MINUTES_PER_DAY)
    self_schedulable: bool = False
    requires_approval: bool = False
    prerequisites: list[Prerequisite] = Field(default_factory=list)
    fasting_hours: int | None = Field(default=None, ge=0, le=48, description="No food for")
    clear_liquids_hours: int | None = Field(
        default=None, ge=0, le=48, description="No clear liquids for"
    )
    driver_required: bool = False
    patient_instructions: str = Field(default="", max_length=4000)
    active: bool = True

    _step = field_validator("slot_step_minutes")(_step_divides_day)
    _prerequisites = field_validator("prerequisites")(_canonical_prerequisites)


class AppointmentTypeUpdate(BaseModel):
    """Partial update. Sending ``phases`` replaces them; ``duration_minutes``, ``needs_chair`` or
    ``provider_use`` alone reshape a single-phase type (a multi-phase type changes through
    ``phases``)."""

    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    duration_minutes: int | None = Field(default=None, ge=1, le=MINUTES_PER_DAY)
    needs_chair: bool | None = None
    provider_use: ProviderUse | None = None
    phases: list[Phase] | None = Field(default=None, min_length=1, max_length=MAX_PHASES)
    turnover_minutes: int | None = Field(default=None, ge=0, le=120)
    slot_step_minutes: int | None = Field(default=None, ge=5, le=120)
    min_notice_minutes: int | None = Field(default=None, ge=0, le=730 * MINUTES_PER_DAY)
    max_days_ahead: int | None = Field(default=None, ge=1, le=730)
    patient_cancel_cutoff_minutes: int | None = Field(default=None, ge=0, le=30 * MINUTES_PER_DAY)
    patient_reschedule_cutoff_minutes: int | None = Field(
        default=None, ge=0, le=30 * MINUTES_PER_DAY
    )
    self_schedulable: bool | None = None
    requires_approval: bool | None = None
    prerequisites: list[Prerequisite] | None = None
    fasting_hours: int | None = Field(default=None, ge=0, le=48, description="null: none")
    clear_liquids_hours: int | None = Field(default=None, ge=0, le=48, description="null: none")
    driver_required: bool | None = None
    patient_instructions: str | None = Field(default=None, max_length=4000)
    active: bool | None = None

    _step = field_validator("slot_step_minutes")(_step_divides_day)
    _prerequisites = field_validator("prerequisites")(_canonical_prerequisites)
    _no_nulls = field_validator(
        "code",
        "name",
        "description",
        "duration_minutes",
        "needs_chair",
        "provider_use",
        "phases",
        "turnover_minutes",
        "slot_step_minutes",
        "min_notice_minutes",
        "max_days_ahead",
        "patient_cancel_cutoff_minutes",
        "patient_reschedule_cutoff_minutes",
        "self_schedulable",
        "requires_approval",
        "prerequisites",
        "driver_required",
        "patient_instructions",
        "active",
    )(_not_null)


class AppointmentTypeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    description: str
    duration_minutes: int
    phases: list[Phase]
    needs_chair: bool
    turnover_minutes: int
    slot_step_minutes: int
    min_notice_minutes: int
    max_days_ahead: int
    patient_cancel_cutoff_minutes: int
    patient_reschedule_cutoff_minutes: int
    self_schedulable: bool
    requires_approval: bool
    prerequisites: list[Prerequisite]
    fasting_hours: int | None
    clear_liquids_hours: int | None
    driver_required: bool
    patient_instructions: str
    active: bool
