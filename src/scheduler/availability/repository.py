"""Everything one slot search needs, in two SQL statements whatever the window size.

1. the location and the appointment type (one row);
2. one ``UNION ALL`` over a shared column layout, each branch tagged by ``kind``: the
   location's static calendar (opening hours, closures, active chairs, the providers who may
   do the type here, their weekly rules at this location and their exceptions), then the
   commitments that can collide (active bookings and live holds on this location's chairs or
   of those providers, at any location, near the window).

The statement count is asserted by a test, and it is why a month's search costs about what a
day's does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Date,
    Integer,
    String,
    Text,
    Time,
    and_,
    bindparam,
    cast,
    func,
    literal,
    not_,
    null,
    or_,
    true,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from scheduler.appointment_types.schemas import MINUTES_PER_DAY
from scheduler.availability.rows import (
    CalendarRows,
    CommitmentRow,
    ProviderRow,
    phases_from_json,
)
from scheduler.db.statements import DriverStatement
from scheduler.db.types import UTCDateTime
from scheduler.models import (
    ACTIVE_STATUSES,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    Chair,
    Hold,
    Location,
    LocationHours,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
)

# Bookings and holds reaching this far outside the window still matter (long visits,
# turnover, stagger). Longer than any appointment type plus its turnover.
COMMITMENT_PADDING = timedelta(hours=24)
# No visit lasts longer: a type's phases add up to at most a day (appointment_types).
LONGEST_VISIT = timedelta(minutes=MINUTES_PER_DAY)


@lru_cache(maxsize=1)
def _location_and_type_statement() -> Any:
    return (
        select(Location, AppointmentType)
        .select_from(Location)
        .join(AppointmentType, true())  # one row of each: a deliberate 1 x 1 cross join
        .where(
            col(Location.id) == bindparam("location_id"),
            col(AppointmentType.id) == bindparam("appointment_type_id"),
        )
    )


def load_location_and_type(
    session: Session, location_id: int, appointment_type_id: int
) -> tuple[Location, AppointmentType] | None:
    """Statement 1: both rows, or None when either id does not exist."""
    row = session.execute(
        _location_and_type_statement(),
        {"location_id": location_id, "appointment_type_id": appointment_type_id},
    ).first()
    return None if row is None else (row[0], row[1])


def _eligible_providers(location_id: Any, appointment_type_id: Any, provider_id: Any) -> Any:
    query = (
        sa_select(col(Provider.id))
        .join(ProviderLocation, col(ProviderLocation.provider_id) == col(Provider.id))
        .join(ProviderAppointmentType, col(ProviderAppointmentType.provider_id) == col(Provider.id))
        .where(
            col(Provider.active).is_(True),
            col(ProviderLocation.location_id) == location_id,
            col(ProviderAppointmentType.appointment_type_id) == appointment_type_id,
        )
    )
    if provider_id is not None:
        query = query.where(col(Provider.id) == provider_id)
    return query


# What a window's answer depends on besides the location and type rows, as one comparable
# value (see ``window_fingerprint``).
Fingerprint = frozenset[tuple[tuple[Any, ...], int]]


class WindowRows(NamedTuple):
    calendar: CalendarRows
    commitments: list[CommitmentRow]
    fingerprint: Fingerprint | None = None


# One row layout for every branch of the window statement, tagged by ``kind``:
# (kind, id, n1, n2, n3, n4, t1, t2, d1, d2, a1, a2, s1, s2).
_LAYOUT = ("id", "n1", "n2", "n3", "n4", "t1", "t2", "d1", "d2", "a1", "a2", "s1", "s2")
_LAYOUT_TYPES = {
    "id": Integer,
    "n": Integer,
    "t": Time,
    "d": Date,
    "a": UTCDateTime,
    "s": String,
}


def _row(kind: str, **columns: Any) -> list[Any]:
    """A branch's columns in the shared layout; the ones it does not name are typed NULLs."""
    out = [literal(kind, String).label("kind")]
    for name in _LAYOUT:
        column = columns.get(name)
        if column is None:
            column = cast(null(), _LAYOUT_TYPES["id" if name == "id" else name[0]])
        out.append(column.label(name))
    return out


