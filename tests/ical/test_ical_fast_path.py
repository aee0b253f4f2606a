"""The builder's own content lines are byte for byte what icalendar writes for the same events.

``reference_build_calendar`` is the icalendar-only writer (one ``Event`` per booking,
``Calendar.to_ical()`` folding every line). Hypothesis feeds both the same events: text with
the characters TEXT escaping rewrites (``, ; \\`` and line breaks, ``\\N``), colons, quotes,
control characters, non-ASCII of every UTF-8 length, values around the 75-octet fold, zones
with and without DST (and UTC-like ones), instants in the repeated fall-back hour, seconds
and microseconds, and many events that share values (the builder reuses lines).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ical.reference_builder import reference_build_calendar

from scheduler.ical.builder import FeedEvent, Organizer, build_calendar

ZONES = (
    "America/New_York",
    "America/Denver",
    "America/Phoenix",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "Asia/Kolkata",
    "UTC",
    "Etc/UTC",
    "Africa/Abidjan",  # UTC+0 all year; icalendar may treat it as UTC
    "America/Argentina/ComodRivadavia",  # a long TZID
)
# ASCII, Latin-1 (2 octets), BMP (3 octets), astral (4 octets), and the escaped characters.
ALPHABET = st.sampled_from(
    [
        *"abcXYZ019 .-_:\"'/^",
        *(",", ";", "\\", "\n", "\r", "\t", "\x00", "\x07", "\x7f"),
        *("é", "ß", "\N{EN DASH}", "€", "中", "😀", "\N{COMBINING ACUTE ACCENT}", "\u2028"),
    ]
)
TEXT = st.one_of(
    st.text(ALPHABET, max_size=90),
    st.text(ALPHABET, min_size=60, max_size=80),  # around the fold
    st.sampled_from(["\\N", "a\\Nb", "x" * 66, "é" * 33, "Chair 3, Main", "Infusion – J.D."]),
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001 - likewise
    timezones=st.just(UTC),
)


@st.composite
def events(draw: st.DrawFn) -> list[FeedEvent]:
    count = draw(st.integers(min_value=0, max_value=12))
    shared = draw(st.lists(TEXT, min_size=1, max_size=3))
    out = []
    for i in range(count):
        start = draw(INSTANTS)
        if draw(st.booleans()):  # the repeated hour of a US fall-back day (or nearby)
            start = datetime(2026, 11, 1, 5, tzinfo=UTC) + timedelta(
                minutes=draw(st.integers(0, 180))
            )
        text = st.one_of(TEXT, st.sampled_from(shared))
        out.append(
            FeedEvent(
                uid=draw(st.one_of(st.just(f"{i:032x}@infusion-scheduler"), TEXT)) + f"-{i}",
                sequence=draw(st.integers(0, 10**6)),
                start_at=start,
                end_at=start + timedelta(seconds=draw(st.integers(1, 3 * 86400))),
                summary=draw(text),
                location=draw(st.one_of(st.none(), text)),
                status=draw(st.sampled_from(["CONFIRMED", "TENTATIVE", "CANCELLED"])),
                last_modified_at=draw(INSTANTS),
                description=draw(st.one_of(st.none(), text)),
                organizer=draw(
                    st.one_of(
                        st.none(),
                        st.builds(Organizer, name=text, uri=st.just("mailto:desk@clinic.test")),
                    )
                ),
            )
        )
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    name=TEXT,
    events=events(),
    method=st.sampled_from([None, "PUBLISH"]),
)
def test_same_bytes_as_icalendar(
    zone: str, name: str, events: list[FeedEvent], method: str | None
) -> None:
    tz = ZoneInfo(zone)
    if method == "PUBLISH":  # every published event names its organizer (RFC 5546)
        clinic = Organizer("Clinic", "mailto:desk@clinic.test")
        events = [replace(e, organizer=e.organizer or clinic) for e in events]
    expected = reference_build_calendar(name=name, tz=tz, events=events, method=method)
    assert build_calendar(name=name, tz=tz, events=events, method=method) == expected


@pytest.mark.parametrize("zone", ZONES)
def test_same_bytes_as_icalendar_for_a_busy_feed(zone: str) -> None:
    """Hundreds of events sharing summaries and chairs (the reused lines), across a year."""
    start = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    feed = [
        FeedEvent(
            uid=f"{i:032x}@infusion-scheduler",
            sequence=i % 4,
            start_at=start + timedelta(hours=7 * i),
            end_at=start + timedelta(hours=7 * i, minutes=100),
            summary=f"Ketamine infusion \N{EN DASH} {'ABC'[i % 3]}.{'XYZ'[i % 2]}.",
            location=f"Chair {i % 10}, Main clinic",
            status=("CONFIRMED", "TENTATIVE", "CANCELLED")[i % 3],
            last_modified_at=start - timedelta(days=3, microseconds=i),
            description=None if i % 5 else "Dr. Rivera, NP",
        )
        for i in range(1200)
    ]
    tz = ZoneInfo(zone)
    expected = reference_build_calendar(name="Nurse \N{EN DASH} schedule", tz=tz, events=feed)
    assert build_calendar(name="Nurse \N{EN DASH} schedule", tz=tz, events=feed) == expected
