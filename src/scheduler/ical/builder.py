"""iCalendar feeds: plain booking data in, ``text/calendar`` bytes out.

Pure: no database, no clock, no FastAPI. Everything in the output comes from the arguments, so
two renders of unchanged data are byte-identical (the feed router can hash them into an ETag).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vDuration, vText
from icalendar.caselessdict import canonsort_keys
from icalendar.parser import Contentline

from scheduler.ical.vtimezone import vtimezone_for

__all__ = [
    "DEFAULT_PRODID",
    "FeedEvent",
    "FeedEventStatus",
    "Organizer",
    "build_calendar",
    "vtimezone_for",
]

DEFAULT_PRODID = "-//Infusion Scheduler//EN"

FeedEventStatus = Literal["CONFIRMED", "TENTATIVE", "CANCELLED"]
_STATUSES: frozenset[str] = frozenset({"CONFIRMED", "TENTATIVE", "CANCELLED"})

# RFC 5545 3.3.11: TEXT may not hold control characters other than HTAB; a line break is
# written as the escape \n (icalendar does that). A bare CR would end the content line.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_END_CALENDAR = b"END:VCALENDAR\r\n"
# What icalendar's TEXT escaping (RFC 5545 3.3.11) rewrites: backslash (also in "\N"),
# semicolon, comma and line breaks. A value without them is written as it is.
_TEXT_ESCAPES = re.compile(r"[\\;,\r\n]")
# icalendar folds a content line once it would reach 75 octets (the CRLF not counted).
_FOLD_OCTETS = 75
_DIGITS = len("20260302T090000")  # every date-time's digits, so its line length is fixed
_CLEANED = frozenset({"SUMMARY", "LOCATION", "DESCRIPTION"})  # free text, see _clean_text
# The order icalendar writes VEVENT properties in: its canonical ones, then alphabetical.
_VEVENT_ORDER = tuple(
    canonsort_keys(
        [
            "UID",
            "DTSTAMP",
            "LAST-MODIFIED",
            "SEQUENCE",
            "STATUS",
            "DTSTART",
            "DTEND",
            "SUMMARY",
            "LOCATION",
            "DESCRIPTION",
            "ORGANIZER",
        ],
        Event.canonical_order,
    )
)


@dataclass(frozen=True, slots=True)
class Organizer:
    """Who publishes an event (``ORGANIZER;CN=name:uri``): the clinic, never a person.

    iTIP consumers (libical: Evolution, GNOME Calendar) refuse a ``METHOD:PUBLISH`` event
    without one (RFC 5546 3.2.1 requires exactly one ORGANIZER). ``uri`` is a CAL-ADDRESS:
    ``mailto:`` the clinic's address, or another URI such as the clinic's web address.
    """

    name: str
    uri: str


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
    organizer: Organizer | None = None


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
    - LOCATION, DESCRIPTION and ORGANIZER are left out when ``None`` or empty. Text is escaped by
      icalendar; CRLF and CR become LF, other control characters (except tab) are dropped.
    - ``REFRESH-INTERVAL`` (RFC 7986) and ``X-PUBLISHED-TTL`` (Outlook, Google) both say
      ``refresh_minutes``; ``METHOD`` appears only when given (``PUBLISH`` for a patient's
      single-event download, whose events then need an ORGANIZER: RFC 5546 3.2.1).

    Raises ``ValueError`` for a naive datetime, an end not after its start, a negative
    sequence, an unknown status, an empty or repeated UID, a non-positive refresh interval, a
    ZoneInfo without a key, or ``METHOD:PUBLISH`` with an event that has no organizer.
    """
    tzid = tz.key
    if tzid is None:
        raise ValueError("the time zone needs an IANA key to be used as TZID")
    if refresh_minutes <= 0:
        raise ValueError(f"refresh_minutes must be positive, got {refresh_minutes}")
    for event in events:
        _check(event)
        if method == "PUBLISH" and event.organizer is None:
            raise ValueError(f"event {event.uid!r} needs an organizer for METHOD:PUBLISH")
    ordered = sorted(events, key=lambda event: (event.start_at, event.uid))
    uids = [event.uid for event in ordered]
    if len(set(uids)) != len(uids):
        raise ValueError("each event in a calendar needs its own UID")

    writer = _EventWriter(tz)
    for event in ordered:
        writer.write(event)
    head = _calendar_head(name, tzid, prodid, refresh_minutes, method)
    # VTIMEZONE before the events: RFC 5545 allows either order, but Outlook reads one pass.
    zone = b""
    if writer.first_year is not None and writer.last_year is not None:
        zone = _vtimezone_lines(tz, writer.first_year, writer.last_year)
    if not writer.lines and not zone:
        return head
    events_text = "".join(line + "\r\n" for line in writer.lines)
    return head[: -len(_END_CALENDAR)] + zone + events_text.encode("utf-8") + _END_CALENDAR


