"""When reminders and the day-before instructions are due: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.notifications.policy import (
    NotificationPolicy,
    out_of_quiet_hours,
    scheduled_messages,
)

NEW_YORK = ZoneInfo("America/New_York")
POLICY = NotificationPolicy()


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK).astimezone(UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        pytest.param(ny(2026, 3, 4, 10, 0), ny(2026, 3, 4, 10, 0), id="daytime_unchanged"),
        pytest.param(ny(2026, 3, 4, 8, 0), ny(2026, 3, 4, 8, 0), id="quiet_end_itself_ok"),
        pytest.param(ny(2026, 3, 4, 21, 0), ny(2026, 3, 4, 8, 0), id="evening_same_morning"),
        pytest.param(ny(2026, 3, 4, 7, 30), ny(2026, 3, 3, 8, 0), id="early_morning_day_before"),
        pytest.param(ny(2026, 3, 8, 3, 30), ny(2026, 3, 7, 8, 0), id="spring_forward_night"),
    ],
)
def test_a_message_due_in_quiet_hours_moves_to_the_0800_before_it(
    due: datetime, expected: datetime
) -> None:
    assert out_of_quiet_hours(due, NEW_YORK, POLICY) == expected


def test_reminders_keep_local_clock_times_across_the_spring_forward_change() -> None:
    # Visit Monday 9 March 2026 10:00 EDT; the clocks changed on Sunday 8 March, 02:00.
    start = ny(2026, 3, 9, 10, 0)
    planned = scheduled_messages(
        start_at=start,
        tz=NEW_YORK,
        now=ny(2026, 3, 2, 9, 0),
        policy=POLICY,
        with_instructions=True,
    )
    local = [(kind, due.astimezone(NEW_YORK).strftime("%a %H:%M %Z")) for kind, due in planned]
    # 48 h and 24 h are real hours: 48 h before 10:00 EDT is 09:00 EST on Saturday, 24 h
    # before is 10:00 EDT on Sunday (the clocks went forward in between).
    assert local == [
        ("reminder", "Sat 09:00 EST"),
        ("reminder", "Sun 10:00 EDT"),
        ("instructions", "Sun 18:00 EDT"),
    ]


def test_messages_already_past_are_not_scheduled() -> None:
    start = ny(2026, 3, 4, 10, 0)
    planned = scheduled_messages(
        start_at=start,
        tz=NEW_YORK,
        now=ny(2026, 3, 3, 12, 0),  # booked 22 hours ahead
        policy=POLICY,
        with_instructions=True,
    )
    assert [kind for kind, _ in planned] == ["instructions"]


def test_a_moved_reminder_that_would_be_past_is_skipped() -> None:
    # Visit at 07:30: the 24 h reminder (07:30) moves to 08:00 two days before, which is
    # before "now" here, so it is skipped; the 48 h one moves earlier still and is past too.
    start = ny(2026, 3, 5, 7, 30)
    planned = scheduled_messages(
        start_at=start,
        tz=NEW_YORK,
        now=ny(2026, 3, 3, 9, 0),
        policy=POLICY,
        with_instructions=False,
    )
    assert planned == []


def test_configured_offsets_and_quiet_hours() -> None:
    policy = NotificationPolicy(
        reminder_offsets=(timedelta(hours=2),), quiet_start=time(22), quiet_end=time(6)
    )
    start = ny(2026, 3, 4, 7, 0)  # 2 h before is 05:00, quiet: moves to 06:00 the day before
    planned = scheduled_messages(
        start_at=start, tz=NEW_YORK, now=ny(2026, 3, 2, 9), policy=policy, with_instructions=False
    )
    assert planned == [("reminder", ny(2026, 3, 3, 6, 0))]
