"""Every parser must read the instants we wrote, across DST changes and across years.

The source data are UTC instants; the feed writes local wall times with a TZID and our own
VTIMEZONE. icalendar (IANA database), vobject (dateutil reading our VTIMEZONE) and ical.js
(Thunderbird, reading our VTIMEZONE literally) must all land on the same instants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from scheduler.ical.builder import FeedEvent, Organizer, build_calendar, vtimezone_for

Parser = Callable[[bytes], list[Any]]

FEED_ZONES = [
    "America/New_York",
    "America/Denver",
    "Australia/Sydney",
    "Europe/London",
    "America/Phoenix",
    "Asia/Kolkata",
]
WINDOW = range(2025, 2030)
LAST_MODIFIED_AT = datetime(2024, 12, 1, 12, 0, tzinfo=UTC)


def feed_event(uid: str, start_at: datetime, minutes: int = 120) -> FeedEvent:
    return FeedEvent(
        uid=uid,
        sequence=0,
        start_at=start_at,
        end_at=start_at + timedelta(minutes=minutes),
        summary="Infusion",
        location="Chair 1",
        status="CONFIRMED",
        last_modified_at=LAST_MODIFIED_AT,
    )


def offset_change_days(tz: ZoneInfo, years: range) -> Iterator[date]:
    """Local dates whose UTC offset at midnight differs from the next midnight's."""
    day = date(years[0], 1, 1)
    while day.year <= years[-1]:
        midnight = datetime.combine(day, time(0), tzinfo=tz)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        if midnight.utcoffset() != next_midnight.utcoffset():
            yield day
        day += timedelta(days=1)


def change_day_instants(tz: ZoneInfo, day: date) -> set[datetime]:
    """Instants around the change hour: 00:30..04:30 local, both folds (gap and repeat)."""
    instants = set()
    for hour in range(5):
        for fold in (0, 1):
            local = datetime.combine(day, time(hour, 30), tzinfo=tz).replace(fold=fold)
            instants.add(local.astimezone(UTC))
            # Also a minute either side of the hour the change happens in.
            instants.add(local.replace(minute=59).astimezone(UTC))
            instants.add(local.replace(minute=1).astimezone(UTC))
    return instants


def zone_events(tz: ZoneInfo, years: range) -> list[FeedEvent]:
    """A January and a July booking every year, plus bookings around every offset change."""
    events = []
    for year in years:
        for month in (1, 7):
            local = datetime(year, month, 15, 10, 0, tzinfo=tz)
            events.append(feed_event(f"{year}-{month:02d}-15@test", local.astimezone(UTC)))
        # First and last hour of the year: the VTIMEZONE must cover the whole range.
        events.append(
            feed_event(f"{year}-first@test", datetime(year, 1, 1, 0, 30, tzinfo=tz).astimezone(UTC))
        )
        events.append(
            feed_event(
                f"{year}-last@test",
                datetime(year, 12, 31, 22, 0, tzinfo=tz).astimezone(UTC),
                minutes=60,
            )
        )
    for day in offset_change_days(tz, years):
        for instant in sorted(change_day_instants(tz, day)):
            uid = f"{instant:%Y%m%dT%H%M%SZ}@test"
            events.append(feed_event(uid, instant, minutes=90))
    return events


def assert_every_parser_reads_the_source(
    parsers: dict[str, Parser], events: list[FeedEvent], data: bytes
) -> None:
    expected = {event.uid: (event.start_at, event.end_at) for event in events}
    for parser_name, parse in parsers.items():
        got = {parsed.uid: (parsed.start_at, parsed.end_at) for parsed in parse(data)}
        wrong = {
            uid: (f"source {expected[uid][0]:%F %T%z}", f"{parser_name} {got.get(uid)}")
            for uid in expected
            if got.get(uid) != expected[uid]
        }
        assert not wrong, wrong
        assert got.keys() == expected.keys(), parser_name


@pytest.mark.parametrize("zone", FEED_ZONES)
def test_instants_survive_every_parser(parsers: dict[str, Parser], zone: str) -> None:
    tz = ZoneInfo(zone)
    events = zone_events(tz, WINDOW)
    data = build_calendar(name=zone, tz=tz, events=events)

    dst_days = list(offset_change_days(tz, WINDOW))
    assert len(dst_days) == (0 if zone in ("America/Phoenix", "Asia/Kolkata") else 10)
    assert_every_parser_reads_the_source(parsers, events, data)