@lru_cache(maxsize=256)
def _calendar_head(
    name: str, tzid: str, prodid: str, refresh_minutes: int, method: str | None
) -> bytes:
    """The calendar's own properties and its END line: the same bytes for every calendar of
    one location and kind (a feed, a patient's download), so built once."""
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
    head: bytes = calendar.to_ical()
    if not head.endswith(_END_CALENDAR):
        raise AssertionError("icalendar did not end the calendar with END:VCALENDAR")
    return head


@lru_cache(maxsize=256)
def _vtimezone_lines(tz: ZoneInfo, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE component as icalendar writes it inside the calendar (each line ending
    in CRLF): a zone's rules do not change while the process runs, so built once per span."""
    component: bytes = vtimezone_for(tz, range(first_year, last_year + 1)).to_ical()
    return component


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


class _EventWriter:
    """Writes VEVENTs as content lines, byte for byte as icalendar's ``Event.to_ical`` would.

    icalendar spends ~230 us per event, mostly folding every line character by character.
    Here icalendar still decides every line's text: each distinct value is rendered by its
    property type (escaping, formatting) once and then reused (the last 2,048 are kept for
    the process), and a date-time's line is icalendar's prefix and suffix for its zone,
    offset and abbreviation around its digits. Only folding has a fast path: a line of at
    most 74 octets stays as it is (RFC 5545 3.1); longer ones go through icalendar's
    ``Contentline``. The property order is icalendar's (its canonical order, then
    alphabetical). tests/ical/test_ical_fast_path.py compares the
    bytes with an icalendar-only writer.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.lines: list[str] = []
        self.first_year: int | None = None
        self.last_year: int | None = None
        self._tzid = tz.key

    def write(self, event: FeedEvent) -> None:
        value_line = self._value_line
        stamp = event.last_modified_at.astimezone(UTC)
        stamp_digits = _digits(stamp)
        summary = value_line("SUMMARY", event.summary)
        start = self._wall_time_line("DTSTART", event.start_at)
        end = self._wall_time_line("DTEND", event.end_at)
        dtstamp = self._utc_line("DTSTAMP", stamp, stamp_digits)
        uid = value_line("UID", event.uid)
        sequence = value_line("SEQUENCE", event.sequence)
        description = value_line("DESCRIPTION", event.description) if event.description else None
        modified = self._utc_line("LAST-MODIFIED", stamp, stamp_digits)
        location = value_line("LOCATION", event.location) if event.location else None
        status = value_line("STATUS", event.status)
        organizer = _organizer_line(event.organizer) if event.organizer else None
        by_name = {
            "SUMMARY": summary,
            "DTSTART": start,
            "DTEND": end,
            "DTSTAMP": dtstamp,
            "UID": uid,
            "SEQUENCE": sequence,
            "DESCRIPTION": description,
            "LAST-MODIFIED": modified,
            "LOCATION": location,
            "STATUS": status,
            "ORGANIZER": organizer,
        }
        out = self.lines
        out.append("BEGIN:VEVENT")
        out.extend(line for name in _VEVENT_ORDER if (line := by_name[name]) is not None)
        out.append("END:VEVENT")

    def _wall_time_line(self, name: str, instant: datetime) -> str:
        """The instant as local time in the zone (written with TZID), or in UTC when its wall
        time is ambiguous (the fall-back hour); notes the local years for the VTIMEZONE."""
        local = instant.astimezone(self.tz)
        offset = local.utcoffset()
        if local.replace(fold=1 - local.fold).utcoffset() != offset:
            utc = instant.astimezone(UTC)
            return self._utc_line(name, utc, _digits(utc))
        year = local.year
        if self.first_year is None or year < self.first_year:
            self.first_year = year
        if self.last_year is None or year > self.last_year:
            self.last_year = year
        key = (name, self._tzid, offset, local.tzname())
        return self._instant_line(key, name, local, _digits(local))

    def _utc_line(self, name: str, value: datetime, digits: str) -> str:
        return self._instant_line((name, None, None, None), name, value, digits)

    def _value_line(self, name: str, value: str | int) -> str:
        if name == "UID":  # UIDs never repeat; the other values do, many times
            return _render_value_line(name, value)
        return _value_line(name, value)

    def _instant_line(
        self, key: tuple[str, str | None, object, object], name: str, value: datetime, digits: str
    ) -> str:
        """``value``'s line: icalendar's for the first value of each ``key`` (property, and
        the zone, offset and abbreviation of a local time; ``None`` for UTC), then the same
        prefix and suffix around the digits."""
        try:
            shape = _SHAPES[key]
        except KeyError:
            shape = _SHAPES[key] = _instant_shape(name, value, digits)
        if shape is None:  # not of the form prefix + digits + suffix: let icalendar write it
            return _fold(_icalendar_line(name, value))
        prefix, suffix, short = shape
        line = prefix + digits + suffix
        return line if short else _fold(line)


# What icalendar decides once for all calendars of the process (they are built one event at
# a time for each message's .ics attachment, where a per-calendar memory saved nothing): the
# shape of a date-time line per property, zone, offset and abbreviation; whether a TEXT value
# without escapes is written as it is, per property; the lines of values that recur (a
# location, a summary, an organizer).
_SHAPES: dict[tuple[str, str | None, object, object], tuple[str, str, bool] | None] = {}
_PLAIN: dict[str, bool] = {}


@lru_cache(maxsize=2048)
def _value_line(name: str, value: str | int) -> str:
    return _render_value_line(name, value)


def _render_value_line(name: str, value: str | int) -> str:
    if isinstance(value, int):
        return _fold(_icalendar_line(name, value))
    text = _clean_text(value) if name in _CLEANED else value
    if _TEXT_ESCAPES.search(text) is None and _plain_text_as_is(name, text):
        return _fold(f"{name}:{text}")
    return _fold(_icalendar_line(name, text))


def _plain_text_as_is(name: str, text: str) -> bool:
    """Whether icalendar writes a TEXT value without escapes as ``NAME:value`` (checked on
    the first such value of each property; the others rely on it)."""
    verdict = _PLAIN.get(name)
    if verdict is None:
        verdict = _PLAIN[name] = _icalendar_line(name, text) == f"{name}:{text}"
    return verdict


@lru_cache(maxsize=256)
def _organizer_line(organizer: Organizer) -> str:
    return _fold(_icalendar_line("ORGANIZER", organizer_value(organizer)))


def organizer_value(organizer: Organizer) -> vCalAddress:
    """The ORGANIZER value with its common name (control characters dropped)."""
    address = vCalAddress(organizer.uri)
    name = _clean_text(organizer.name).replace("\n", " ")
    if name:
        address.params["CN"] = name
    return address


def _digits(value: datetime) -> str:
    """The date-time digits icalendar writes (``vDatetime``: seconds, no fraction)."""
    return (
        f"{value.year:04}{value.month:02}{value.day:02}"
        f"T{value.hour:02}{value.minute:02}{value.second:02}"
    )


def _icalendar_line(name: str, value: object) -> str:
    """One property as icalendar writes it inside a VEVENT, before folding."""
    event = Event()
    event.add(name, value)
    return str(event.content_line(name, event[name]))


def _instant_shape(name: str, value: datetime, digits: str) -> tuple[str, str, bool] | None:
    """icalendar's line for ``value`` as (prefix, suffix, needs no folding), or ``None`` when
    it is not the digits between a prefix and a suffix."""
    line = _icalendar_line(name, value)
    for suffix in ("", "Z"):
        if line.endswith(":" + digits + suffix):
            prefix = line[: len(line) - len(digits) - len(suffix)]
            return prefix, suffix, _fold(line) == line and len(digits) == _DIGITS
    return None


def _fold(line: str) -> str:
    """``line`` folded as icalendar folds it: unchanged when it fits in 74 octets."""
    if len(line) < _FOLD_OCTETS and (line.isascii() or len(line.encode("utf-8")) < _FOLD_OCTETS):
        return line
    folded: bytes = cast(Any, Contentline)(line).to_ical()  # icalendar leaves it untyped
    return folded.decode("utf-8")


def _clean_text(text: str) -> str:
    return _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
