"""The settings pages' forms: what an admin typed, turned into the services' schemas, and the
services' errors turned into messages next to the fields they concern.

No rule lives here: a form's values go to the same schema the API reads (``LocationCreate``,
``AppointmentTypeUpdate``, ``UserCreate``...), and the schema's or the service's error is shown
next to its field, with the schema's field names replaced by the form's labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from scheduler.appointment_types.schemas import MAX_PHASES, PREREQUISITES
from scheduler.errors import SchedulerError
from scheduler.web.templating import FormErrors

# How many phase rows the type form offers (it works without JavaScript, so the number is
# fixed; a type with more phases, up to the API's MAX_PHASES, is shown with all of them).
PHASE_ROWS = 6

PROVIDER_USES: tuple[tuple[str, str], ...] = (
    ("monitor", "Monitors (1 unit of capacity)"),
    ("hands_on", "Hands-on (1 unit, one at a time)"),
    ("none", "Not involved (recovery)"),
    ("exclusive", "Full attention (consultation)"),
)

PREREQUISITE_LABELS: dict[str, str] = {
    "consult_completed": "Consultation completed",
    "consent_signed": "Consent signed",
    "rems_enrolled": "REMS enrolled",
}
assert tuple(PREREQUISITE_LABELS) == PREREQUISITES

ROLE_LABELS: dict[str, str] = {
    "admin": "Admin",
    "front_desk": "Front desk",
    "provider": "Provider",
}

# The labels of the forms' fields, used to word the services' messages for a person.
LABELS: dict[str, str] = {
    "name": "Name",
    "code": "Code",
    "timezone": "Time zone",
    "address": "Address",
    "phone": "Phone",
    "description": "Description",
    "duration_minutes": "Duration",
    "needs_chair": "Chair needed",
    "provider_use": "Provider use",
    "phases": "Phases",
    "turnover_minutes": "Chair turnover (minutes)",
    "slot_step_minutes": "Slot step (minutes)",
    "min_notice_minutes": "Minimum notice (minutes)",
    "max_days_ahead": "Bookable up to (days ahead)",
    "patient_cancel_cutoff_minutes": "Patient cancellation cut-off (minutes)",
    "patient_reschedule_cutoff_minutes": "Patient reschedule cut-off (minutes)",
    "fasting_hours": "Fasting (hours without food)",
    "clear_liquids_hours": "Clear liquids (hours without)",
    "patient_instructions": "Instructions for the patient",
    "email": "E-mail address",
    "full_name": "Full name",
    "role": "Role",
    "provider_id": "Provider",
}

_NAMES = re.compile(r"\b(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")\b")


def in_words(message: str) -> str:
    """A schema's or service's message with field names replaced by the form's labels."""
    return _NAMES.sub(lambda m: f"“{LABELS[m.group(1)]}”", message)


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "Enter a whole number."
    if kind == "greater_than_equal":
        return f"Enter {ctx.get('ge')} or more."
    if kind == "less_than_equal":
        return f"Enter {ctx.get('le')} or less."
    if kind == "string_too_short":
        return "Fill this in."
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters."
    if kind == "string_pattern_mismatch":
        return "Use lower-case letters, digits, '-' and '_' only, starting with a letter or digit."
    if kind == "literal_error" or kind == "enum":
        return "Choose one of the options."
    if kind == "value_error" and "email" in str(error.get("msg", "")).lower():
        return "Enter an e-mail address like name@example.org."
    message = str(error.get("msg", "This value is not valid."))
    return in_words(message.removeprefix("Value error, ")).rstrip(".") + "."


def validation_errors(
    exc: ValidationError, *, keys: Mapping[tuple[Any, ...], str] | None = None
) -> FormErrors:
    """Each of a schema's errors next to its field: a location ``(field,)`` is shown at
    ``field``; ``keys`` maps longer locations (a phase's minutes) to their form field."""
    errors = FormErrors()
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        name = (keys or {}).get(loc) or (str(loc[0]) if loc else "")
        errors.add(name, _labelled(name, _message(error)))
    return errors


_PHASE_FIELD = re.compile(r"phase-(\d+)-(minutes|provider_use|uses_chair)")
_PHASE_PARTS = {"minutes": "minutes", "provider_use": "provider", "uses_chair": "chair"}


def _labelled(name: str, message: str) -> str:
    """The message saying which field it is about, so the error summary at the top of a long
    form reads on its own ("Slot step (minutes): enter 5 or more.")."""
    phase = _PHASE_FIELD.fullmatch(name)
    if phase:
        label = f"Phase {int(phase.group(1)) + 1} {_PHASE_PARTS[phase.group(2)]}"
    elif name in LABELS:
        label = LABELS[name]
    else:
        return message
    return f"{label}: {message[:1].lower()}{message[1:]}"


