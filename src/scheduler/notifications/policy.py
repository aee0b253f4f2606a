"""When messages go: reminder offsets, quiet hours, the day-before instructions. Pure.

The rules (all in the clinic's zone):

- a reminder is due ``offset`` before the start (defaults 48 h and 24 h);
- the day-before instructions (fasting, driver) are due at ``instructions_time`` on the local
  day before the visit, for types that have any of them;
- a message due in the quiet hours (default 21:00-08:00) moves to the end of quiet hours at
  or before its due time (the 08:00 before it), so it never arrives later than planned: a
  fasting instruction that came late would be useless;
- a message whose (moved) time is already past, or not before the start, is not scheduled.

Wall-clock times are turned into instants with the availability engine's DST rule (a time in
the spring-forward gap happens when the clock resumes; a repeated hour means its first
occurrence), so quiet hours stay 21:00-08:00 local on both sides of a DST change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.availability.engine import local_instant
from scheduler.config import Settings


@dataclass(frozen=True)
class NotificationPolicy:
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=48), timedelta(hours=24))
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    instructions_time: time = time(18, 0)
    message_id_domain: str = "infusion-scheduler.localhost"
    manage_link_grace: timedelta = field(default=timedelta(days=1))

    @classmethod
    def from_settings(cls, settings: Settings) -> NotificationPolicy:
        from urllib.parse import urlsplit

        host = urlsplit(settings.public_base_url).hostname or "infusion-scheduler.localhost"
        return cls(
            reminder_offsets=tuple(
                timedelta(hours=h) for h in sorted(set(settings.reminder_offsets_hours))
            ),
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
            instructions_time=settings.instructions_local_time,
            message_id_domain=host,
        )


def in_quiet_hours(local: time, policy: NotificationPolicy) -> bool:
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    if start > end:  # across midnight, the usual case
        return local >= start or local < end
    return start <= local < end


def out_of_quiet_hours(due_at: datetime, tz: ZoneInfo, policy: NotificationPolicy) -> datetime:
    """``due_at``, or the end of quiet hours at or before it when it falls inside them."""
    local = due_at.astimezone(tz)
    if not in_quiet_hours(local.time().replace(tzinfo=None), policy):
        return due_at
    moved = local_instant(local.date(), policy.quiet_end, tz)
    if moved > due_at:
        moved = local_instant(local.date() - timedelta(days=1), policy.quiet_end, tz)
    return moved


def scheduled_messages(
    *,
    start_at: datetime,
    tz: ZoneInfo,
    now: datetime,
    policy: NotificationPolicy,
    with_instructions: bool,
) -> list[tuple[str, datetime]]:
    """``(kind, due_at)`` of the reminders and day-before instructions of a visit."""
    planned: list[tuple[str, datetime]] = [
        ("reminder", start_at - offset) for offset in policy.reminder_offsets
    ]
    if with_instructions:
        day_before = start_at.astimezone(tz).date() - timedelta(days=1)
        planned.append(("instructions", local_instant(day_before, policy.instructions_time, tz)))
    out: list[tuple[str, datetime]] = []
    for kind, due in planned:
        moved = out_of_quiet_hours(due, tz, policy)
        if now < moved < start_at:
            out.append((kind, moved))
    return sorted(out, key=lambda item: item[1])


def offsets_of(hours: Sequence[int]) -> tuple[timedelta, ...]:
    return tuple(timedelta(hours=h) for h in sorted(set(hours)))
