"""Three independent readers of a built calendar: icalendar, vobject and ical.js (Thunderbird).

Each returns the events as ``ParsedEvent`` with aware UTC instants, so a test can compare what
every parser understood with the source data.

- icalendar resolves ``TZID`` through the IANA database (checks the wall time and TZID);
- vobject reads our VTIMEZONE through dateutil's ``tzical``;
- ical.js reads our VTIMEZONE literally, as Thunderbird does. It runs under node from the npm
  project in ``js/``; a missing node or npm fails the tests rather than skipping them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import vobject
from icalendar import Calendar

JS_DIR = Path(__file__).parent / "js"
ICALJS_SCRIPT = JS_DIR / "parse_ics.mjs"


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    sequence: int | None
    status: str | None
    summary: str | None
    location: str | None
    description: str | None
    start_at: datetime
    end_at: datetime


Parser = Callable[[bytes], list[ParsedEvent]]


def _utc(value: Any) -> datetime:
    assert isinstance(value, datetime), f"expected a date-time, got {value!r}"
    assert value.tzinfo is not None, f"parser returned a floating time {value!r}"
    return value.astimezone(UTC)


def parse_with_icalendar(data: bytes) -> list[ParsedEvent]:
    calendar = Calendar.from_ical(data)
    parsed = []
    for event in calendar.walk("VEVENT"):
        parsed.append(
            ParsedEvent(
                uid=str(event["UID"]),
                sequence=int(str(event["SEQUENCE"])) if "SEQUENCE" in event else None,
                status=str(event["STATUS"]) if "STATUS" in event else None,
                summary=str(event["SUMMARY"]) if "SUMMARY" in event else None,
                location=str(event["LOCATION"]) if "LOCATION" in event else None,
                description=str(event["DESCRIPTION"]) if "DESCRIPTION" in event else None,
                start_at=_utc(event.decoded("DTSTART")),
                end_at=_utc(event.decoded("DTEND")),
            )
        )
    return parsed


# vobject ignores a VTIMEZONE that matches UTC from 2000 to 2020 (its ``tzinfo_eq``), which
# ours for London does (it starts in the year before the events), and then looks the TZID up in
# pytz. Those zones are still checked against our VTIMEZONE through dateutil and ical.js.
_VOBJECT_UTC_LOOKALIKES = frozenset({"Europe/London"})


def _vobject_instant(value: Any) -> datetime:
    # A TZID time must be read through the file's VTIMEZONE (dateutil tzical), not through
    # vobject's fallback to pytz by name.
    if value.utcoffset() != timedelta(0) and str(value.tzinfo) not in _VOBJECT_UTC_LOOKALIKES:
        assert type(value.tzinfo).__name__ == "_tzicalvtz", value.tzinfo
    return _utc(value)


def parse_with_vobject(data: bytes) -> list[ParsedEvent]:
    # vobject keeps every VTIMEZONE it has seen in a process-wide map, and the first one with a
    # TZID wins: forget earlier files so that this one's VTIMEZONE is the one read.
    registry = vars(vobject.icalendar)["__tzidMap"]
    for tzid in [tzid for tzid in registry if tzid != "UTC"]:
        del registry[tzid]
    calendar = vobject.readOne(data.decode("utf-8"))
    parsed = []
    for event in calendar.contents.get("vevent", []):

        def text(name: str, event: Any = event) -> str | None:
            lines = event.contents.get(name)
            return None if lines is None else str(lines[0].value)

        sequence = text("sequence")
        parsed.append(
            ParsedEvent(
                uid=str(event.uid.value),
                sequence=None if sequence is None else int(sequence),
                status=text("status"),
                summary=text("summary"),
                location=text("location"),
                description=text("description"),
                start_at=_vobject_instant(event.dtstart.value),
                end_at=_vobject_instant(event.dtend.value),
            )
        )
    return parsed


@pytest.fixture(scope="session")
def parse_with_icaljs(tmp_path_factory: pytest.TempPathFactory) -> Parser:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required for the ical.js (Thunderbird) parser tests")
    if not (JS_DIR / "node_modules" / "ical.js" / "package.json").is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is required to install ical.js for the parser tests")
        subprocess.run([npm, "ci", "--silent"], cwd=JS_DIR, check=True, timeout=240)
    directory = tmp_path_factory.mktemp("icaljs")
    counter = iter(range(1_000_000))

    def parse(data: bytes) -> list[ParsedEvent]:
        path = directory / f"calendar-{next(counter)}.ics"
        path.write_bytes(data)
        result = subprocess.run(
            [node, str(ICALJS_SCRIPT), str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        parsed = []
        for event in json.loads(result.stdout)["events"]:
            for key in ("start_tzid", "end_tzid"):
                # ical.js falls back to floating time when it cannot resolve a TZID.
                assert event[key] not in (None, "floating"), event
            parsed.append(
                ParsedEvent(
                    uid=event["uid"],
                    sequence=event["sequence"],
                    status=event["status"],
                    summary=event["summary"],
                    location=event["location"],
                    description=event["description"],
                    start_at=datetime.fromisoformat(event["start"]).astimezone(UTC),
                    end_at=datetime.fromisoformat(event["end"]).astimezone(UTC),
                )
            )
        return parsed

    return parse


@pytest.fixture(scope="session")
def parsers(parse_with_icaljs: Parser) -> dict[str, Parser]:
    return {
        "icalendar": parse_with_icalendar,
        "vobject": parse_with_vobject,
        "ical.js": parse_with_icaljs,
    }
