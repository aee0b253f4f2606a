"""VTIMEZONE components derived from zoneinfo, in the form that strict parsers read right.

Thunderbird's parser (ical.js) takes a VTIMEZONE literally and reads only the first value of an
``RDATE`` line, and it treats any wall time before the earliest observance as UTC. So the
components built here:

- never carry ``RDATE`` (each observance is either a yearly ``RRULE`` or a single ``DTSTART``);
- always start before the first instant of the requested years, so nothing falls before the
  earliest observance.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TypeAlias
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

__all__ = ["Transition", "vtimezone_for", "zone_transitions"]

# Offsets are sampled at this step and each change is bisected to the second. Real zones never
# change twice within 12 hours, and a pair of changes that cancel out inside one step would not
# matter to a calendar anyway.
_SCAN_STEP_SECONDS = 12 * 3600
# Years before the requested ones are only probed for how far back their yearly rules go
# (``_earliest_rules``): a week's step finds each of a year's changes (bisected to the second
# as above) at a fourteenth of the cost. A pair of changes undone within a week before the
# range could go unseen there; it would change only which past year the rules are said to
# start in, never an instant of the requested years, which are scanned at the fine step.
_PROBE_STEP_SECONDS = 7 * 24 * 3600
# Wall time of the single observance of a zone whose offset does not change in the range: the
# de facto convention (Google, Apple, Outlook all emit it). Naive on purpose: VTIMEZONE DTSTART
# is a local wall time by definition (RFC 5545 3.8.2.4).
_EPOCH_WALL = datetime(1970, 1, 1, tzinfo=UTC).replace(tzinfo=None)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

_State: TypeAlias = tuple[timedelta, timedelta, str]


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a zone's UTC offset, DST flag or abbreviation."""

    at: datetime
    """First UTC instant of the new observance."""
    offset_from: timedelta
    offset_to: timedelta
    name: str
    """Abbreviation (TZNAME) of the new observance."""
    is_dst: bool
    """Whether the new observance is daylight saving time."""

    @property
    def wall_before(self) -> datetime:
        """The naive local wall time at which the change happens, read with the old offset.

        This is the value of the observance's DTSTART (RFC 5545 3.8.2.4).
        """
        return (self.at + self.offset_from).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class _YearlyRule:
    """An observance that recurs yearly, first at ``first``."""

    first: Transition
    by_month: int
    by_day: str | None
    by_month_day: int | None


def vtimezone_for(tz: ZoneInfo, years: range) -> Timezone:
    """Describe ``tz`` for every instant of the local calendar ``years``.

    The components start before the range (so the earliest observance precedes every instant
    in it) and cover every change inside it. The shape:

    - no change inside the range (America/Phoenix, Asia/Kolkata): a single STANDARD with
      ``DTSTART:19700101T000000`` and equal TZOFFSETFROM/TZOFFSETTO;
    - changes that follow one yearly rule per kind (New York: second Sunday of March and first
      Sunday of November; Sydney: first Sunday of October and first Sunday of April; London:
      last Sundays of March and October): one STANDARD and one DAYLIGHT, each with
      ``RRULE:FREQ=YEARLY;BYMONTH=m;BYDAY=nSU`` (or ``-1SU``, or ``BYMONTHDAY=d``) and DTSTART
      at its first change in the first year since which the rules have held (not before 1970:
      London 1996, New York 2007), so that readers which probe years before the range, or
      guess before the first observance, read those years right too. If only the change before
      the range breaks the rule, that change is kept as a component of its own with a single
      DTSTART in front of the rules, which then start in the range;
    - anything else (a rule changed, DST abolished or introduced inside the range): one
      component per change, each with a single DTSTART and no RRULE or RDATE.

    A rule that fits the requested years may not fit later ones: the RRULE promises nothing
    past ``years``. An ambiguous rule (one year's 26 October is both ``4SU`` and ``-1SU``)
    prefers the last weekday, then the n-th, then the day of the month.

    Raises ``ValueError`` for an empty range, a step other than 1, years outside 2..9998, or a
    ZoneInfo without a key.
    """
    if tz.key is None:
        raise ValueError("the time zone needs an IANA key to be used as TZID")
    if len(years) == 0 or years.step != 1:
        raise ValueError(f"years must be a non-empty range with step 1, got {years!r}")
    first_year, last_year = years[0], years[-1]
    if first_year < 2 or last_year > 9998:
        raise ValueError(f"years must lie within 2..9998, got {years!r}")

    vtimezone = Timezone()
    vtimezone.add("TZID", tz.key)
    for component in _observances(tz, first_year, last_year):
        vtimezone.add_component(component)
    return vtimezone