@lru_cache(maxsize=16)
def _window_driver(
    by_provider: bool, by_patient: bool, bookings: bool = True, versions: bool = False
) -> DriverStatement:
    # A month's search reads ~1,000 rows: see DriverStatement.
    return DriverStatement(_window_statement(by_provider, by_patient, bookings, versions))


@lru_cache(maxsize=16)
def _window_statement(
    by_provider: bool, by_patient: bool, bookings: bool = True, versions: bool = False
) -> Any:
    """Statement 2 for one shape of request, built once (values come as binds): the
    calendar branches, then the commitments branches, in one ``UNION ALL``.

    ``bookings``: the active bookings' rows (without them, only the calendar and the live
    holds). ``versions``: one row per subject with the count and the sum of ``version`` of
    its bookings near the window, whatever their status (see ``window_fingerprint``).
    """
    if versions and by_patient:
        raise ValueError("the fingerprint covers the location's and the providers' bookings")
    location_id: Any = bindparam("location_id")
    providers = _eligible_providers(
        location_id,
        bindparam("appointment_type_id"),
        bindparam("provider_id") if by_provider else None,
    )

    def theirs(provider_column: Any) -> Any:
        # A named provider is compared directly (a simpler plan): rules and exceptions of a
        # provider without a "provider" row are dropped when the rows are read, and
        # commitments of a provider not in the query are ignored by the engine.
        if by_provider:
            return provider_column == bindparam("provider_id")
        return provider_column.in_(providers)

    exc = AvailabilityException
    calendar = [
        sa_select(
            *_row(
                "hours",
                n1=col(LocationHours.weekday),
                t1=col(LocationHours.open_time),
                t2=col(LocationHours.close_time),
            )
        ).where(col(LocationHours.location_id) == location_id),
        sa_select(*_row("closure", a1=col(exc.start_at), a2=col(exc.end_at))).where(
            col(exc.location_id) == location_id,
            col(exc.provider_id).is_(None),
            col(exc.end_at) > bindparam("start_at"),
            col(exc.start_at) < bindparam("end_at"),
        ),
        sa_select(
            *_row("chair", id=col(Chair.id), n1=col(Chair.position), s1=col(Chair.name))
        ).where(col(Chair.location_id) == location_id, col(Chair.active).is_(True)),
        sa_select(
            *_row(
                "provider",
                id=col(Provider.id),
                n1=col(Provider.max_concurrent_patients),
                n2=col(Provider.min_minutes_between_starts),
                s1=col(Provider.name),
                s2=col(Provider.display_name),
            )
        ).where(col(Provider.id).in_(providers)),
        sa_select(
            *_row(
                "rule",
                id=col(AvailabilityRule.provider_id),
                n1=col(AvailabilityRule.weekday),
                t1=col(AvailabilityRule.start_time),
                t2=col(AvailabilityRule.end_time),
                d1=col(AvailabilityRule.valid_from_date),
                d2=col(AvailabilityRule.valid_until_date),
            )
        ).where(
            col(AvailabilityRule.location_id) == location_id,
            theirs(col(AvailabilityRule.provider_id)),
        ),
        sa_select(
            *_row(
                "exception",
                id=col(exc.provider_id),
                a1=col(exc.start_at),
                a2=col(exc.end_at),
                s1=col(exc.kind),
            )
        ).where(
            theirs(col(exc.provider_id)),
            or_(
                and_(col(exc.kind) == "unavailable"),
                and_(col(exc.kind) == "extra", col(exc.location_id) == location_id),
            ),
            col(exc.end_at) > bindparam("lo"),
            col(exc.start_at) < bindparam("hi"),
        ),
    ]

    def near(model: Any) -> Any:
        # The lower bound on start_at is implied by the one on end_at (no visit lasts longer
        # than LONGEST_VISIT) and lets both databases range-scan their (owner, start_at)
        # indexes instead of walking every active booking in the clinic's history.
        return and_(
            col(model.start_at) >= bindparam("earliest_start"),
            col(model.start_at) < bindparam("hi"),
            col(model.end_at) > bindparam("lo"),
        )

    def subjects(model: Any) -> list[Any]:
        """Disjoint conditions, one per index: the location's chairs, the providers', the
        patient's (each excluding the ones before, so UNION ALL returns each row once)."""
        on_chair = and_(
            col(model.location_id) == location_id,
            col(model.chair_id).is_not(None),
        )
        of_provider = theirs(col(model.provider_id))
        out = [on_chair, and_(of_provider, not_(on_chair))]
        if by_patient:
            out.append(
                and_(
                    col(model.patient_id) == bindparam("patient_id"),
                    not_(on_chair),
                    not_(of_provider),
                )
            )
        return out

    def commitment(kind: str, model: Any) -> list[Any]:
        return _row(
            kind,
            id=col(model.id),
            n1=col(model.turnover_minutes),
            n2=col(model.chair_id),
            n3=col(model.provider_id),
            n4=col(model.patient_id),
            a1=col(model.start_at),
            # As text: see phases_from_json. jsonb casts to its canonical text.
            s1=cast(col(model.phases), Text),
        )

    def of_bookings(columns: Callable[[int], list[Any]], *conditions: Any) -> list[Any]:
        """One branch per subject (numbered), with the columns made for its number."""
        out = [
            sa_select(*columns(i)).where(subject, near(Booking), *conditions)
            for i, subject in enumerate(subjects(Booking))
        ]
        if not by_provider:
            # Joined to the eligible providers rather than filtered by a list of them:
            # without statistics SQLite would read the list through the status index, walking
            # every active booking; this way it range-scans each provider's (provider, start)
            # index.
            eligible = providers.subquery()
            out[1] = out[1].join_from(Booking, eligible, col(Booking.provider_id) == eligible.c.id)
        return out

    # Plain bound values, not an expanding IN list (which DriverStatement cannot run).
    active = col(Booking.status).in_([literal(status, String) for status in ACTIVE_STATUSES])
    branches = []
    if bookings:
        branches += of_bookings(lambda _: commitment("booking", Booking), active)
    if versions:
        branches += of_bookings(
            lambda i: _row(
                "versions",
                id=literal(i, Integer),
                n1=func.count(),
                n2=func.coalesce(func.sum(col(Booking.version)), 0),
            )
        )
    holds = sa_select(*commitment("hold", Hold)).where(
        col(Hold.expires_at) > bindparam("now"),
        col(Hold.released_at).is_(None),
        col(Hold.consumed_at).is_(None),
        or_(*subjects(Hold)),
        near(Hold),
    )
    return union_all(*calendar, *branches, holds)


