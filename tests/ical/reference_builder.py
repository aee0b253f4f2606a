"""The icalendar-only calendar writer that ``scheduler.ical.builder`` replaced on its hot path.

Kept as the reference the fast path must match byte for byte: every VEVENT is an icalendar
``Event`` and ``Calendar.to_ical()`` writes and folds every line. It validates nothing (the
builder under test does that first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration, vText

from scheduler.ical.builder import DEFAULT_PRODID, FeedEvent, organizer_value
from scheduler.ical.vtimezone import vtimezone_for

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def reference_build_calendar(
    *,
    name: str,
    tz: ZoneInfo,
    events: Sequence[FeedEvent],
    prodid: str = DEFAULT_PRODID,
    refresh_minutes: int = 15,
    method: str | None = None,
) -> bytes:
    tzid = tz.key
    assert tzid is not None
    ordered = sorted(events, key=lambda event: (event.start_at, event.uid))

    calendar = Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", prodid)
    calendar.add("CALSCALE", "GREGORIAN")
    if method is not None:
        calendar.add("METHOD", method)
    # icalendar 7 types NAME and X-WR-* as unknown (unescaped); they are TEXT (RFC 7986).
    calendar.add("NAME", vText(_clean_text(name)))
    calendar.add("X-WR-CALNAME", vText(_clean_text(name)))
    calendar.add("X-WR-TIMEZONE", vText(tzid))
    refresh = timedelta(minutes=refresh_minutes)
    calendar.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))

    vevents = [_vevent(event, tz) for event in ordered]
    local_years = [
        instant.astimezone(tz).year
        for event in ordered
        for instant in (event.start_at, event.end_at)
        if not _is_ambiguous(instant, tz)
    ]
    # VTIMEZONE before the events: RFC 5545 allows either order, but Outlook reads one pass.
    if local_years:
        calendar.add_component(vtimezone_for(tz, range(min(local_years), max(local_years) + 1)))
    for vevent in vevents:
        calendar.add_component(vevent)
    data: bytes = calendar.to_ical()
    return data


def _vevent(event: FeedEvent, tz: ZoneInfo) -> Event:
    vevent = Event()
    vevent.add("UID", event.uid)
    vevent.add("DTSTAMP", event.last_modified_at.astimezone(UTC))
    vevent.add("LAST-MODIFIED", event.last_modified_at.astimezone(UTC))
    vevent.add("SEQUENCE", event.sequence)
    vevent.add("STATUS", event.status)
    vevent.add("DTSTART", _wall_time(event.start_at, tz))
    vevent.add("DTEND", _wall_time(event.end_at, tz))
    vevent.add("SUMMARY", _clean_text(event.summary))
    if event.location:
        vevent.add("LOCATION", _clean_text(event.location))
    if event.description:
        vevent.add("DESCRIPTION", _clean_text(event.description))
    if event.organizer is not None:
        vevent.add("ORGANIZER", organizer_value(event.organizer))
    return vevent


def _wall_time(instant: datetime, tz: ZoneInfo) -> datetime:
    """The instant as local time in ``tz`` (written with TZID), or in UTC when ambiguous."""
    if _is_ambiguous(instant, tz):
        return instant.astimezone(UTC)
    return instant.astimezone(tz)


def _is_ambiguous(instant: datetime, tz: ZoneInfo) -> bool:
    """Whether the local wall time of ``instant`` occurs twice (the fall-back hour)."""
    local = instant.astimezone(tz)
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def _clean_text(text: str) -> str:
    return _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
