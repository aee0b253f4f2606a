"""How the pages name a clinic's time zone: one wording for every desk and patient page.

PURE: no session, no clock reads. Desk pages say the IANA name with its abbreviation and
offset at the moment shown ("America/Denver (MST, UTC-7)"); patient pages say the everyday
name ("Mountain Time (MST)").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# What patients call their zone; other zones are named by their IANA name.
_EVERYDAY_NAMES = {
    "America/New_York": "Eastern Time",
    "America/Detroit": "Eastern Time",
    "America/Chicago": "Central Time",
    "America/Denver": "Mountain Time",
    "America/Boise": "Mountain Time",
    "America/Phoenix": "Mountain Time (Arizona)",
    "America/Los_Angeles": "Pacific Time",
    "America/Anchorage": "Alaska Time",
    "Pacific/Honolulu": "Hawaii Time",
}


def utc_offset(local: datetime) -> str:
    """ "UTC-7", "UTC+5:30", "UTC+0": the offset of an aware time (a real minus sign)."""
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "\u2212"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def zone_terms(zone: str, at: datetime, until: datetime | None = None) -> str:
    """ "MST, UTC-7" at ``at``; with ``until`` on the other side of a clock change,
    "MST, UTC-7 → MDT, UTC-6"."""
    tz = ZoneInfo(zone)
    first = at.astimezone(tz)
    text = f"{first:%Z}, {utc_offset(first)}"
    if until is not None:
        last = until.astimezone(tz)
        if last.utcoffset() != first.utcoffset():
            text += f" \u2192 {last:%Z}, {utc_offset(last)}"
    return text


def zone_label(zone: str, at: datetime) -> str:
    """ "America/Denver (MST, UTC-7)": the desk pages' name of the zone at ``at``."""
    return f"{zone} ({zone_terms(zone, at)})"


def everyday_zone_name(zone: str, at: datetime | None = None) -> str:
    """ "Mountain Time (MST)": the zone's everyday name and, with ``at``, its abbreviation
    then (MST or MDT), so a time near a clock change is not ambiguous."""
    name = _EVERYDAY_NAMES.get(zone) or f"{zone.replace('_', ' ')} time"
    if at is None:
        return name
    return f"{name} ({at.astimezone(ZoneInfo(zone)):%Z})"
