"""The month grid's cache (``availability/cache.py`` behind ``public/free_days.py``) answers
exactly what the search without it answers, after random changes of every kind that moves a
free time: bookings and cancellations, holds placed, released and running out, closures,
provider exceptions, weekly rules edited, the type's notice, step and length, a chair or
provider switched off,
and the clock passing notice cut-offs. On SQLite and PostgreSQL.

The clinic is small on purpose, so that one change often empties or opens a day: New York,
two chairs; Ann works weekdays 9-11, Ben Tuesdays and Thursdays 13-14:30; a 60-minute
consultation (Ann or Ben alone with the patient) and a 45-minute chair visit, both
bookable online. Clock: Monday 2 March 2026, 09:00 in New York (the clocks go forward on
Sunday 8 March).
"""

from __future__ import annotations

import random
from array import array
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from scheduler.auth.actors import Actor
from scheduler.availability.cache import OpenStartsCache
from scheduler.availability.engine import OpenStarts
from scheduler.bookings import service as bookings
from scheduler.bookings.holds import create_hold, release_hold
from scheduler.bookings.schemas import BookingCreate, CancelRequest, HoldCreate
from scheduler.config import Settings
from scheduler.errors import Conflict
from scheduler.kit.clock import FrozenClock
from scheduler.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    Chair,
    Hold,
    Provider,
)
from scheduler.public import service
from scheduler.public.free_days import free_days
from scheduler.web.patient_view import month_bounds
from tests.factories import (
    make_appointment_type,
    make_chair,
    make_location,
    make_patient,
    make_provider,
)

NEW_YORK = ZoneInfo("America/New_York")
STAFF = Actor(kind="user", label="user:test")
ZONE = "America/New_York"