@pytest.mark.parametrize(
    ("zone", "years"),
    [
        pytest.param("America/New_York", range(2005, 2009), id="us_rule_change_2007"),
        pytest.param("America/Mexico_City", range(2021, 2024), id="mexico_abolished_dst_2022"),
        pytest.param("Europe/Moscow", range(2010, 2015), id="moscow_2011_2014_offset_changes"),
        pytest.param("Africa/Casablanca", range(2024, 2026), id="morocco_ramadan_changes"),
        pytest.param("Australia/Lord_Howe", range(2025, 2027), id="half_hour_dst"),
        pytest.param("America/Santiago", range(2022, 2026), id="chile_moving_rules"),
        pytest.param("Pacific/Auckland", range(2025, 2027), id="southern_new_zealand"),
    ],
)
def test_irregular_zones_survive_every_parser(
    parsers: dict[str, Parser], zone: str, years: range
) -> None:
    tz = ZoneInfo(zone)
    events = zone_events(tz, years)
    data = build_calendar(name=zone, tz=tz, events=events)

    assert b"RDATE" not in data
    assert_every_parser_reads_the_source(parsers, events, data)


def test_single_event_in_january_of_southern_summer(parsers: dict[str, Parser]) -> None:
    # Sydney is on daylight time in January: the VTIMEZONE must begin with the October change
    # of the year before, or parsers read January with the wrong (or no) offset.
    tz = ZoneInfo("Australia/Sydney")
    events = [
        replace(
            feed_event("jan@test", datetime(2026, 1, 5, 9, 0, tzinfo=tz).astimezone(UTC)),
            organizer=Organizer("Clinic", "mailto:desk@clinic.example"),
        )
    ]
    data = build_calendar(name="Sydney", tz=tz, events=events, method="PUBLISH")

    assert b"DTSTART;TZID=Australia/Sydney:20260105T090000" in data
    assert_every_parser_reads_the_source(parsers, events, data)


def vtimezone_text(zone: str, years: range) -> str:
    data: bytes = vtimezone_for(ZoneInfo(zone), years).to_ical()
    return data.decode()


def test_vtimezone_new_york_one_rule_per_kind() -> None:
    assert vtimezone_text("America/New_York", WINDOW).split("\r\n") == [
        "BEGIN:VTIMEZONE",
        "TZID:America/New_York",
        "BEGIN:DAYLIGHT",
        "DTSTART:20070311T020000",  # the rules hold since 2007: they start there
        "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
        "TZNAME:EDT",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0400",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "DTSTART:20071104T020000",
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
        "TZNAME:EST",
        "TZOFFSETFROM:-0400",
        "TZOFFSETTO:-0500",
        "END:STANDARD",
        "END:VTIMEZONE",
        "",
    ]


def test_vtimezone_sydney_southern_hemisphere() -> None:
    assert vtimezone_text("Australia/Sydney", WINDOW).split("\r\n") == [
        "BEGIN:VTIMEZONE",
        "TZID:Australia/Sydney",
        "BEGIN:STANDARD",
        "DTSTART:20080406T030000",  # the rules hold since 2008
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4",
        "TZNAME:AEST",
        "TZOFFSETFROM:+1100",
        "TZOFFSETTO:+1000",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:20081005T020000",
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=10",
        "TZNAME:AEDT",
        "TZOFFSETFROM:+1000",
        "TZOFFSETTO:+1100",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
        "",
    ]


def test_vtimezone_london_last_sunday() -> None:
    text = vtimezone_text("Europe/London", WINDOW)

    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n" in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n" in text


def test_vtimezone_last_sunday_preferred_when_one_year_is_ambiguous() -> None:
    # 2025-10-26 is both the 4th and the last Sunday; London's rule is the last one.
    text = vtimezone_text("Europe/London", range(2025, 2026))

    assert "BYDAY=-1SU;BYMONTH=10" in text


@pytest.mark.parametrize(
    ("zone", "offset", "name"),
    [("America/Phoenix", "-0700", "MST"), ("Asia/Kolkata", "+0530", "IST")],
)
def test_vtimezone_without_dst_is_one_standard(zone: str, offset: str, name: str) -> None:
    assert vtimezone_text(zone, WINDOW).split("\r\n") == [
        "BEGIN:VTIMEZONE",
        f"TZID:{zone}",
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        f"TZNAME:{name}",
        f"TZOFFSETFROM:{offset}",
        f"TZOFFSETTO:{offset}",
        "END:STANDARD",
        "END:VTIMEZONE",
        "",
    ]


