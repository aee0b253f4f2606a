"""Four independent readers of a built calendar: icalendar, vobject, ical.js (Thunderbird) and
libical (Evolution, GNOME Calendar).

Each returns the events as ``ParsedEvent`` with aware UTC instants, so a test can compare what
every parser understood with the source data.

- icalendar resolves ``TZID`` through the IANA database (checks the wall time and TZID);
- vobject reads our VTIMEZONE through dateutil's ``tzical``;
- ical.js reads our VTIMEZONE literally, as Thunderbird does. It runs under node from the npm
  project in ``js/``; a missing node or npm fails the tests rather than skipping them.
- libical reads our VTIMEZONE and also checks the iTIP rules of the calendar's METHOD
  (``icalrestriction_check``): a small C program in ``libical/`` compiled once per test session
  against the system's libical (Debian: ``libical-dev``, which ``make`` installs); a missing
  compiler or libical fails the tests rather than skipping them.
"""

from __future__ import annotations

import json
import re
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
LIBICAL_PROGRAM = Path(__file__).parent / "libical" / "check_ics.c"
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


def _vobject_instant(value: Any) -> datetime:
    # A TZID time must be read through the file's VTIMEZONE (dateutil tzical), not through
    # vobject's fallback to pytz by name, which it takes when the VTIMEZONE reads as UTC in
    # 2000-2020 (its ``tzinfo_eq``): London's did while it started in the year before the events.
    if value.utcoffset() != timedelta(0) or str(value.tzinfo) not in ("UTC", "tzutc()"):
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


_LIBICAL_ESCAPES = re.compile(r"\\(.)")
_LIBICAL_UNESCAPE = {"\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


def _libical_text(field: str) -> str | None:
    text = _LIBICAL_ESCAPES.sub(lambda m: _LIBICAL_UNESCAPE[m.group(1)], field)
    return text or None


@pytest.fixture(scope="session")
def libical_checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled ``libical/check_ics.c``."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    pkg_config = shutil.which("pkg-config")
    if compiler is None or pkg_config is None:
        pytest.fail("a C compiler and pkg-config are required for the libical parser tests")
    flags = subprocess.run(
        [pkg_config, "--cflags", "--libs", "libical"], capture_output=True, text=True, check=False
    )
    if flags.returncode != 0:
        pytest.fail(f"libical is required for the parser tests (make installs it): {flags.stderr}")
    program = tmp_path_factory.mktemp("libical") / "check_ics"
    subprocess.run(
        [compiler, "-O1", "-o", str(program), str(LIBICAL_PROGRAM), *flags.stdout.split()],
        check=True,
        timeout=120,
    )
    return program


def libical_read(program: Path, path: Path) -> tuple[list[str], list[ParsedEvent]]:
    """What libical found wrong with the file (parse errors, iTIP restrictions of its METHOD),
    and its events."""
    result = subprocess.run(
        [str(program), str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"libical could not read the calendar: {result.stderr}"
    errors, parsed = [], []
    for line in result.stdout.splitlines():
        kind, *fields = line.split("\t")
        if kind == "ERROR":
            errors.append(fields[0])
            continue
        uid, start, end, tzid, sequence, status, summary, location, description = fields
        assert tzid != "floating", line  # libical could not resolve the TZID
        parsed.append(
            ParsedEvent(
                uid=_libical_text(uid) or "",
                sequence=int(sequence),
                status=status or None,
                summary=_libical_text(summary),
                location=_libical_text(location),
                description=_libical_text(description),
                start_at=datetime.fromtimestamp(int(start), UTC),
                end_at=datetime.fromtimestamp(int(end), UTC),
            )
        )
    return errors, parsed


@pytest.fixture(scope="session")
def parse_with_libical(libical_checker: Path, tmp_path_factory: pytest.TempPathFactory) -> Parser:
    """libical's reading of a calendar, which must also pass its iTIP restriction check."""
    directory = tmp_path_factory.mktemp("libical-input")
    counter = iter(range(1_000_000))

    def parse(data: bytes) -> list[ParsedEvent]:
        path = directory / f"calendar-{next(counter)}.ics"
        path.write_bytes(data)
        errors, parsed = libical_read(libical_checker, path)
        assert not errors, errors
        return parsed

    return parse


@pytest.fixture(scope="session")
def parsers(parse_with_icaljs: Parser, parse_with_libical: Parser) -> dict[str, Parser]:
    return {
        "icalendar": parse_with_icalendar,
        "vobject": parse_with_vobject,
        "ical.js": parse_with_icaljs,
        "libical": parse_with_libical,
    }
