"""The feed's bytes: calendar properties, event properties, text, folding, determinism."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from scheduler.ical.builder import FeedEvent, FeedEventStatus, Organizer, build_calendar

Parser = Callable[[bytes], list[Any]]

NEW_YORK = ZoneInfo("America/New_York")
TRICKY_TEXT = (
    'Infusion \N{EN DASH} J.D., chair 3; room "B" \\ east: ok\nsecond line 😀 café naïve Zürich'
)


def make_event(
    uid: str = "booking-1@infusion-scheduler",
    *,
    start_at: datetime = datetime(2025, 1, 15, 14, 0, tzinfo=UTC),
    minutes: int = 120,
    sequence: int = 0,
    status: FeedEventStatus = "CONFIRMED",
    summary: str = "Infusion \N{EN DASH} J.D.",
    location: str | None = "Chair 3",
    description: str | None = None,
    last_modified_at: datetime = datetime(2024, 12, 20, 9, 30, tzinfo=UTC),
) -> FeedEvent:
    return FeedEvent(
        uid=uid,
        sequence=sequence,
        start_at=start_at,
        end_at=start_at + timedelta(minutes=minutes),
        summary=summary,
        location=location,
        status=status,
        last_modified_at=last_modified_at,
        description=description,
    )


def build(events: list[FeedEvent], **kwargs: object) -> bytes:
    options: dict[str, object] = {"name": "Dr. Rivera \N{EN DASH} infusions", "tz": NEW_YORK}
    options.update(kwargs)
    return build_calendar(events=events, **options)  # type: ignore[arg-type]


def unfolded_lines(data: bytes) -> list[str]:
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")


def test_calendar_properties() -> None:
    data = build([make_event()])
    lines = unfolded_lines(data)

    assert lines[:4] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Infusion Scheduler//EN",
        "CALSCALE:GREGORIAN",
    ]
    assert "NAME:Dr. Rivera \N{EN DASH} infusions" in lines
    assert "X-WR-CALNAME:Dr. Rivera \N{EN DASH} infusions" in lines
    assert "X-WR-TIMEZONE:America/New_York" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in lines
    assert "X-PUBLISHED-TTL:PT15M" in lines
    assert not any(line.startswith("METHOD") for line in lines)


def test_method_and_refresh_when_given() -> None:
    clinic = Organizer("Main Street Clinic", "mailto:desk@clinic.example")
    event = dataclasses.replace(make_event(), organizer=clinic)
    data = build([event], method="PUBLISH", refresh_minutes=60, prodid="-//Clinic//EN")
    lines = unfolded_lines(data)

    assert "METHOD:PUBLISH" in lines
    assert 'ORGANIZER;CN="Main Street Clinic":mailto:desk@clinic.example' in lines
    assert "PRODID:-//Clinic//EN" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert "X-PUBLISHED-TTL:PT1H" in lines
    calendar = Calendar.from_ical(data)
    assert calendar.refresh_interval == timedelta(hours=1)


def test_publish_needs_an_organizer_for_every_event() -> None:
    """RFC 5546 3.2.1: a PUBLISH VEVENT has exactly one ORGANIZER; libical (Evolution, GNOME
    Calendar) refuses the file without it."""
    with pytest.raises(ValueError, match="organizer"):
        build([make_event()], method="PUBLISH")


def test_organizer_name_is_a_quoted_parameter_without_control_characters() -> None:
    clinic = Organizer('Clinic; East, "Main"\r\nSuite 2\x07', "https://clinic.example/")
    lines = unfolded_lines(build([dataclasses.replace(make_event(), organizer=clinic)]))

    (line,) = [line for line in lines if line.startswith("ORGANIZER")]
    assert line.endswith(":https://clinic.example/")
    assert "\x07" not in line
    event = Calendar.from_ical(build([dataclasses.replace(make_event(), organizer=clinic)])).walk(
        "VEVENT"
    )[0]
    assert event["ORGANIZER"].params["CN"] == 'Clinic; East, "Main" Suite 2'  # RFC 6868


def test_calendar_name_is_escaped_text() -> None:
    name = "Chairs, east; west \\ north: 😀"
    data = build([make_event()], name=name)
    lines = unfolded_lines(data)

    # NAME (RFC 7986) and X-WR-CALNAME are TEXT: escaped like SUMMARY.
    assert "NAME:Chairs\\, east\\; west \\\\ north: 😀" in lines
    assert "X-WR-CALNAME:Chairs\\, east\\; west \\\\ north: 😀" in lines
    assert vobject.readOne(data.decode()).x_wr_calname.value == name


def test_event_properties() -> None:
    event = make_event(
        start_at=datetime(2025, 7, 15, 13, 0, tzinfo=UTC),
        sequence=4,
        description="Fasting from 06:00",
        last_modified_at=datetime(2025, 6, 1, 8, 15, 30, tzinfo=UTC),
    )
    lines = unfolded_lines(build([event]))
    vevent = lines[lines.index("BEGIN:VEVENT") : lines.index("END:VEVENT") + 1]

    assert vevent == [
        "BEGIN:VEVENT",
        "SUMMARY:Infusion \N{EN DASH} J.D.",
        "DTSTART;TZID=America/New_York:20250715T090000",
        "DTEND;TZID=America/New_York:20250715T110000",
        "DTSTAMP:20250601T081530Z",
        "UID:booking-1@infusion-scheduler",
        "SEQUENCE:4",
        "DESCRIPTION:Fasting from 06:00",
        "LAST-MODIFIED:20250601T081530Z",
        "LOCATION:Chair 3",
        "STATUS:CONFIRMED",
        "END:VEVENT",
    ]


def test_optional_text_left_out() -> None:
    lines = unfolded_lines(build([make_event(location=None, description=None)]))

    assert not any(line.startswith(("LOCATION", "DESCRIPTION")) for line in lines)


def test_last_modified_in_another_offset_is_written_in_utc() -> None:
    modified = datetime(2025, 6, 1, 10, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    lines = unfolded_lines(build([make_event(last_modified_at=modified)]))

    assert "DTSTAMP:20250601T081500Z" in lines
    assert "LAST-MODIFIED:20250601T081500Z" in lines


@pytest.mark.parametrize("status", ["CONFIRMED", "TENTATIVE", "CANCELLED"])
def test_status_and_sequence_as_given(parsers: dict[str, Parser], status: FeedEventStatus) -> None:
    data = build([make_event(status=status, sequence=7)])

    for parser_name, parse in parsers.items():
        (parsed,) = parse(data)
        assert (parsed.status, parsed.sequence) == (status, 7), parser_name


def test_text_round_trips_through_every_parser(parsers: dict[str, Parser]) -> None:
    description = "\n".join([TRICKY_TEXT, "é" * 50, "😀" * 30, "line, with; all: \\ of them"])
    event = make_event(
        summary=TRICKY_TEXT, location="Room 2; chair 3, east", description=description
    )
    data = build([event])

    for parser_name, parse in parsers.items():
        (parsed,) = parse(data)
        assert parsed.summary == TRICKY_TEXT, parser_name
        assert parsed.location == "Room 2; chair 3, east", parser_name
        assert parsed.description == description, parser_name


def test_control_characters_are_normalised(parsers: dict[str, Parser]) -> None:
    data = build([make_event(summary="a\r\nb\rc\x00d\te")])

    assert b"\x00" not in data
    for parser_name, parse in parsers.items():
        (parsed,) = parse(data)
        assert parsed.summary == "a\nb\ncd\te", parser_name


def test_crlf_line_ends_everywhere() -> None:
    data = build([make_event(description=TRICKY_TEXT * 5)])

    assert data.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")


@pytest.mark.parametrize("prefix", range(4), ids=lambda n: f"prefix_{n}")
def test_folding_keeps_lines_short_and_utf8_whole(prefix: int) -> None:
    # 4-byte emoji and 2-byte accents shifted by 0..3 bytes meet the fold at every alignment.
    text = "x" * prefix + "😀" * 40 + "é" * 80 + "Zürich, café; " * 10
    data = build([make_event(summary=text, description=text, location=text)])

    physical_lines = data.split(b"\r\n")
    assert physical_lines[-1] == b""
    for line in physical_lines[:-1]:
        assert len(line) <= 75, line
        line.decode("utf-8")  # a fold inside a multibyte character would fail here
    assert any(line.startswith(b" ") for line in physical_lines), "expected folded lines"
    assert str(Calendar.from_ical(data).events[0]["SUMMARY"]) == text


def test_two_builds_are_byte_identical() -> None:
    events = [
        make_event(f"b{n}", start_at=datetime(2025, 3, n + 1, 14, tzinfo=UTC)) for n in range(5)
    ]

    assert build(events) == build(list(events))


def test_input_order_does_not_change_output() -> None:
    start = datetime(2025, 3, 9, 14, tzinfo=UTC)
    events = [
        make_event("b", start_at=start),
        make_event("a", start_at=start),  # same start: UID decides
        make_event("c", start_at=start - timedelta(days=1)),
        make_event("d", start_at=start + timedelta(days=200)),
    ]
    outputs = {build(list(order)) for order in itertools.permutations(events)}

    assert len(outputs) == 1
    uids = re.findall(r"^UID:(.*)$", outputs.pop().decode(), flags=re.MULTILINE)
    assert [uid.strip() for uid in uids] == ["c", "a", "b", "d"]


def test_one_vtimezone_whose_tzid_every_time_uses() -> None:
    events = [
        make_event(f"b{year}-{month}", start_at=datetime(year, month, 10, 15, tzinfo=UTC))
        for year in range(2025, 2030)
        for month in (1, 7)
    ]
    data = build(events)
    text = data.decode().replace("\r\n ", "")

    assert text.count("BEGIN:VTIMEZONE") == 1
    assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")
    assert "TZID:America/New_York\r\n" in text
    times = re.findall(r"^(DTSTART|DTEND)(;[^:]*)?:(.*)$", text, flags=re.MULTILINE)
    vevent_times = [t for t in times if t[2].strip().startswith("20") and t[1]]
    assert len(vevent_times) == 2 * len(events)
    assert {params for _name, params, _value in vevent_times} == {";TZID=America/New_York"}


@pytest.mark.parametrize(
    ("years", "has_rrule"),
    [
        pytest.param(range(2025, 2030), True, id="one_rule_per_kind"),
        pytest.param(range(2005, 2010), False, id="us_rule_change_2007"),
        pytest.param(range(2007, 2010), True, id="rules_after_2006_change"),
    ],
)
def test_no_rdate_ever(years: range, has_rrule: bool) -> None:
    events = [
        make_event(f"b{year}", start_at=datetime(year, 6, 10, 15, tzinfo=UTC)) for year in years
    ]
    text = build(events).decode()

    assert "RDATE" not in text
    assert ("RRULE" in text) is has_rrule


def test_fall_back_repeated_hour_is_written_in_utc(parsers: dict[str, Parser]) -> None:
    # 2025-11-02 01:30 happens twice in New York: 05:30Z (EDT) and 06:30Z (EST).
    first = make_event("first", start_at=datetime(2025, 11, 2, 5, 30, tzinfo=UTC), minutes=60)
    second = make_event("second", start_at=datetime(2025, 11, 2, 6, 30, tzinfo=UTC), minutes=60)
    data = build([first, second])
    lines = unfolded_lines(data)

    assert "DTSTART:20251102T053000Z" in lines
    assert "DTSTART:20251102T063000Z" in lines
    assert "DTEND;TZID=America/New_York:20251102T013000" not in lines  # 06:30Z is ambiguous
    assert "DTEND:20251102T063000Z" in lines
    assert "DTEND;TZID=America/New_York:20251102T023000" in lines
    for parser_name, parse in parsers.items():
        got = {p.uid: (p.start_at, p.end_at) for p in parse(data)}
        assert got == {
            "first": (first.start_at, first.end_at),
            "second": (second.start_at, second.end_at),
        }, parser_name


def test_empty_feed_parses_everywhere(parsers: dict[str, Parser]) -> None:
    data = build([])

    assert b"VTIMEZONE" not in data
    assert b"X-WR-TIMEZONE:America/New_York" in data
    for parse in parsers.values():
        assert parse(data) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"start_at": datetime(2025, 1, 1, 9, tzinfo=UTC).replace(tzinfo=None)},
            "timezone-aware",
            id="naive_start",
        ),
        pytest.param(
            {"last_modified_at": datetime(2025, 1, 1, 9, tzinfo=UTC).replace(tzinfo=None)},
            "timezone-aware",
            id="naive_last_modified",
        ),
        pytest.param(
            {"end_at": datetime(2025, 1, 15, 14, 0, tzinfo=UTC)}, "end after", id="zero_length"
        ),
        pytest.param({"sequence": -1}, "negative", id="negative_sequence"),
        pytest.param({"status": "BOOKED"}, "status", id="unknown_status"),
        pytest.param({"uid": " "}, "UID", id="blank_uid"),
    ],
)
def test_invalid_event_is_refused(change: dict[str, object], message: str) -> None:
    event = dataclasses.replace(make_event(), **change)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=message):
        build([event])


def test_repeated_uid_is_refused() -> None:
    with pytest.raises(ValueError, match="own UID"):
        build([make_event("same"), make_event("same", start_at=datetime(2025, 2, 1, tzinfo=UTC))])


def test_non_positive_refresh_is_refused() -> None:
    with pytest.raises(ValueError, match="refresh_minutes"):
        build([make_event()], refresh_minutes=0)
