"""Fixtures for provider tests: a clinic with two sites, and provider-role logins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import AppointmentType, Location, Provider
from tests.factories import (
    auth_headers,
    make_appointment_type,
    make_location,
    make_provider,
    make_user,
)

HeadersFor = Callable[[Provider], dict[str, str]]


@dataclass(frozen=True)
class Clinic:
    downtown: Location
    uptown: Location
    infusion: AppointmentType
    consult: AppointmentType
    nora: Provider  # works downtown only
    paul: Provider  # works at both sites

    @staticmethod
    def id_of(row: Location | AppointmentType | Provider) -> int:
        assert row.id is not None
        return row.id


@pytest.fixture
def clinic(db: Session) -> Clinic:
    downtown = make_location(db, name="Downtown")
    uptown = make_location(db, name="Uptown", timezone="America/Denver")
    infusion = make_appointment_type(db)
    consult = make_appointment_type(
        db,
        code="consult",
        name="Consultation",
        phases=[{"minutes": 45, "uses_chair": False, "provider_use": "exclusive"}],
        turnover_minutes=0,
    )
    nora = make_provider(db, name="Nora Nurse", locations=(downtown,), types=(infusion,))
    paul = make_provider(
        db, name="Paul Physician", locations=(downtown, uptown), types=(infusion, consult)
    )
    return Clinic(downtown, uptown, infusion, consult, nora, paul)


@pytest.fixture
def provider_headers_for(db: Session, settings: Settings, clock: FrozenClock) -> HeadersFor:
    """Bearer headers of a provider-role user linked to the given provider."""

    def headers(provider: Provider) -> dict[str, str]:
        user = make_user(
            db,
            role="provider",
            email=f"provider{provider.id}@clinic.example",
            provider_id=provider.id,
        )
        return auth_headers(user, settings, clock.now())

    return headers
