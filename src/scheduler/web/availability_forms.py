"""The availability editor's forms: read the posted text into the API's schemas, and turn
what they or the services refuse into a message next to the field, in plain words.

Shape is checked by the same pydantic schemas as the API (``AvailabilityRuleCreate``,
``ProviderExceptionCreate``, ``ClosureCreate``); overlap and location by the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from scheduler.availability.engine import local_instant
from scheduler.errors import NotFound, SchedulerError
from scheduler.kit.timeutil import wall_time_text
from scheduler.models import AvailabilityException, AvailabilityRule
from scheduler.providers.availability_service import WEEKDAY_NAMES
from scheduler.providers.schemas import AvailabilityRuleCreate
from scheduler.providers.weekly_hours import RangeChange, WeekPreview
from scheduler.web.templating import FormErrors

MAX_ROWS = 200
RULE_FIELDS = {
    "start_time": "start",
    "end_time": "end",
    "valid_from_date": "from",
    "valid_until_date": "until",
}


@dataclass
class RangeRow:
    """One row of the weekly editor as the form shows it (text, so input is kept)."""

    key: str
    rule_id: int | None
    weekday: int
    start: str = ""
    end: str = ""
    valid_from: str = ""
    valid_until: str = ""
    remove: bool = False


@dataclass
class WeekdayRows:
    weekday: int
    name: str
    rows: list[RangeRow] = field(default_factory=list)


def rows_from_rules(rules: list[AvailabilityRule]) -> list[RangeRow]:
    """The saved ranges, then one empty row per weekday for a new range."""
    rows = [
        RangeRow(
            key=f"r{rule.id}",
            rule_id=rule.id,
            weekday=rule.weekday,
            start=wall_time_text(rule.start_time),
            end=wall_time_text(rule.end_time),
            valid_from=rule.valid_from_date.isoformat() if rule.valid_from_date else "",
            valid_until=rule.valid_until_date.isoformat() if rule.valid_until_date else "",
        )
        for rule in sorted(rules, key=lambda r: (r.weekday, r.start_time, r.id or 0))
    ]
    return rows + [RangeRow(key=f"n{wd}", rule_id=None, weekday=wd) for wd in range(7)]


def by_weekday(rows: list[RangeRow]) -> list[WeekdayRows]:
    days = [WeekdayRows(weekday=wd, name=WEEKDAY_NAMES[wd]) for wd in range(7)]
    for row in rows:
        days[row.weekday].rows.append(row)
    return days


def text_of(form: Mapping[str, Any], name: str, limit: int = 40) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def rows_from_form(form: Any) -> list[RangeRow]:
    """The rows as posted. Keys and weekdays come from hidden fields of our own form; a row
    whose hidden fields are not ours is left out."""
    rows = []
    for key in form.getlist("row")[:MAX_ROWS]:
        if not isinstance(key, str) or key[:1] not in ("r", "n") or not key[1:].isdigit():
            continue
        rule_id = int(key[1:]) if key.startswith("r") else None
        weekday_text = text_of(form, f"{key}-weekday")
        if not weekday_text.isdigit() or int(weekday_text) > 6:
            continue
        rows.append(
            RangeRow(
                key=key,
                rule_id=rule_id,
                weekday=int(weekday_text),
                start=text_of(form, f"{key}-start"),
                end=text_of(form, f"{key}-end"),
                valid_from=text_of(form, f"{key}-from"),
                valid_until=text_of(form, f"{key}-until"),
                remove=form.get(f"{key}-remove") == "1",
            )
        )
    return rows


def _rule_message(name: str, error: Mapping[str, Any]) -> str:
    text = str(error.get("msg", ""))
    if name == "start_time":
        return "Enter the start as a time of day such as 08:00."
    if name == "end_time":
        if "after" in text:
            return "The end must be after the start."
        return "Enter the end as a time of day such as 17:00 (24:00 for the end of the day)."
    if name == "valid_until_date" and "before" in text:
        return "The last day must not be before the first day."
    return "Enter a date such as 2026-12-08, or leave it empty."


def changes_from_rows(
    rows: list[RangeRow], location_id: int, errors: FormErrors
) -> list[RangeChange]:
    """The services' changes for the rows; what the schema refuses goes to ``errors``."""
    changes = []
    for row in rows:
        empty = not row.start and not row.end
        if row.remove or empty:
            if row.rule_id is not None:
                changes.append(RangeChange(row.key, row.rule_id, None))
            continue
        try:
            data = AvailabilityRuleCreate.model_validate(
                {
                    "location_id": location_id,
                    "weekday": row.weekday,
                    "start_time": row.start,
                    "end_time": row.end,
                    "valid_from_date": row.valid_from or None,
                    "valid_until_date": row.valid_until or None,
                }
            )
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                if name in RULE_FIELDS:
                    errors.add(f"{row.key}-{RULE_FIELDS[name]}", _rule_message(name, error))
            continue
        changes.append(RangeChange(row.key, row.rule_id, data))
    return changes


