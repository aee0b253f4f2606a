"""A provider-role login (providers see only their own patients and change none)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from tests.factories import auth_headers, make_provider, make_user


@pytest.fixture
def provider_headers(db: Session, settings: Settings, clock: FrozenClock) -> dict[str, str]:
    provider = make_provider(db)
    user = make_user(db, role="provider", email="nora@clinic.example", provider_id=provider.id)
    return auth_headers(user, settings, clock.now())
