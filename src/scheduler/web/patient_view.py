"""Presentation helpers of the patient pages: the month grid, the details form."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from scheduler.public.schemas import PatientDetails, PublicAppointmentType
from scheduler.web.templating import FormErrors


def local_day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return datetime.combine(day, time(), tz), datetime.combine(day + timedelta(days=1), time(), tz)


def month_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """The first instant of ``month`` (any day in it) and of the next, in the zone."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    tz = ZoneInfo(zone)
    return datetime.combine(first, time(), tz), datetime.combine(following, time(), tz)


def parse_month(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        return None


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class DayCell:
    day: date
    free: bool
    selected: bool
    today: bool


@dataclass(frozen=True)
class MonthGrid:
    month: date  # the first of the month
    weeks: list[list[DayCell | None]]  # Monday first
    previous: date | None
    following: date | None

    @property
    def title(self) -> str:
        return f"{self.month:%B %Y}"


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def month_grid(
    month: date,
    free_days: set[date],
    *,
    selected: date | None,
    today: date,
    last_month: date,
) -> MonthGrid:
    first = month.replace(day=1)
    weeks: list[list[DayCell | None]] = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                DayCell(d, d in free_days, d == selected, d == today)
                if d.month == first.month
                else None
                for d in week
            ]
        )
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return MonthGrid(
        month=first,
        weeks=weeks,
        previous=previous if previous >= today.replace(day=1) else None,
        following=following if following <= last_month else None,
    )


DETAIL_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone")


@dataclass(frozen=True)
class DetailsForm:
    values: Mapping[str, str]
    driver_confirmed: bool
    fasting_acknowledged: bool

    @property
    def hidden(self) -> list[tuple[str, str]]:
        pairs = [(name, self.values.get(name, "")) for name in DETAIL_FIELDS]
        if self.driver_confirmed:
            pairs.append(("driver_confirmed", "yes"))
        if self.fasting_acknowledged:
            pairs.append(("fasting_acknowledged", "yes"))
        return pairs


def needs_fasting(kind: PublicAppointmentType) -> bool:
    return bool(kind.fasting_hours or kind.clear_liquids_hours)


def check_details(
    form: DetailsForm, kind: PublicAppointmentType, *, today: date
) -> tuple[PatientDetails | None, FormErrors]:
    """The patient's details, or the errors to show next to each field (plain language)."""
    errors = FormErrors()
    v = {name: form.values.get(name, "").strip() for name in DETAIL_FIELDS}
    if not v["first_name"]:
        errors.add("first_name", "Enter your first name.")
    if not v["last_name"]:
        errors.add("last_name", "Enter your last name.")
    born = parse_day(v["date_of_birth"])
    if not v["date_of_birth"]:
        errors.add("date_of_birth", "Enter your date of birth.")
    elif born is None:
        errors.add("date_of_birth", "Enter your date of birth as year-month-day, like 1985-04-23.")
    elif born >= today or born.year < 1900:
        errors.add("date_of_birth", "Enter your real date of birth; it must be in the past.")
    if not v["email"]:
        errors.add("email", "Enter your e-mail address: we send your confirmation there.")
    if len(v["phone"]) < 5:
        errors.add("phone", "Enter a phone number the clinic can reach you on.")
    if kind.driver_required and not form.driver_confirmed:
        errors.add("driver_confirmed", "Confirm that someone will drive you home.")
    if needs_fasting(kind) and not form.fasting_acknowledged:
        errors.add("fasting_acknowledged", "Confirm that you will follow the eating instructions.")
    details = None
    try:
        details = PatientDetails.model_validate(v)
    except ValidationError as exc:
        for problem in exc.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            errors.add(name, _MESSAGES.get(name, "Check this answer."))
    return (None if errors else details), errors


_MESSAGES = {
    "first_name": "Enter your first name (at most 100 characters).",
    "last_name": "Enter your last name (at most 100 characters).",
    "date_of_birth": "Enter your real date of birth; it must be in the past.",
    "email": "Enter an e-mail address like name@example.com.",
    "phone": "Enter a phone number of 5 to 40 characters.",
}