def refused_range(key: str, error: SchedulerError, errors: FormErrors) -> None:
    """A service's refusal of one row, next to the field it concerns."""
    clash = error.extra.get("conflicting_rule") if error.code == "rule_overlap" else None
    if isinstance(clash, dict):
        day = WEEKDAY_NAMES[int(clash["weekday"])]
        span = f"{clash['start_time'][:5]}–{clash['end_time'][:5]}"
        dates = ""
        if clash.get("valid_from_date") or clash.get("valid_until_date"):
            dates = (
                f" (valid {clash.get('valid_from_date') or 'from the start'}"
                f" to {clash.get('valid_until_date') or 'no end'})"
            )
        errors.add(
            f"{key}-start",
            f"These hours overlap {day} {span}{dates}. Ranges of one day may touch "
            "but not overlap.",
        )
        return
    if isinstance(error, NotFound):
        errors.add(
            f"{key}-start",
            "Someone else changed or removed this range meanwhile: reload the page.",
        )
        return
    fields = [e.get("field") for e in error.extra.get("errors", []) if isinstance(e, dict)]
    name = RULE_FIELDS.get(str(fields[0]), "start") if fields else "start"
    errors.add(f"{key}-{name}", error.detail)


def local_datetime(value: str, zone: str) -> datetime | None:
    """``2026-12-08T09:30`` (a ``datetime-local`` field) read in ``zone``; None if it is not
    one. A time skipped by a DST change is read as the engine reads it."""
    day_text, _, time_text = value.strip().partition("T")
    try:
        day = date.fromisoformat(day_text)
        wall = time.fromisoformat(time_text)
    except ValueError:
        return None
    if wall.tzinfo is not None or not 2000 <= day.year <= 2100:
        return None
    return local_instant(day, wall, ZoneInfo(zone))


def local_input(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def dated_values_of(item: AvailabilityException, prefix: str, zone: str) -> dict[str, str]:
    """A saved time off, extra hours (``exc``) or closure (``cl``) as its form shows it."""
    values = {
        f"{prefix}-start": local_input(item.start_at, zone),
        f"{prefix}-end": local_input(item.end_at, zone),
        f"{prefix}-reason": item.reason,
    }
    if prefix == "exc":
        values["exc-kind"] = item.kind
        values["exc-where"] = "all" if item.location_id is None else "here"
    return values


def visit_text(start_at: datetime, end_at: datetime, zone: str) -> str:
    """``Tue 8 Dec 09:00-11:30`` (an en dash) in the visit's location's zone."""
    tz = ZoneInfo(zone)
    start, end = start_at.astimezone(tz), end_at.astimezone(tz)
    if start.date() != end.date():
        return f"{start:%a %-d %b %H:%M}–{end:%a %-d %b %H:%M}"
    return f"{start:%a %-d %b %H:%M}–{end:%H:%M}"


def dated_instants(
    form: Mapping[str, Any], prefix: str, zone: str, errors: FormErrors
) -> tuple[datetime, datetime] | None:
    """The start and end of a dated form (time off, extra hours, a closure), or None with
    the problems in ``errors`` (end after start is checked here with the same words as the
    schema's, so both fields' errors show at once)."""
    start = local_datetime(text_of(form, f"{prefix}-start"), zone)
    end = local_datetime(text_of(form, f"{prefix}-end"), zone)
    if start is None:
        errors.add(f"{prefix}-start", "Enter the start as a date and time.")
    if end is None:
        errors.add(f"{prefix}-end", "Enter the end as a date and time.")
    if start is not None and end is not None and end <= start:
        errors.add(f"{prefix}-end", "The end must be after the start.")
    if start is None or end is None or end <= start:
        return None
    return start, end


def schema_errors(exc: ValidationError, prefix: str, errors: FormErrors) -> None:
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name == "location_id":
            errors.add(f"{prefix}-where", "Extra hours must name the location.")
        elif name in ("start_at", "end_at"):
            errors.add(f"{prefix}-{name[:-3]}", "The end must be after the start.")
        elif name == "reason":
            errors.add(f"{prefix}-reason", "Keep the reason under 500 characters.")
        else:
            errors.add(f"{prefix}-kind", "Choose time off or extra hours.")


def starts_text(starts: list[datetime], step_minutes: int) -> str:
    """Free starts as runs: ``08:00-11:45, 13:00-16:15`` (a run: one start every step)."""
    if not starts:
        return ""
    runs: list[tuple[datetime, datetime]] = []
    for at in starts:
        if runs and (at - runs[-1][1]).total_seconds() <= step_minutes * 60:
            runs[-1] = (runs[-1][0], at)
        else:
            runs.append((at, at))
    return ", ".join(f"{a:%H:%M}" if a == b else f"{a:%H:%M}–{b:%H:%M}" for a, b in runs)


@dataclass(frozen=True)
class PreviewRow:
    label: str
    saved_count: int
    saved_text: str
    proposed_count: int | None
    proposed_text: str
    changed: bool


def preview_rows(preview: WeekPreview, step_minutes: int) -> list[PreviewRow]:
    return [
        PreviewRow(
            label=f"{day.day:%a %-d %b}",
            saved_count=len(day.saved),
            saved_text=starts_text(day.saved, step_minutes),
            proposed_count=None if day.proposed is None else len(day.proposed),
            proposed_text=starts_text(day.proposed or [], step_minutes),
            changed=day.changed,
        )
        for day in preview.days
    ]
