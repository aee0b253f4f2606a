"""iCalendar feeds: plain booking data in, ``text/calendar`` bytes out.

Pure: no database, no clock, no FastAPI. Everything in the output comes from the arguments, so
two renders of unchanged data are byte-identical (the feed router can hash them into an ETag).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration, vText

from scheduler.ical.vtimezone import vtimezone_for

__all__ = ["DEFAULT_PRODID", "FeedEvent", "FeedEventStatus", "build_calendar", "vtimezone_for"]

DEFAULT_PRODID = "-//Infusion Scheduler//EN"

FeedEventStatus = Literal["CONFIRMED", "TENTATIVE", "CANCELLED"]
_STATUSES: frozenset[str] = frozenset({"CONFIRMED", "TENTATIVE", "CANCELLED"})

# RFC 5545 3.3.11: TEXT may not hold control characters other than HTAB; a line break is
# written as the escape \n (icalendar does that). A bare CR would end the content line.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One booking as it appears in a feed: already redacted, times as aware UTC instants."""

    uid: str
    sequence: int
    start_at: datetime
    end_at: datetime
    summary: str
    location: str | None
    """Chair or room."""
    status: FeedEventStatus
    last_modified_at: datetime
    description: str | None = None


def build_calendar(
    *,
    name: str,
    tz: ZoneInfo,
    events: Sequence[FeedEvent],
    prodid: str = DEFAULT_PRODID,
    refresh_minutes: int = 15,
    method: str | None = None,
) -> bytes:
    """Render ``events`` as one VCALENDAR in UTF-8 with CRLF line ends, folded at 75 octets.

    Rules:

    - Events are ordered by (start, UID), so the input order never changes the output.
    - DTSTART/DTEND are local wall times with ``TZID=<tz key>`` and the calendar holds exactly
      one VTIMEZONE for it, covering the local years of all events (see ``vtimezone_for``).
      Exception: an instant in the repeated hour of a fall-back day (01:30 on the first Sunday
      of November in New York happens twice) is written in UTC (``...Z``), because a wall time
      there cannot say which of the two it means and parsers disagree on the guess.
      No TZID in use (no events, or only such instants): no VTIMEZONE.
    - DTSTAMP and LAST-MODIFIED are the event's ``last_modified_at``; nothing reads the clock.
    - LOCATION and DESCRIPTION are left out when ``None`` or empty. Text is escaped by
      icalendar; CRLF and CR become LF, other control characters (except tab) are dropped.
    - ``REFRESH-INTERVAL`` (RFC 7986) and ``X-PUBLISHED-TTL`` (Outlook, Google) both say
      ``refresh_minutes``; ``METHOD`` appears only when given (``PUBLISH`` for a patient's
      single-event download).

    Raises ``ValueError`` for a naive datetime, an end not after its start, a negative
    sequence, an unknown status, an empty or repeated UID, a non-positive refresh interval, or a
    ZoneInfo without a key.
    """
    tzid = tz.key
    if tzid is None:
        raise ValueError("the time zone needs an IANA key to be used as TZID")
    if refresh_minutes <= 0:
        raise ValueError(f"refresh_minutes must be positive, got {refresh_minutes}")
    for event in events:
        _check(event)
    ordered = sorted(events, key=lambda event: (event.start_at, event.uid))
    uids = [event.uid for event in ordered]
    if len(set(uids)) != len(uids):
        raise ValueError("each event in a calendar needs its own UID")

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


def _check(event: FeedEvent) -> None:
    for field, value in (
        ("start_at", event.start_at),
        ("end_at", event.end_at),
        ("last_modified_at", event.last_modified_at),
    ):
        if value.utcoffset() is None:
            raise ValueError(f"{field} of event {event.uid!r} must be timezone-aware")
    if event.end_at <= event.start_at:
        raise ValueError(f"event {event.uid!r} must end after it starts")
    if event.sequence < 0:
        raise ValueError(f"sequence of event {event.uid!r} must not be negative")
    if event.status not in _STATUSES:
        raise ValueError(f"status of event {event.uid!r} must be one of {sorted(_STATUSES)}")
    if not event.uid.strip():
        raise ValueError("an event needs a non-empty UID")


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