def test_vtimezone_rule_change_falls_back_to_one_component_per_change() -> None:
    # US DST moved in 2007 (first Sunday of April / last of October -> March / November).
    timezone = vtimezone_for(ZoneInfo("America/New_York"), range(2005, 2009))
    starts = [f"{sub.decoded('DTSTART'):%Y%m%dT%H%M%S}" for sub in timezone.subcomponents]

    assert starts == [
        "20041031T020000",
        "20050403T020000",
        "20051030T020000",
        "20060402T020000",
        "20061029T020000",
        "20070311T020000",
        "20071104T020000",
        "20080309T020000",
        "20081102T020000",
    ]
    assert all("RRULE" not in sub and "RDATE" not in sub for sub in timezone.subcomponents)


def test_vtimezone_rules_after_a_change_keep_the_prior_change_apart() -> None:
    text = vtimezone_text("America/New_York", range(2007, 2009))

    assert text.count("RRULE") == 2
    assert "DTSTART:20061029T020000\r\nTZNAME:EST" in text  # last old-rule change, no RRULE


@pytest.mark.parametrize(
    "zone",
    [
        "America/New_York",
        "Australia/Sydney",
        "Europe/London",
        "America/Santiago",
        "Africa/Casablanca",
        "Australia/Lord_Howe",
    ],
)
def test_vtimezone_matches_zoneinfo_through_dateutil(zone: str) -> None:
    # icalendar's own reading of the VTIMEZONE (dateutil tzical), not its TZID lookup.
    tz = ZoneInfo(zone)
    calendar = Calendar()
    calendar.add_component(vtimezone_for(tz, range(2024, 2027)))
    derived = calendar.timezones[0].to_tz(lookup_tzid=False)

    instant = datetime(2024, 1, 1, tzinfo=UTC)
    while instant.year < 2027:
        local = instant.astimezone(tz)
        ambiguous = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
        if not ambiguous:
            wall = local.replace(tzinfo=derived)
            assert wall.utcoffset() == local.utcoffset(), (zone, local)
        instant += timedelta(hours=5)


@pytest.mark.parametrize(
    ("zone", "since"),
    [
        ("Europe/London", 1996),
        ("America/New_York", 2007),
        ("America/Denver", 2007),
        ("Australia/Sydney", 2008),
        ("Australia/Lord_Howe", 2008),
    ],
)
def test_vtimezone_rules_start_where_they_began_and_read_right_since(zone: str, since: int) -> None:
    """vobject (dateutil) takes the first STANDARD for anything before the first observance,
    and probes 2000-2020 to tell a VTIMEZONE from UTC: every year the rules describe must read
    as the zone does, from the year they began."""
    tz = ZoneInfo(zone)
    timezone = vtimezone_for(tz, WINDOW)
    starts = sorted(sub.decoded("DTSTART") for sub in timezone.subcomponents)
    assert starts[0].year == since
    calendar = Calendar()
    calendar.add_component(timezone)
    derived = calendar.timezones[0].to_tz(lookup_tzid=False)
    instant = datetime(since, 6, 1, tzinfo=UTC)
    while instant.year <= WINDOW[-1]:
        local = instant.astimezone(tz)
        assert local.replace(tzinfo=derived).utcoffset() == local.utcoffset(), (zone, local)
        instant += timedelta(days=7, hours=5)


def test_vobject_reads_london_through_the_feeds_vtimezone() -> None:
    """vobject ignored London's VTIMEZONE while it started in 2024 (it read as UTC in
    2000-2020) and fell back to its own zone lookup by name."""
    tz = ZoneInfo("Europe/London")
    summer = datetime(2027, 7, 15, 9, 0, tzinfo=UTC)
    data = build_calendar(name="London", tz=tz, events=[feed_event("summer@test", summer)])
    registry = vars(vobject.icalendar)["__tzidMap"]
    for tzid in [tzid for tzid in registry if tzid != "UTC"]:
        del registry[tzid]
    start = vobject.readOne(data.decode()).vevent.dtstart.value
    assert type(start.tzinfo).__name__ == "_tzicalvtz"
    assert start.astimezone(UTC) == summer


def test_vtimezone_refuses_bad_ranges() -> None:
    tz = ZoneInfo("America/New_York")
    for years in (range(2025, 2025), range(2025, 2030, 2), range(1, 3), range(9998, 10000)):
        with pytest.raises(ValueError, match="years"):
            vtimezone_for(tz, years)