def zone_transitions(tz: ZoneInfo, first_year: int, last_year: int) -> tuple[Transition, ...]:
    """Every change of ``tz`` whose local wall time falls in ``first_year..last_year``."""
    return tuple(
        t
        for t in _scan(tz, first_year, last_year, _SCAN_STEP_SECONDS)
        if first_year <= t.wall_before.year <= last_year
    )


def _year_transitions(tz: ZoneInfo, year: int, step: int) -> tuple[Transition, ...]:
    return tuple(t for t in _scan(tz, year, year, step) if t.wall_before.year == year)


def _observances(
    tz: ZoneInfo, first_year: int, last_year: int
) -> list[TimezoneStandard | TimezoneDaylight]:
    inside = zone_transitions(tz, first_year, last_year)
    if not inside:
        offset, _dst, name = _state(tz, datetime(first_year, 7, 1, tzinfo=UTC))
        return [_component(False, _EPOCH_WALL, offset, offset, name)]

    before = zone_transitions(tz, first_year - 1, first_year - 1)
    prior = before[-1] if before else None

    if prior is not None:
        rules = _yearly_rules((prior, *inside), last_year)
        if rules is not None:
            earliest = _earliest_rules(tz, first_year, last_year) or rules
            return [_rule_component(rule) for rule in earliest]

    # Whatever held before the first change inside the range: the prior change itself, or
    # (no change in the year before) the offset in force at the start of the range since 1970.
    if prior is not None:
        anchor = _single_component(prior)
    else:
        offset, dst, name = _state(tz, inside[0].at - timedelta(seconds=1))
        anchor = _component(bool(dst), _EPOCH_WALL, offset, offset, name)

    rules = _yearly_rules(inside, last_year)
    if rules is not None:
        return [anchor, *(_rule_component(rule) for rule in rules)]
    return [anchor, *(_single_component(t) for t in inside)]


# How far back a yearly rule is followed (it starts at its first year since, or at this one).
_EARLIEST_RULE_YEAR = 1970


@lru_cache(maxsize=256)
def _earliest_rules(
    tz: ZoneInfo, first_year: int, last_year: int
) -> tuple[_YearlyRule, ...] | None:
    """The yearly rules that hold from ``first_year`` to ``last_year``, started at the first
    year since which they have held (not before 1970).

    A reader that meets an instant before every observance guesses (dateutil and with it vobject
    take the first STANDARD; ical.js reads it as UTC), and vobject probes 2000-2020 to decide
    whether a VTIMEZONE is only UTC (London's would be, from a 2024 start) and then ignores it.
    Starting the rules where they began keeps every year they describe right for such readers.
    """
    found: tuple[_YearlyRule, ...] | None = None
    transitions = zone_transitions(tz, first_year, last_year)
    year = first_year - 1
    while year >= _EARLIEST_RULE_YEAR:
        candidate = (*_year_transitions(tz, year, _PROBE_STEP_SECONDS), *transitions)
        rules = _yearly_rules(candidate, last_year)
        if rules is None or rules[0].first.wall_before.year != year:
            break
        found, transitions, year = tuple(rules), candidate, year - 1
    return found


def _yearly_rules(transitions: tuple[Transition, ...], last_year: int) -> list[_YearlyRule] | None:
    """One yearly rule per kind (DAYLIGHT, STANDARD) that reproduces ``transitions`` exactly.

    ``None`` when there is not exactly one change of each kind in every year from its first
    change through ``last_year``, or the changes of one kind differ in offsets, name, month,
    time of day or day rule, or the two kinds do not undo each other.
    """
    daylight = [t for t in transitions if t.is_dst]
    standard = [t for t in transitions if not t.is_dst]
    if not daylight or not standard:
        return None
    rules: list[_YearlyRule] = []
    for group in (daylight, standard):
        rule = _yearly_rule(group, last_year)
        if rule is None:
            return None
        rules.append(rule)
    dst_rule, std_rule = rules
    if (dst_rule.first.offset_from, dst_rule.first.offset_to) != (
        std_rule.first.offset_to,
        std_rule.first.offset_from,
    ):
        return None
    return sorted(rules, key=lambda rule: rule.first.at)


