"""The availability editor's changes, applied through the rule services, and their preview.

The editor sends a provider's whole week at one location: kept, changed, removed and new
ranges. ``apply_week`` turns them into the ``availability_service`` calls the API makes
(removals first, then changes, then new ranges, so a range moved into a gap another one left
is not refused), each checked and audited there: no rule is repeated here.

``preview_week`` shows what a change would do before it is saved: the real slot search for
the coming week, once on the saved rules and once with the change applied inside a savepoint
that is always rolled back (nothing of it, audit events included, is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.availability.engine import local_instant
from scheduler.availability.service import search_slots
from scheduler.errors import SchedulerError
from scheduler.kit.timeutil import to_local
from scheduler.models import AvailabilityRule
from scheduler.providers import availability_service
from scheduler.providers.schemas import AvailabilityRuleCreate, AvailabilityRuleUpdate

PREVIEW_DAYS = 7


@dataclass(frozen=True)
class RangeChange:
    """One row of the editor: ``rule_id`` None is a new range, ``data`` None a removal."""

    key: str
    rule_id: int | None
    data: AvailabilityRuleCreate | None


class RangeRefused(Exception):
    """A service refused the change of row ``key`` (nothing of the week was saved)."""

    def __init__(self, key: str, error: SchedulerError) -> None:
        super().__init__(error.detail)
        self.key = key
        self.error = error


def _unchanged(rule: AvailabilityRule, data: AvailabilityRuleCreate) -> bool:
    return (
        rule.location_id == data.location_id
        and rule.weekday == data.weekday
        and rule.start_time == data.start_time
        and rule.end_time == data.end_time
        and rule.valid_from_date == data.valid_from_date
        and rule.valid_until_date == data.valid_until_date
    )


def apply_week(
    session: Session,
    provider_id: int,
    changes: Sequence[RangeChange],
    *,
    reason: str,
    actor: Actor,
    now: datetime,
) -> int:
    """Apply the editor's rows; return how many rules changed. The first refusal raises
    ``RangeRefused`` naming its row (the caller rolls the whole week back)."""
    removals = [c for c in changes if c.rule_id is not None and c.data is None]
    updates = [c for c in changes if c.rule_id is not None and c.data is not None]
    creations = [c for c in changes if c.rule_id is None and c.data is not None]
    done = 0
    for change in [*removals, *updates, *creations]:
        try:
            if change.rule_id is not None and change.data is None:
                availability_service.delete_rule(
                    session, provider_id, change.rule_id, reason=reason, actor=actor, now=now
                )
            elif change.rule_id is not None and change.data is not None:
                rule = availability_service.get_rule(session, provider_id, change.rule_id)
                if _unchanged(rule, change.data):
                    continue
                values = change.data.model_dump(exclude={"reason"})
                availability_service.update_rule(
                    session,
                    provider_id,
                    change.rule_id,
                    AvailabilityRuleUpdate(**values, reason=reason),
                    actor=actor,
                    now=now,
                )
            elif change.data is not None:
                data = change.data.model_copy(update={"reason": reason})
                availability_service.create_rule(session, provider_id, data, actor=actor, now=now)
        except SchedulerError as exc:
            raise RangeRefused(change.key, exc) from exc
        done += 1
    return done


@dataclass(frozen=True)
class DayPreview:
    day: date
    saved: list[datetime]  # local starts on the saved rules
    proposed: list[datetime] | None  # local starts with the change (None: no change given)

    @property
    def changed(self) -> bool:
        return self.proposed is not None and self.proposed != self.saved


@dataclass(frozen=True)
class WeekPreview:
    first_day: date
    timezone: str
    days: list[DayPreview]


def preview_week(
    session: Session,
    *,
    provider_id: int,
    location_id: int,
    appointment_type_id: int,
    timezone: str,
    now: datetime,
    change: Callable[[], object] | None = None,
) -> WeekPreview:
    """The provider's free starts of ``appointment_type_id`` at the location for the coming
    week (today and the six days after, in the location's zone), on the saved rules and, when
    ``change`` is given, with it applied. ``change`` runs inside a savepoint rolled back
    afterwards whatever happens; an error it raises propagates (after the rollback)."""
    tz = ZoneInfo(timezone)
    first_day = to_local(now, timezone).date()
    start_at = local_instant(first_day, time(0), tz)
    end_at = local_instant(first_day + timedelta(days=PREVIEW_DAYS), time(0), tz)

    def starts() -> dict[date, list[datetime]]:
        found = search_slots(
            session,
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            provider_id=provider_id,
            start_at=start_at,
            end_at=end_at,
            now=now,
        )
        by_day: dict[date, list[datetime]] = {}
        for slot in found.items:
            local = slot.start_at.astimezone(tz)
            by_day.setdefault(local.date(), []).append(local)
        return by_day

    saved = starts()
    proposed: dict[date, list[datetime]] | None = None
    if change is not None:
        savepoint = session.begin_nested()
        try:
            change()
            session.flush()
            proposed = starts()
        finally:
            savepoint.rollback()
    days = []
    for offset in range(PREVIEW_DAYS):
        day = first_day + timedelta(days=offset)
        days.append(
            DayPreview(
                day=day,
                saved=saved.get(day, []),
                proposed=None if proposed is None else proposed.get(day, []),
            )
        )
    return WeekPreview(first_day=first_day, timezone=timezone, days=days)
