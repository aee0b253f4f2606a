"""Advisory locks that serialize writers which could collide, across every API process and
worker: a booking, a series, a reschedule and a patient merge all take the same ones, so they
live here rather than in one domain's repository.

PostgreSQL: transaction-scoped advisory locks (``pg_advisory_xact_lock``), released when the
transaction ends. SQLite: every writing transaction already began with ``BEGIN IMMEDIATE``,
which serializes all writers, so these do nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

from sqlalchemy import text
from sqlmodel import Session

# Advisory lock classes (pg_advisory_xact_lock(class, id)). Always taken in this order, ids
# ascending within a class, so two transactions can never wait on each other in a cycle.
LOCK_LOCATION = 1
LOCK_PROVIDER = 2
LOCK_PATIENT = 3


def lock_resources(
    session: Session,
    *,
    location_ids: Iterable[int],
    provider_ids: Iterable[int],
    patient_ids: Iterable[int],
) -> None:
    """Serialize writers that could collide, across every API process.

    PostgreSQL: transaction-scoped advisory locks per location (its chairs), per provider
    (capacity is per provider across locations) and per patient (no overlapping visits).
    SQLite: the transaction already began with BEGIN IMMEDIATE, which serializes all writers.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = (
        [(LOCK_LOCATION, i) for i in sorted(set(location_ids))]
        + [(LOCK_PROVIDER, i) for i in sorted(set(provider_ids))]
        + [(LOCK_PATIENT, i) for i in sorted(set(patient_ids))]
    )
    if not keys:
        return
    # One round trip for all of them; PostgreSQL evaluates a select list left to right, so
    # the locks are still taken in the order above.
    calls = ", ".join(f"pg_advisory_xact_lock(:c{i}, :o{i})" for i in range(len(keys)))
    params: dict[str, int] = {}
    for i, (lock_class, object_id) in enumerate(keys):
        params[f"c{i}"], params[f"o{i}"] = lock_class, object_id
    session.execute(text(f"SELECT {calls}"), params)


def lock_person(session: Session, email: str, date_of_birth: date) -> None:
    """Serialize online bookings by one person (normalised e-mail and date of birth) across
    every API process, whichever patient record each ends up on (PostgreSQL: an advisory lock
    on a hash of the identity; SQLite: writers are already serialized). Taken before any
    other booking lock, and only by online bookings, so it joins no lock cycle."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"person\n{email}\n{date_of_birth.isoformat()}".encode()).digest()
    session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": int.from_bytes(digest[:8], "big", signed=True)},
    )