def _yearly_rule(group: list[Transition], last_year: int) -> _YearlyRule | None:
    first = group[0]
    start = first.wall_before
    years = [t.wall_before.year for t in group]
    if years != list(range(start.year, last_year + 1)):
        return None
    candidates = _day_rules(start)
    for t in group[1:]:
        wall = t.wall_before
        if (
            (t.offset_from, t.offset_to, t.name, t.is_dst)
            != (first.offset_from, first.offset_to, first.name, first.is_dst)
            or wall.month != start.month
            or wall.time() != start.time()
        ):
            return None
        allowed = _day_rules(wall)
        candidates = [c for c in candidates if c in allowed]
    if not candidates:
        return None
    kind, value = candidates[0]
    if kind == "BYDAY":
        return _YearlyRule(first, start.month, str(value), None)
    return _YearlyRule(first, start.month, None, int(value))


def _day_rules(wall: datetime) -> list[tuple[str, str | int]]:
    """The ways to name ``wall``'s day within its month, most likely rule first."""
    weekday = _WEEKDAYS[wall.weekday()]
    nth = (wall.day - 1) // 7 + 1
    days_in_month = calendar.monthrange(wall.year, wall.month)[1]
    nth_last = (days_in_month - wall.day) // 7 + 1
    rules: list[tuple[str, str | int]] = []
    if nth_last == 1:
        rules.append(("BYDAY", f"-1{weekday}"))
    rules.append(("BYDAY", f"{nth}{weekday}"))
    if nth_last != 1:
        rules.append(("BYDAY", f"-{nth_last}{weekday}"))
    rules.append(("BYMONTHDAY", wall.day))
    return rules


def _rule_component(rule: _YearlyRule) -> TimezoneStandard | TimezoneDaylight:
    first = rule.first
    component = _component(
        first.is_dst, first.wall_before, first.offset_from, first.offset_to, first.name
    )
    recur: dict[str, str | int] = {"FREQ": "YEARLY", "BYMONTH": rule.by_month}
    if rule.by_day is not None:
        recur["BYDAY"] = rule.by_day
    else:
        assert rule.by_month_day is not None
        recur["BYMONTHDAY"] = rule.by_month_day
    component.add("RRULE", vRecur(recur))
    return component


def _single_component(t: Transition) -> TimezoneStandard | TimezoneDaylight:
    return _component(t.is_dst, t.wall_before, t.offset_from, t.offset_to, t.name)


def _component(
    is_dst: bool, wall: datetime, offset_from: timedelta, offset_to: timedelta, name: str
) -> TimezoneStandard | TimezoneDaylight:
    component = TimezoneDaylight() if is_dst else TimezoneStandard()
    component.add("DTSTART", wall)
    component.add("TZOFFSETFROM", offset_from)
    component.add("TZOFFSETTO", offset_to)
    component.add("TZNAME", name)
    return component


def _state(tz: ZoneInfo, instant: datetime) -> _State:
    local = instant.astimezone(tz)
    offset, dst = local.utcoffset(), local.dst()
    # A ZoneInfo always answers these for an aware datetime of its own zone.
    assert offset is not None
    assert dst is not None
    return offset, dst, local.tzname() or ""


@lru_cache(maxsize=256)
def _scan(tz: ZoneInfo, first_year: int, last_year: int, step: int) -> tuple[Transition, ...]:
    """Every change of ``tz`` between a day before and a day after the local years, sampled
    every ``step`` seconds and bisected to the second.

    Cached: a feed renders the same zone and years over and over.
    """
    # A day of margin covers every UTC offset (at most 26 hours away from UTC).
    start = int((datetime(first_year, 1, 1, tzinfo=UTC) - timedelta(days=1)).timestamp())
    stop = int((datetime(last_year + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)).timestamp())
    found: list[Transition] = []
    at, state = start, _state_at(tz, start)
    while at < stop:
        step_end = min(at + step, stop)
        step_state = _state_at(tz, step_end)
        if step_state == state:
            at = step_end
            continue
        # Bisect to the first second of the new state.
        low, high = at, step_end
        while high - low > 1:
            middle = (low + high) // 2
            if _state_at(tz, middle) == state:
                low = middle
            else:
                high = middle
        new_state = _state_at(tz, high)
        found.append(
            Transition(
                at=datetime.fromtimestamp(high, tz=UTC),
                offset_from=state[0],
                offset_to=new_state[0],
                name=new_state[2],
                is_dst=bool(new_state[1]),
            )
        )
        at, state = high, new_state
    return tuple(found)


def _state_at(tz: ZoneInfo, timestamp: int) -> _State:
    return _state(tz, datetime.fromtimestamp(timestamp, tz=UTC))
