"""``StaffAccounts``: a confirmed account is remembered for its time to live, no longer, and
the process remembers a bounded number of them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from scheduler.auth.dependencies import StaffAccounts
from scheduler.models import User


def _user(user_id: int) -> User:
    return User(
        id=user_id,
        email=f"u{user_id}@clinic.example",
        name="Staff",
        role="front_desk",
        password_hash="x",
        active=True,
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


def test_an_account_is_remembered_for_its_time_to_live_only() -> None:
    accounts = StaffAccounts(ttl_seconds=0.2)
    remembered = accounts.remember(_user(1))
    found = accounts.get(1)
    assert found is remembered
    assert found.email == "u1@clinic.example"
    time.sleep(0.25)
    assert accounts.get(1) is None  # looked up again from the database


def test_forgotten_accounts_are_looked_up_again() -> None:
    accounts = StaffAccounts()
    accounts.remember(_user(1))
    accounts.forget(1)
    assert accounts.get(1) is None


def test_the_oldest_accounts_make_room_when_the_process_remembers_too_many() -> None:
    accounts = StaffAccounts(max_accounts=3)
    for user_id in range(1, 6):
        accounts.remember(_user(user_id))
    assert [accounts.get(i) is not None for i in range(1, 6)] == [False, False, True, True, True]
    accounts.remember(_user(3))  # remembered again: the newest now
    accounts.remember(_user(6))
    assert [accounts.get(i) is not None for i in (3, 4, 5, 6)] == [True, False, True, True]
