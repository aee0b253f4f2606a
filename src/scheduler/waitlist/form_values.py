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


def wall_time(text: str) -> time | None:
    """``08:00`` as a time of day; None when unreadable or carrying a UTC offset."""
    try:
        parsed = time.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None  # the clinic's wall clock only
