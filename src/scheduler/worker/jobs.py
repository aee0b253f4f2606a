"""Periodic jobs of the worker. Each is safe with several workers running.

On PostgreSQL a job first takes a transaction-scoped advisory lock named after it
(``pg_try_advisory_xact_lock``): a worker that cannot take it skips the round, another
worker is doing the same work. SQLite runs one worker, and serializes writers anyway.
Each job also re-checks every row under its own lock, so even two runs in a row change a
row once.

- ``release_expired_holds``: holds past ``expires_at`` that were neither booked nor released
  are marked released (they stopped blocking at ``expires_at`` already).
- ``mark_noshows``: ``booked`` visits (never checked in) whose grace has passed become
  ``noshow``, through the booking service (audited as done by ``system:worker``). The grace
  is ``noshow_grace_minutes`` after the end, or by default the end of the clinic's local day
  of the visit; a visit that has not ended is never touched.
- ``purge_idempotency_records``: ``Idempotency-Key`` records past their expiry
  (``idempotency_hours`` after they were written), by ``idempotency.service.purge_expired``.
- ``offer_waitlist_slots``: the waitlist's round (``waitlist/offer_service.py``): unanswered
  offers expire and pass on, entries past their window expire, freed slots are offered.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.availability.engine import local_instant
from scheduler.bookings import repository as bookings_repository
from scheduler.errors import Conflict
from scheduler.idempotency.service import purge_expired
from scheduler.waitlist.offer_service import WaitlistRound, run_round
from scheduler.worker.repository import try_job_lock

WORKER_ACTOR = Actor(kind="system", label="system:worker")
NOSHOW_BATCH = 500


def take_job_lock(session: Session, name: str) -> bool:
    """Whether this transaction may run job ``name`` now (always on SQLite)."""
    return try_job_lock(session, name)


def release_expired_holds(session: Session, *, now: datetime) -> int:
    if not take_job_lock(session, "holds"):
        return 0
    return bookings_repository.release_expired_holds(session, now)


def noshow_deadline(end_at: datetime, tz: ZoneInfo, grace_minutes: int | None) -> datetime:
    """When a visit still ``booked`` becomes a no-show: ``grace_minutes`` after its end, or
    the end of the clinic's local day it ends on (the next local midnight)."""
    if grace_minutes is not None:
        return end_at + timedelta(minutes=grace_minutes)
    day = end_at.astimezone(tz).date()
    return local_instant(day + timedelta(days=1), time(0), tz)


def mark_noshows(session: Session, *, now: datetime, grace_minutes: int | None) -> list[int]:
    """Mark the overdue ``booked`` visits as no-shows; their ids."""
    from scheduler.bookings.service import transition

    if not take_job_lock(session, "noshow"):
        return []
    candidates = bookings_repository.ended_booked_visits(session, now, limit=NOSHOW_BATCH)
    marked: list[int] = []
    for booking_id, end_at, zone in candidates:
        if now < noshow_deadline(end_at, ZoneInfo(zone), grace_minutes):
            continue
        try:
            with session.begin_nested():
                transition(
                    session,
                    booking_id,
                    "no-show",
                    actor=WORKER_ACTOR,
                    now=now,
                    if_match=None,
                    reason="not checked in by the end of the grace period",
                )
        except Conflict:
            continue  # changed meanwhile (checked in, cancelled): not a no-show
        marked.append(booking_id)
    return marked


def purge_idempotency_records(session: Session, *, now: datetime) -> int:
    if not take_job_lock(session, "idempotency"):
        return 0
    return purge_expired(session, now)


def offer_waitlist_slots(
    session: Session, *, now: datetime, offer_minutes: int, secret_key: str
) -> WaitlistRound:
    if not take_job_lock(session, "waitlist"):
        return WaitlistRound()
    return run_round(session, now=now, offer_minutes=offer_minutes, secret_key=secret_key)