def load_window(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    patient_id: int | None = None,
    fingerprint: bool = False,
) -> WindowRows:
    """Statement 2: the calendar of the location and the commitments near the window.

    Calendar: hours, active chairs, the eligible providers (only ``provider_id`` when given)
    and their rules at this location, closures overlapping the window, and provider
    exceptions overlapping it widened by ``COMMITMENT_PADDING``.

    Commitments: active bookings and live holds on this location's chairs, or of the
    eligible providers at any location, reaching into the window widened by
    ``COMMITMENT_PADDING``. A hold counts until ``expires_at``: an expired hold stops
    blocking at that instant, with no background job involved. With ``patient_id`` the
    patient's own bookings are included too (for the no-overlap rule). They come in no
    particular order.

    ``fingerprint``: also the window's ``window_fingerprint``, read by the same statement
    (so from the same snapshot as the rows). Not with ``patient_id``.
    """
    params = _window_params(
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
        patient_id=patient_id,
    )
    statement = _window_driver(
        provider_id is not None, patient_id is not None, bookings=True, versions=fingerprint
    )
    connection = session.connection()
    rows = statement.rows(connection, params)
    # The driver's values, converted where SQLAlchemy would (instants, and SQLite's text for
    # wall times and dates): for commitments only their start.
    instant = statement.converter(connection.dialect, "a1")
    wall = statement.converter(connection.dialect, "t1")
    day = statement.converter(connection.dialect, "d1")
    calendar = CalendarRows()
    commitments: list[CommitmentRow] = []
    rules: list[tuple[int, tuple[int, time, time, date | None, date | None]]] = []
    exceptions: list[tuple[int, str, datetime, datetime]] = []
    # Unpacked by position: a month holds ~1,000 commitment rows.
    for kind, id_, n1, n2, n3, n4, t1, t2, d1, d2, a1, a2, s1, s2 in rows:
        if kind == "booking" or kind == "hold":
            commitments.append(
                CommitmentRow(instant(a1), phases_from_json(s1), n1, n2, n3, kind, id_, n4)
            )
        elif kind == "hours":
            calendar.hours.append((n1, wall(t1), wall(t2)))
        elif kind == "closure":
            calendar.closures.append((instant(a1), instant(a2)))
        elif kind == "chair":
            calendar.chairs.append((id_, n1, s1))
        elif kind == "provider":
            calendar.providers[id_] = ProviderRow(
                id=id_,
                name=s1,
                display_name=s2,
                max_concurrent_patients=n1,
                min_minutes_between_starts=n2,
            )
        elif kind == "rule":
            rules.append((id_, (n1, wall(t1), wall(t2), day(d1), day(d2))))
        elif kind == "exception":
            exceptions.append((id_, s1, instant(a1), instant(a2)))
    for provider, rule in rules:
        if provider in calendar.providers:
            calendar.providers[provider].rules.append(rule)
    for provider, exception_kind, start, end in exceptions:
        if provider in calendar.providers:
            target = calendar.providers[provider]
            (target.extra if exception_kind == "extra" else target.unavailable).append((start, end))
    calendar.chairs.sort(key=lambda c: (c[1], c[0]))
    calendar.hours.sort()
    found = _fingerprint(r for r in rows if r[0] != "booking") if fingerprint else None
    return WindowRows(calendar, commitments, found)