class Grid:
    """The clinic, and the month grids asked the way the booking page asks them."""

    def __init__(self, db: Session, clock: FrozenClock, settings: Settings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.location = make_location(db, timezone=ZONE)
        self.chairs = [make_chair(db, self.location, name=f"Chair {i}", position=i) for i in (1, 2)]
        self.consult = make_appointment_type(
            db,
            code="consult",
            name="Consultation",
            phases=[{"minutes": 60, "uses_chair": False, "provider_use": "exclusive"}],
            turnover_minutes=0,
            self_schedulable=True,
        )
        self.visit = make_appointment_type(
            db,
            code="visit",
            name="Chair visit",
            phases=[{"minutes": 45, "uses_chair": True, "provider_use": "monitor"}],
            turnover_minutes=15,
            self_schedulable=True,
        )
        kinds = (self.consult, self.visit)
        self.ann = make_provider(
            db,
            name="Ann",
            locations=(self.location,),
            types=kinds,
            max_concurrent_patients=1,
            weekly=tuple((d, time(9), time(11)) for d in range(5)),
        )
        self.ben = make_provider(
            db,
            name="Ben",
            locations=(self.location,),
            types=kinds,
            max_concurrent_patients=1,
            weekly=tuple((d, time(13), time(14, 30)) for d in (1, 3)),
        )
        self.cache = OpenStartsCache(1024 * 1024)
        self.patients = 0

    @property
    def location_id(self) -> int:
        assert self.location.id is not None
        return self.location.id

    def windows(self) -> list[tuple[datetime, datetime]]:
        """This month's (from now) and next month's, as ``web.patient_base.picker`` asks."""
        now = self.clock.now()
        today = now.astimezone(NEW_YORK).date()
        out = []
        for first in (today.replace(day=1), (today.replace(day=1) + timedelta(days=32))):
            start, end = month_bounds(first, ZONE)
            start = max(start, now)
            out.append((start, min(end, start + timedelta(days=31))))
        return out

    def days(
        self,
        kind: AppointmentType,
        window: tuple[datetime, datetime],
        *,
        cached: bool,
        provider_id: int | None = None,
    ) -> list[date]:
        return free_days(
            self.db,
            location_id=self.location_id,
            appointment_type_id=kind.id or 0,
            start_at=window[0],
            end_at=window[1],
            now=self.clock.now(),
            settings=self.settings,
            provider_id=provider_id,
            cache=self.cache if cached else None,
        )

    def check(self) -> int:
        """Every grid, cached and not: equal. Returns how many dates are free in all."""
        total = 0
        for kind in (self.consult, self.visit):
            for window in self.windows():
                for provider_id in (None, self.ben.id):
                    plain = self.days(kind, window, cached=False, provider_id=provider_id)
                    cached = self.days(kind, window, cached=True, provider_id=provider_id)
                    assert cached == plain, (kind.code, window, provider_id)
                    total += len(plain)
        return total

    def free_starts(self, kind: AppointmentType) -> list[datetime]:
        now = self.clock.now()
        return [
            slot.start_at
            for slot in service.find_times(
                self.db,
                location_id=self.location_id,
                appointment_type_id=kind.id or 0,
                start_at=now,
                end_at=now + timedelta(days=20),
                now=now,
                settings=self.settings,
            ).items
        ]

    def new_patient_id(self) -> int:
        self.patients += 1
        patient = make_patient(
            self.db, first_name=f"P{self.patients}", email=f"p{self.patients}@example.org"
        )
        assert patient.id is not None
        return patient.id


@pytest.fixture
def grid(db: Session, clock: FrozenClock, settings: Settings) -> Grid:
    return Grid(db, clock, settings)


# --- the changes ---------------------------------------------------------------------------


def _pick(starts: list[datetime], rng: random.Random) -> datetime:
    """A start in the middle of one of the next few days with a free time, the scarcer
    more likely: taking it often empties the day."""
    by_day: dict[date, list[datetime]] = {}
    for start in starts:
        by_day.setdefault(start.astimezone(NEW_YORK).date(), []).append(start)
    days = sorted(by_day, key=lambda d: (len(by_day[d]), d))[:3]
    chosen = by_day[rng.choice(days)]
    return chosen[len(chosen) // 2]


def book(g: Grid, rng: random.Random) -> None:
    kind = rng.choice((g.consult, g.visit))
    starts = g.free_starts(kind)
    if starts:
        bookings.create_booking(
            g.db,
            BookingCreate(
                patient_id=g.new_patient_id(),
                appointment_type_id=kind.id,
                location_id=g.location_id,
                start_at=_pick(starts, rng),
            ),
            actor=STAFF,
            now=g.clock.now(),
        )


def cancel(g: Grid, rng: random.Random) -> None:
    active = g.db.exec(select(Booking).where(col(Booking.status) == "booked")).all()
    if active:
        bookings.cancel_booking(
            g.db,
            rng.choice(active).id or 0,
            CancelRequest(reason="test"),
            actor=STAFF,
            now=g.clock.now(),
            if_match=None,
        )


def hold(g: Grid, rng: random.Random) -> None:
    kind = rng.choice((g.consult, g.visit))
    starts = g.free_starts(kind)
    if starts:
        create_hold(
            g.db,
            HoldCreate(
                appointment_type_id=kind.id or 0,
                location_id=g.location_id,
                start_at=_pick(starts, rng),
            ),
            actor=STAFF,
            now=g.clock.now(),
            ttl=timedelta(minutes=rng.choice((5, 10, 30))),
        )


def release(g: Grid, rng: random.Random) -> None:
    live = g.db.exec(
        select(Hold).where(
            col(Hold.released_at).is_(None),
            col(Hold.consumed_at).is_(None),
            col(Hold.expires_at) > g.clock.now(),
        )
    ).all()
    if live:
        release_hold(g.db, rng.choice(live).id or 0, actor=STAFF, now=g.clock.now())


def _some_day(g: Grid, rng: random.Random) -> date:
    return g.clock.now().astimezone(NEW_YORK).date() + timedelta(days=rng.randrange(0, 40))


def closure(g: Grid, rng: random.Random) -> None:
    day = _some_day(g, rng)
    start = datetime.combine(day, time(rng.choice((8, 9, 10, 13))), NEW_YORK)
    g.db.add(
        AvailabilityException(
            location_id=g.location_id,
            kind="unavailable",
            start_at=start,
            end_at=start + timedelta(hours=rng.choice((1, 2, 24))),
        )
    )


def exception(g: Grid, rng: random.Random) -> None:
    day = _some_day(g, rng)
    kind = rng.choice(("unavailable", "extra"))
    start = datetime.combine(day, time(rng.choice((9, 12, 13, 16))), NEW_YORK)
    g.db.add(
        AvailabilityException(
            location_id=g.location_id,
            provider_id=rng.choice((g.ann, g.ben)).id,
            kind=kind,
            start_at=start,
            end_at=start + timedelta(hours=rng.choice((1, 2))),
        )
    )


def drop_exception(g: Grid, rng: random.Random) -> None:
    rows = g.db.exec(select(AvailabilityException)).all()
    if rows:
        g.db.delete(rng.choice(rows))


def edit_rule(g: Grid, rng: random.Random) -> None:
    rule = rng.choice(g.db.exec(select(AvailabilityRule)).all())
    change = rng.choice(("end", "until", "from"))
    if change == "end":
        rule.end_time = time(rule.start_time.hour + rng.choice((1, 2)), rng.choice((0, 30)))
    elif change == "until":
        rule.valid_until_date = rng.choice((None, _some_day(g, rng)))
    else:
        rule.valid_from_date = rng.choice((None, _some_day(g, rng)))
    g.db.add(rule)


def terms(g: Grid, rng: random.Random) -> None:
    kind = rng.choice((g.consult, g.visit))
    change = rng.choice(("notice", "step", "length"))
    if change == "notice":
        kind.min_notice_minutes = rng.choice((0, 60, 24 * 60, 3 * 24 * 60))
        kind.max_days_ahead = rng.choice((90, 90, 10, 35))
    elif change == "step":
        kind.slot_step_minutes = rng.choice((15, 20, 45, 120))
    else:
        minutes = rng.choice((30, 60, 120, 150))
        kind.phases = [{**kind.phases[0], "minutes": minutes}]
        kind.duration_minutes = minutes
    g.db.add(kind)


def switch(g: Grid, rng: random.Random) -> None:
    row: Chair | Provider = rng.choice([*g.chairs, g.ben])
    row.active = not row.active
    g.db.add(row)


def advance(g: Grid, rng: random.Random) -> None:
    g.clock.advance(timedelta(minutes=rng.choice((1, 7, 15, 45, 120, 600, 1440))))


CHANGES = [book, book, cancel, hold, release, closure, exception, drop_exception, edit_rule]
CHANGES += [terms, switch, advance, advance, advance]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cached_grid_equals_the_searched_one_after_random_changes(
    grid: Grid, db: Session, seed: int
) -> None:
    rng = random.Random(seed)
    free = [grid.check()]
    for _ in range(40):
        change = rng.choice(CHANGES)
        try:
            change(grid, rng)
        except Conflict:  # a time taken by the same step's earlier choice: nothing written
            db.rollback()
        db.commit()
        free.append(grid.check())
    assert grid.cache.hits > 60  # the cache answered (after the clock moved, for one)
    assert len(set(free)) > 3  # and the answers moved with the changes


def test_an_answer_is_reused_only_while_nothing_it_depends_on_changed(
    grid: Grid, db: Session, clock: FrozenClock
) -> None:
    """The same question twice is one evaluation, also once the notice cut-off has moved; a
    booking, or a cancellation (a status and a version, no time changes), is seen at once."""
    march = grid.windows()[0]
    first = grid.days(grid.consult, march, cached=True)
    assert grid.days(grid.consult, march, cached=True) == first
    assert grid.cache.hits == 1
    # Today (Monday, 9:00) Ann's last consultation starts at 10:00; notice is an hour.
    assert date(2026, 3, 2) in first
    clock.advance(timedelta(minutes=1))
    assert date(2026, 3, 2) not in grid.days(grid.consult, grid.windows()[0], cached=True)
    assert grid.cache.hits == 2  # the same evaluation, the cut-off applied to the new now
    thursday = datetime(2026, 3, 5, 9, tzinfo=NEW_YORK)
    # Ann's Thursday (9-11, one consultation at a time) and Ben's (13-14:30) filled up.
    taken = [
        bookings.create_booking(
            db,
            BookingCreate(
                patient_id=grid.new_patient_id(),
                appointment_type_id=grid.consult.id,
                location_id=grid.location_id,
                start_at=start,
            ),
            actor=STAFF,
            now=clock.now(),
        )
        for start in (thursday, thursday + timedelta(hours=1), thursday.replace(hour=13))
    ]
    db.commit()
    assert date(2026, 3, 5) in first
    assert date(2026, 3, 5) not in grid.days(grid.consult, grid.windows()[0], cached=True)
    bookings.cancel_booking(
        db, taken[0].id, CancelRequest(reason="test"), actor=STAFF, now=clock.now(), if_match=None
    )
    db.commit()
    assert date(2026, 3, 5) in grid.days(grid.consult, grid.windows()[0], cached=True)
    assert grid.cache.hits == 2  # each change was seen: not answered from the cache


def test_the_cache_keeps_within_its_bytes_and_reads_no_stale_entry() -> None:
    def starts(n: int) -> OpenStarts:
        at = datetime(2026, 3, 1, tzinfo=NEW_YORK)
        return OpenStarts(at, at, array("q", range(n)), array("q", range(n)))

    cache = OpenStartsCache(10_000)
    cache.put("a", 1, starts(100), rows=1)  # 1,600 + 200 + 400 = 2,200 bytes
    cache.put("b", 1, starts(100), rows=1)
    assert cache.get("a", 2) is None  # another validator: not this answer
    assert cache.get("a", 1) is not None
    cache.put("c", 1, starts(350), rows=1)  # 6,200: "b", read least recently, leaves
    assert "b" not in cache
    assert "a" in cache
    assert "c" in cache
    assert cache.size_bytes <= 10_000
    cache.put("d", 1, starts(1_000), rows=1)  # larger than the whole cache: not kept
    assert "d" not in cache
    assert len(cache) == 2
