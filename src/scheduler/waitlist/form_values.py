"""Reading the waiting-list forms' values (the desk's and the patient's): an id chosen in a
select and a time of day in the clinic's wall clock, or None when it is not one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time


def id_of(text: str | None) -> int | None:
    """``text`` as an id; None when missing or not a (plausible) id."""
    return int(text) if text and text.isdigit() and len(text) < 10 else None


def chosen_id(values: Mapping[str, str], name: str) -> int | None:
    """The id sent under ``name`` (spaces around it ignored)."""
    return id_of(values.get(name, "").strip())


def daily_window(
    values: Mapping[str, str], errors: dict[str, str]
) -> tuple[time | None, time | None]:
    """The form's earliest and latest time of day (empty: the whole day); an unreadable one
    is None with its error in ``errors`` (the order of the two is the caller's to check)."""
    from_time = wall_time(values.get("earliest_time", "") or "00:00")
    until_time = wall_time(values.get("latest_time", "") or "23:59")
    if from_time is None:
        errors["earliest_time"] = "Enter a time like 08:00."
    if until_time is None:
        errors["latest_time"] = "Enter a time like 12:00."
    return from_time, until_time


def wall_time(text: str) -> time | None:
    """``08:00`` as a time of day; None when unreadable or carrying a UTC offset."""
    try:
        parsed = time.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None  # the clinic's wall clock only
