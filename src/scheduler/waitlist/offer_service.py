"""Offering freed slots to the waitlist: the worker's periodic round. No FastAPI, no SQL.

One round, in one transaction (``worker/jobs.offer_waitlist_slots``):

1. **Offers whose time ran out** become ``expired``: the hold is released and the entry waits
   again, so the slot passes to the next entry (an entry is never offered a time overlapping
   one it already let pass).
2. **Entries whose window ended** (after their last day, in the clinic's zone) become
   ``expired``.
3. **New offers.** For each location and type with waiting entries, entries in offer order:
   patients with an active series whose next visit is not booked yet (it would slip) first,
   then first come. For each, the slot search (``availability.service.search_slots``, the
   same rules as every booking) looks for free starts in its window of dates whose local start
   time falls in its daily window (and with its provider, if it named one). The first such
   start is held for the entry's patient (``bookings.holds.create_hold``, which checks it again
   under the booking locks) and an offer with an accept link and a ``waitlist_offer``
   message in the outbox is written. The link, and the hold, last
   ``SCHEDULER_WAITLIST_OFFER_MINUTES``, never past the slot's own min notice; a start too
   close for any time to answer is not offered.

   **Not at night.** No new offer is made for a location during its quiet hours (default
   21:00-08:00 in the clinic's zone, the hours reminders keep out of): a mail at 02:00 holding
   a slot for two hours would hold it while the patient sleeps, and pass it on to the next
   sleeper. The freed time stays free meanwhile (the desk or an online booking may still take
   it) and the first round at the end of quiet hours offers it, if it is then still ahead by
   more than its notice; an earlier-morning start that is not is not offered at all. Offers
   made before 21:00 keep running to their end; expiries run all night.

Several workers on PostgreSQL: the round runs under a job advisory lock, entries are taken
``FOR UPDATE SKIP LOCKED``, and a slot is held through the booking placement's locks, which
see every committed hold: one slot is never held (so never offered) for two entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.availability.engine import local_instant
from scheduler.availability.service import MAX_WINDOW_DAYS, search_slots
from scheduler.bookings.holds import create_hold
from scheduler.bookings.schemas import HoldCreate
from scheduler.errors import Conflict, InvalidInput, NotFound, SchedulerError
from scheduler.models import AppointmentType, Location, Notification, WaitlistEntry, WaitlistOffer
from scheduler.notifications.outbox import new_message_id, policy_of
from scheduler.notifications.policy import in_quiet_hours
from scheduler.waitlist import repository
from scheduler.waitlist.service import end_offer
from scheduler.waitlist.tokens import new_nonce, offer_token_hash

WAITLIST_ACTOR = Actor(kind="system", label="system:waitlist")
BATCH = 200
SLOT_TRIES = 5  # starts tried per entry when the hold is refused (the patient is busy then)
OFFER_KIND = "waitlist_offer"


@dataclass
class WaitlistRound:
    expired_offers: int = 0
    expired_entries: int = 0
    offers: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.expired_offers or self.expired_entries or self.offers)


def run_round(
    session: Session, *, now: datetime, offer_minutes: int, secret_key: str
) -> WaitlistRound:
    outcome = WaitlistRound()
    outcome.expired_offers = expire_offers(session, now=now)
    outcome.expired_entries = expire_entries(session, now=now)
    outcome.offers = make_offers(
        session, now=now, offer_minutes=offer_minutes, secret_key=secret_key
    )
    return outcome


def expire_offers(session: Session, *, now: datetime) -> int:
    offers = repository.due_offers(session, now, limit=BATCH)
    for offer in offers:
        end_offer(session, offer, "expired", actor=WAITLIST_ACTOR, now=now)
        entry = repository.get_entry(session, offer.entry_id, for_update=True)
        if entry is not None and entry.status == "offered":
            _set_status(session, entry, "waiting", now=now, action="waitlist.offer_passed_on")
    return len(offers)


def window_end(entry: WaitlistEntry, tz: ZoneInfo) -> datetime:
    """The end of the entry's last day in the clinic's zone."""
    return local_instant(entry.latest_date + timedelta(days=1), time(0), tz)


def expire_entries(session: Session, *, now: datetime) -> int:
    # Today somewhere on earth is at most a day past UTC's: candidates first, then each
    # checked against its own clinic's calendar.
    candidates = repository.ending_entries(session, (now + timedelta(days=1)).date(), limit=BATCH)
    expired = 0
    for entry in candidates:
        location = session.get(Location, entry.location_id)
        assert location is not None
        if window_end(entry, ZoneInfo(location.timezone)) <= now:
            _set_status(session, entry, "expired", now=now, action="waitlist.expire")
            expired += 1
    return expired


def _set_status(
    session: Session, entry: WaitlistEntry, status: str, *, now: datetime, action: str
) -> None:
    entry.status = status
    entry.updated_at = now
    audited_write(
        session,
        entry,
        actor=WAITLIST_ACTOR,
        now=now,
        action=action,
        entity_type="waitlist_entry",
    )


def make_offers(
    session: Session, *, now: datetime, offer_minutes: int, secret_key: str
) -> list[int]:
    """Offer each waiting entry, in offer order, the first free start that suits it, except
    at locations in their quiet hours now; the ids of the offers made."""
    made: list[int] = []
    policy = policy_of(session)
    for location_id, type_id in repository.waiting_groups(session):
        location = session.get(Location, location_id)
        appointment_type = session.get(AppointmentType, type_id)
        if location is None or appointment_type is None:
            continue
        local_now = now.astimezone(ZoneInfo(location.timezone)).time().replace(tzinfo=None)
        if in_quiet_hours(local_now, policy):
            continue  # nobody is woken for an offer: the morning's first round makes it
        entries = repository.waiting_entries(session, location_id, type_id, now=now, limit=BATCH)
        for entry, _priority in entries:
            try:
                offer = offer_entry(
                    session,
                    entry,
                    location=location,
                    appointment_type=appointment_type,
                    now=now,
                    ttl=timedelta(minutes=offer_minutes),
                    secret_key=secret_key,
                )
            except SchedulerError:
                continue  # this entry cannot be searched now (a type made inactive, say)
            if offer is not None and offer.id is not None:
                made.append(offer.id)
    return made


def offer_entry(
    session: Session,
    entry: WaitlistEntry,
    *,
    location: Location,
    appointment_type: AppointmentType,
    now: datetime,
    ttl: timedelta,
    secret_key: str,
) -> WaitlistOffer | None:
    """Hold the first free start that suits ``entry`` and write its offer, or None."""
    assert entry.id is not None
    assert location.id is not None
    assert appointment_type.id is not None
    tz = ZoneInfo(location.timezone)
    first_day = max(entry.earliest_date, now.astimezone(tz).date())
    start = max(now, local_instant(first_day, time(0), tz))
    end = min(window_end(entry, tz), start + timedelta(days=MAX_WINDOW_DAYS))
    if end <= start:
        return None
    slots = search_slots(
        session,
        location_id=location.id,
        appointment_type_id=appointment_type.id,
        provider_id=entry.provider_id,
        start_at=start,
        end_at=end,
        now=now,
    )
    already = repository.offered_times(session, entry.id)
    notice = timedelta(minutes=appointment_type.min_notice_minutes)
    refused = 0
    for slot in slots.items:
        local_start = slot.start_at.astimezone(tz).time()
        if not entry.earliest_time <= local_start <= entry.latest_time:
            continue
        if any(start < slot.end_at and slot.start_at < end for start, end in already):
            continue  # this entry let that time pass: it goes to the next entry
        expires_at = min(now + ttl, slot.start_at - notice)
        if expires_at <= now:
            continue
        request = HoldCreate(
            appointment_type_id=appointment_type.id,
            location_id=location.id,
            start_at=slot.start_at,
            chair_id=None if slot.chair is None else slot.chair.id,
            provider_id=entry.provider_id or slot.provider.id,
            patient_id=entry.patient_id,
        )
        try:
            with session.begin_nested():
                hold = create_hold(
                    session,
                    request,
                    actor=WAITLIST_ACTOR,
                    now=now,
                    ttl=expires_at - now,
                    source="waitlist",
                )
        except (Conflict, InvalidInput, NotFound):
            refused += 1
            if refused >= SLOT_TRIES:
                return None
            continue
        return _write_offer(
            session,
            entry,
            hold_id=hold.id,
            hold_start=hold.start_at,
            hold_end=hold.end_at,
            expires_at=expires_at,
            now=now,
            secret_key=secret_key,
        )
    return None


def _write_offer(
    session: Session,
    entry: WaitlistEntry,
    *,
    hold_id: int | None,
    hold_start: datetime,
    hold_end: datetime,
    expires_at: datetime,
    now: datetime,
    secret_key: str,
) -> WaitlistOffer:
    assert hold_id is not None
    assert entry.id is not None
    notification_id = repository.add_notification(
        session,
        Notification(
            patient_id=entry.patient_id,
            kind=OFFER_KIND,
            due_at=now,
            message_id=new_message_id(policy_of(session)),
            created_at=now,
            updated_at=now,
        ),
    )
    nonce = new_nonce()
    offer = WaitlistOffer(
        entry_id=entry.id,
        hold_id=hold_id,
        notification_id=notification_id,
        nonce=nonce,
        token_hash=offer_token_hash(secret_key, nonce),
        start_at=hold_start,
        end_at=hold_end,
        expires_at=expires_at,
        status="offered",
        created_at=now,
        updated_at=now,
    )
    audited_write(
        session,
        offer,
        actor=WAITLIST_ACTOR,
        now=now,
        action="waitlist.offer",
        entity_type="waitlist_offer",
        exclude=frozenset({"nonce", "token_hash"}),
    )
    _set_status(session, entry, "offered", now=now, action="waitlist.offered")
    return offer
