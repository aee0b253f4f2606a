"""A small clinic for booking tests: New York, two chairs, one nurse monitoring two patients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import pytest
from sqlmodel import Session

from scheduler.models import AppointmentType, Chair, Location, Patient, Provider
from tests.factories import (
    make_appointment_type,
    make_chair,
    make_location,
    make_patient,
    make_provider,
)

WEEKDAYS_9_TO_5 = tuple((d, time(8, 0), time(17, 0)) for d in range(5))


@dataclass
class Clinic:
    location: Location
    chairs: list[Chair]
    nurse: Provider
    infusion: AppointmentType
    consult: AppointmentType
    patient: Patient
    other_patient: Patient
    new_patient: Patient

    @property
    def location_id(self) -> int:
        assert self.location.id is not None
        return self.location.id

    @property
    def infusion_id(self) -> int:
        assert self.infusion.id is not None
        return self.infusion.id


@pytest.fixture
def clinic(db: Session) -> Clinic:
    return make_clinic(db)


def make_clinic(db: Session) -> Clinic:
    """Downtown (New York) with two chairs, a nurse working weekdays 9-5 who gives infusions
    and consultations, an eligible patient, another one, and a new one."""
    location = make_location(db)
    chairs = [make_chair(db, location, name=f"Chair {i}", position=i) for i in (1, 2)]
    infusion = make_appointment_type(
        db,
        prerequisites=["consult_completed", "consent_signed"],
        patient_cancel_cutoff_minutes=24 * 60,
    )
    consult = make_appointment_type(
        db,
        code="consult",
        name="Consultation",
        phases=[{"minutes": 60, "uses_chair": False, "provider_use": "exclusive"}],
        turnover_minutes=0,
    )
    nurse = make_provider(
        db,
        locations=(location,),
        types=(infusion, consult),
        max_concurrent_patients=2,
        weekly=WEEKDAYS_9_TO_5,
    )
    patient = make_patient(db, consult_completed=True, consent_signed=True)
    other = make_patient(
        db,
        first_name="Omar",
        last_name="Okafor",
        email="omar@example.org",
        consult_completed=True,
        consent_signed=True,
    )
    new = make_patient(db, first_name="Nia", last_name="Adeyemi", email="nia@example.org")
    return Clinic(location, chairs, nurse, infusion, consult, patient, other, new)
