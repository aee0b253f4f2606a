"""Feed token lookups and the one query a feed render needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    ScalarSelect,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    null,
    or_,
    type_coerce,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from scheduler.db.statements import DriverStatement
from scheduler.db.types import UTCDateTime
from scheduler.models import (
    ACTIVE_STATUSES,
    AppointmentType,
    Booking,
    Chair,
    FeedToken,
    Location,
    Patient,
    Provider,
    ProviderLocation,
    metadata,
)


def active_token(session: Session, token_hash: str) -> FeedToken | None:
    return session.exec(
        select(FeedToken).where(
            FeedToken.token_hash == token_hash, col(FeedToken.revoked_at).is_(None)
        )
    ).first()


def list_tokens(
    session: Session, *, provider_id: int | None, location_id: int | None, include_revoked: bool
) -> list[FeedToken]:
    query = select(FeedToken)
    if provider_id is not None:
        query = query.where(FeedToken.provider_id == provider_id)
    if location_id is not None:
        query = query.where(FeedToken.location_id == location_id)
    if not include_revoked:
        query = query.where(col(FeedToken.revoked_at).is_(None))
    return list(session.exec(query.order_by(col(FeedToken.id))).all())


@dataclass(frozen=True, slots=True)
class FeedWindow:
    """The bookings a feed shows: those of its owner that overlap ``[start_at, end_at)``, and
    of the cancelled ones only those changed since ``cancelled_since`` and not replaced by a
    reschedule (the replacement carries the UID). ``patients_since``: see ``feed_check``."""

    start_at: datetime
    end_at: datetime
    cancelled_since: datetime
    patients_since: datetime


@dataclass(frozen=True, slots=True)
class FeedCheck:
    """One statement's answer: the token, and everything a feed's bytes depend on.

    The text columns are JSON arrays (as each database writes them) of what a render uses:
    ``bookings`` ``[count, sum of version]`` of the owner's bookings that end after the
    window starts (a superset of the feed's); ``types``, ``chairs``, ``locations`` and
    ``providers`` every ``[id, name]`` (``[id, name, timezone]`` for locations);
    ``patients`` (only with initials) ``[id, first name, last name]`` of the patients changed
    since ``window.patients_since`` who have such a booking.
    """

    token_id: int
    provider_id: int | None
    location_id: int | None
    created_at: datetime
    zone: str | None
    bookings: str | None
    types: str | None
    chairs: str | None
    locations: str | None
    providers: str | None
    patients: str | None


# A visit is shorter than this (a type's phases add up to at most a day): bounds index scans.
LONGEST_VISIT = timedelta(days=1)

# Core tables: the feed's statements select plain columns, never ORM objects.
_token = metadata.tables[FeedToken.__tablename__]
_booking = metadata.tables[Booking.__tablename__]
_patient = metadata.tables[Patient.__tablename__]
_type = metadata.tables[AppointmentType.__tablename__]
_chair = metadata.tables[Chair.__tablename__]
_location = metadata.tables[Location.__tablename__]
_provider = metadata.tables[Provider.__tablename__]
_provider_location = metadata.tables[ProviderLocation.__tablename__]


def _candidates(
    owner: ColumnElement[bool], window: FeedWindow, *, bounded_scan: bool = False
) -> ColumnElement[bool]:
    """The owner's bookings that overlap the window, whatever their status.

    Which bookings these are never changes for a booking once written (time, provider and
    location change only through a reschedule, which writes a new booking), nothing is
    deleted, and every change of a booking raises its ``version`` (bookings/service.py).

    ``bounded_scan`` adds ``start_at > window start - LONGEST_VISIT``, implied by the end (no
    visit is longer): it bounds a scan of the owner's ``(owner, start_at)`` index, which SQLite
    picks to list the feed by start (without it, that walked every visit of the owner's
    history up to the window's end). Only there: in the feed check, PostgreSQL's generic plan
    then left the feed index's index-only count for a slower plan (a third of the 304s/s).
    """
    overlap = and_(
        owner,
        _booking.c.end_at > bindparam("window_start", window.start_at, type_=UTCDateTime),
        _booking.c.start_at < bindparam("window_end", window.end_at, type_=UTCDateTime),
    )
    if not bounded_scan:
        return overlap
    return and_(
        overlap,
        _booking.c.start_at
        > bindparam("scan_from", window.start_at - LONGEST_VISIT, type_=UTCDateTime),
    )


def _json(dialect: str) -> tuple[Any, Any]:
    """JSON array and JSON array aggregate, the database's own functions for them (cast to
    text where used: psycopg would parse json, which only the rare render needs)."""
    if dialect == "postgresql":
        return func.json_build_array, func.json_agg
    return func.json_array, func.json_group_array


@lru_cache(maxsize=8)
def check_statement(dialect: str, with_patients: bool) -> Select[Any]:
    """Built once per database and privacy level (bound values change, the shape never)."""
    array, aggregate = _json(dialect)
    window = FeedWindow(*(datetime(2000, 1, 1, tzinfo=UTC),) * 4)  # placeholders, rebound

    def owned(column: Any, owner: Any) -> ScalarSelect[Any]:
        # Count and versions of every booking of the owner that ends after the window
        # starts: a superset of the feed's (no upper bound on start_at, which cost more to
        # check row by row than the few bookings beyond the window add). The set only ever
        # grows (nothing is deleted, time and owner never change in place) and every change
        # of a booking raises its version, so any change of the feed changes one of them.
        return (
            sa_select(cast(array(func.count(), func.sum(_booking.c.version)), Text))
            .where(
                column == owner,
                _booking.c.end_at > bindparam("window_start", window.start_at, type_=UTCDateTime),
            )
            .scalar_subquery()
        )

    def every(table: Any, *columns: Any) -> ScalarSelect[Any]:
        rows = sa_select(*columns).order_by(table.c.id).subquery()
        return sa_select(cast(aggregate(array(*rows.c)), Text)).scalar_subquery()

    provider_zone = (
        sa_select(_location.c.timezone)
        .join(_provider_location, _provider_location.c.location_id == _location.c.id)
        .where(_provider_location.c.provider_id == _token.c.provider_id)
        .order_by(_location.c.id)
        .limit(1)
        .scalar_subquery()
    )
    zone = func.coalesce(
        sa_select(_location.c.timezone)
        .where(_location.c.id == _token.c.location_id)
        .scalar_subquery(),
        provider_zone,
    )
    patients: Any = null()
    if with_patients:
        theirs = (
            sa_select(_booking.c.id)
            .where(
                _booking.c.patient_id == _patient.c.id,
                _candidates(
                    or_(
                        _booking.c.provider_id == _token.c.provider_id,
                        _booking.c.location_id == _token.c.location_id,
                    ),
                    window,
                ),
            )
            .exists()
        )
        patients = (
            sa_select(aggregate(array(_patient.c.id, _patient.c.first_name, _patient.c.last_name)))
            .where(
                _patient.c.updated_at
                >= bindparam("patients_since", window.patients_since, type_=UTCDateTime),
                theirs,
            )
            .scalar_subquery()
        )
    return sa_select(
        _token.c.id,
        _token.c.provider_id,
        _token.c.location_id,
        _token.c.created_at,
        zone,
        case(
            (
                _token.c.provider_id.is_not(None),
                owned(_booking.c.provider_id, _token.c.provider_id),
            ),
            else_=owned(_booking.c.location_id, _token.c.location_id),
        ),
        every(_type, _type.c.id, _type.c.name),
        every(_chair, _chair.c.id, _chair.c.name),
        every(_location, _location.c.id, _location.c.name, _location.c.timezone),
        every(_provider, _provider.c.id, _provider.c.display_name),
        patients,
    ).where(_token.c.token_hash == bindparam("token_hash"), _token.c.revoked_at.is_(None))


@lru_cache(maxsize=8)
def _check_driver(dialect: str, with_patients: bool) -> DriverStatement:
    # It runs on every calendar revalidation: see DriverStatement.
    return DriverStatement(check_statement(dialect, with_patients))


def feed_check(
    connection: Connection, token_hash: str, *, window: FeedWindow, with_patients: bool
) -> FeedCheck | None:
    """The active token with ``token_hash`` and what its feed depends on, in one statement
    (``None`` for an unknown or revoked token).

    Patients have no version, so a rename is found through ``updated_at``: every change of
    a patient sets it (patients/service.py), and a change written before ``patients_since``
    (yesterday, for today's window) has long been committed when a feed for today is
    checked. The window's bounds are part of the check, so the day rolling over changes it.
    """
    params: dict[str, Any] = {
        "token_hash": token_hash,
        "window_start": window.start_at,
        "window_end": window.end_at,
    }
    if with_patients:
        params["patients_since"] = window.patients_since
    statement = _check_driver(connection.dialect.name, with_patients)
    rows = statement.rows(connection, params)
    if not rows:
        return None
    token_id, provider_id, location_id, created_at, *names = rows[0]
    instant = statement.converter(connection.dialect, "created_at")
    return FeedCheck(token_id, provider_id, location_id, instant(created_at), *names)


@dataclass(frozen=True, slots=True)
class FeedRow:
    """Exactly what a feed event is rendered from, as plain values; names are looked up in
    the ``FeedCheck`` of the same snapshot."""

    ical_uid: str
    sequence: int
    start_at: datetime
    end_at: datetime
    status: str
    updated_at: datetime
    appointment_type_id: int
    chair_id: int | None
    provider_id: int
    location_id: int
    first_name: str | None
    last_name: str | None


def feed_rows(
    session: Session,
    *,
    provider_id: int | None,
    location_id: int | None,
    window: FeedWindow,
    with_patients: bool,
    limit: int,
    cancelled_limit: int,
) -> list[FeedRow]:
    """The feed's bookings (see ``FeedWindow``), by start: the first ``limit`` active ones,
    then the most recently changed cancellations (at most ``cancelled_limit``) while fewer
    than ``limit`` events are taken, so cancellations never push a visit out of the feed.

    Bookings are found by owner and end first (``ix_booking_*_feed``), patients joined by
    primary key; the replaced check runs only for cancelled bookings
    (``ix_booking_rescheduled_from_id``). One statement: both parts read one snapshot.
    """
    successor = _booking.alias("successor")
    replaced = (
        sa_select(successor.c.id).where(successor.c.rescheduled_from_id == _booking.c.id).exists()
    )
    owner = (
        _booking.c.provider_id == provider_id
        if provider_id is not None
        else _booking.c.location_id == location_id
    )
    names: tuple[Any, ...] = (
        (_patient.c.first_name, _patient.c.last_name) if with_patients else (null(), null())
    )
    sqlite = session.get_bind().dialect.name == "sqlite"

    def instant(column: Any) -> Any:
        # On SQLite the stored text, parsed below: UTCDateTime's generic parsing cost about
        # as much as writing the calendar (three instants per booking).
        return type_coerce(column, String) if sqlite else column

    columns = (
        _booking.c.ical_uid,
        _booking.c.sequence,
        *(instant(_booking.c[name]) for name in ("start_at", "end_at")),
        _booking.c.status,
        instant(_booking.c.updated_at),
        _booking.c.appointment_type_id,
        _booking.c.chair_id,
        _booking.c.provider_id,
        _booking.c.location_id,
        *names,
        _booking.c.id,
    )
    labels = [f"c{i}" for i in range(len(columns))]
    active = _booking.c.status.in_(ACTIVE_STATUSES)

    def part(condition: ColumnElement[bool], order: tuple[Any, ...], most: int) -> Select[Any]:
        query = (
            sa_select(*(c.label(n) for c, n in zip(columns, labels, strict=True)))
            .where(_candidates(owner, window, bounded_scan=sqlite), condition)
            .order_by(*order)
            .limit(most)
        )
        if with_patients:
            query = query.join_from(_booking, _patient, _patient.c.id == _booking.c.patient_id)
        return sa_select(query.subquery())

    visits = part(active, (_booking.c.start_at, _booking.c.id), limit)
    cancellations = part(
        and_(~active, _booking.c.updated_at >= window.cancelled_since, ~replaced),
        (_booking.c.updated_at.desc(), _booking.c.id.desc()),
        min(limit, cancelled_limit),
    )
    rows: list[tuple[Any, ...]] = [
        tuple(row) for row in session.connection().execute(union_all(visits, cancellations))
    ]
    taken = [r for r in rows if r[4] in ACTIVE_STATUSES]
    taken += [r for r in rows if r[4] not in ACTIVE_STATUSES][: limit - len(taken)]
    if sqlite:
        taken = [
            (uid, seq, _utc_text(start), _utc_text(end), status, _utc_text(updated), *rest)
            for uid, seq, start, end, status, updated, *rest in taken
        ]
    taken.sort(key=lambda r: (r[2], r[-1]))  # start, then id: as the feed always listed them
    return [FeedRow(*r[:-1]) for r in taken]


def _utc_text(value: str) -> datetime:
    """An instant as UTCDateTime stores it on SQLite: ISO 8601 text of the UTC time."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