def service_errors(exc: SchedulerError, *, default_field: str = "") -> FormErrors:
    """A service's error next to the field it names (``InvalidInput(field=...)``), else at
    ``default_field`` (the name of a duplicate, the form as a whole...)."""
    errors = FormErrors()
    named = [e.get("field") for e in exc.extra.get("errors", []) if isinstance(e, dict)]
    where = next((str(n) for n in named if n), default_field)
    errors.add(where, in_words(exc.detail))
    return errors


def text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def checked(form: FormData, name: str) -> bool:
    return form.get(name) is not None


def optional_number(form: FormData, name: str) -> str | None:
    """A number field that may be left blank (blank = none)."""
    value = text(form, name)
    return value or None


# --- Appointment types --------------------------------------------------------------------


@dataclass
class PhaseRow:
    minutes: str = ""
    uses_chair: bool = False
    provider_use: str = "monitor"


@dataclass
class TypeForm:
    """The type form as typed (strings kept as typed, to show them again)."""

    values: dict[str, Any] = field(default_factory=dict)
    phases: list[PhaseRow] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)

    def rows(self) -> list[PhaseRow]:
        """The phases, then blank rows: up to PHASE_ROWS, and one more for a longer type."""
        count = max(PHASE_ROWS, min(len(self.phases) + 1, MAX_PHASES))
        return self.phases + [PhaseRow() for _ in range(count - len(self.phases))]


TYPE_TEXT_FIELDS = ("code", "name", "description", "patient_instructions")
TYPE_NUMBER_FIELDS = (
    "turnover_minutes",
    "slot_step_minutes",
    "min_notice_minutes",
    "max_days_ahead",
    "patient_cancel_cutoff_minutes",
    "patient_reschedule_cutoff_minutes",
)
TYPE_OPTIONAL_NUMBER_FIELDS = ("fasting_hours", "clear_liquids_hours")
TYPE_FLAGS = ("self_schedulable", "requires_approval", "driver_required", "active")


def type_form_from(values: Mapping[str, Any]) -> TypeForm:
    """The form showing a stored type (``AppointmentTypeRead.model_dump()``) or defaults."""
    shown = {k: values.get(k) for k in TYPE_TEXT_FIELDS + TYPE_FLAGS}
    for name in TYPE_NUMBER_FIELDS + TYPE_OPTIONAL_NUMBER_FIELDS:
        number = values.get(name)
        shown[name] = "" if number is None else str(number)
    phases = [
        PhaseRow(str(p["minutes"]), bool(p["uses_chair"]), str(p["provider_use"]))
        for p in values.get("phases") or []
    ]
    return TypeForm(
        values=shown, phases=phases, prerequisites=list(values.get("prerequisites", []))
    )


def read_type_form(form: FormData) -> tuple[TypeForm, dict[str, Any], dict[tuple[Any, ...], str]]:
    """The typed form, the payload for ``AppointmentTypeCreate``/``Update``, and where each
    phase's errors go (a blank row is skipped, so the n-th phase may be a later row)."""
    typed = TypeForm()
    payload: dict[str, Any] = {}
    for name in TYPE_TEXT_FIELDS:
        typed.values[name] = payload[name] = text(form, name)
    for name in TYPE_NUMBER_FIELDS:
        typed.values[name] = payload[name] = text(form, name)
    for name in TYPE_OPTIONAL_NUMBER_FIELDS:
        typed.values[name] = text(form, name)
        payload[name] = optional_number(form, name)
    for name in TYPE_FLAGS:
        typed.values[name] = payload[name] = checked(form, name)
    typed.prerequisites = [p for p in PREREQUISITES if checked(form, f"prerequisite-{p}")]
    payload["prerequisites"] = typed.prerequisites
    keys: dict[tuple[Any, ...], str] = {}
    phases: list[dict[str, Any]] = []
    for row in range(MAX_PHASES):  # every row the page showed (more than six for a long type)
        minutes = text(form, f"phase-{row}-minutes")
        use = text(form, f"phase-{row}-provider_use") or "monitor"
        uses_chair = checked(form, f"phase-{row}-uses_chair")
        typed.phases.append(PhaseRow(minutes, uses_chair, use))
        if not minutes:
            continue
        index = len(phases)
        for part in ("minutes", "uses_chair", "provider_use"):
            keys[("phases", index, part)] = f"phase-{row}-{part}"
        keys[("phases", index)] = f"phase-{row}-minutes"
        phases.append({"minutes": minutes, "uses_chair": uses_chair, "provider_use": use})
    while typed.phases and not typed.phases[-1].minutes:
        typed.phases.pop()
    payload["phases"] = phases or None
    keys[("phases",)] = "phases"
    return typed, payload, keys