def window_fingerprint(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
) -> Fingerprint:
    """Everything ``load_window`` over the same window returns at ``now`` that a free time
    depends on, as one comparable value, in one statement that reads no booking row.

    Equal fingerprints mean equal answers: the calendar rows and the live holds (a handful)
    are in it as they are; the bookings as the count and the sum of ``version`` of every
    booking near the window on the location's chairs or of its eligible providers, whatever
    their status. Nothing is deleted, time, chair and provider change only through a
    reschedule (a new booking), and every other change raises the version
    (``bookings/lifecycle.py``), so each subject's pair only ever grows, and any change of
    the active bookings changes it. A change of the location or type rows is not in it.
    """
    params = _window_params(
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
        patient_id=None,
    )
    statement = _window_driver(provider_id is not None, False, bookings=False, versions=True)
    return _fingerprint(statement.rows(session.connection(), params))


def _fingerprint(rows: Iterable[tuple[Any, ...]]) -> Fingerprint:
    # The rows as the driver gives them, counted (two equal rows are possible), in no order.
    return frozenset(Counter(rows).items())


def _window_params(
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    patient_id: int | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "location_id": location_id,
        "appointment_type_id": appointment_type_id,
        "start_at": start_at,
        "end_at": end_at,
        "lo": start_at - COMMITMENT_PADDING,
        "hi": end_at + COMMITMENT_PADDING,
        "earliest_start": start_at - COMMITMENT_PADDING - LONGEST_VISIT,
        "now": now,
    }
    if provider_id is not None:
        params["provider_id"] = provider_id
    if patient_id is not None:
        params["patient_id"] = patient_id
    return params
