"""The demo clinic seeded by ``scheduler seed-demo`` (development only; idempotent).

One realistic clinic in a US zone with DST: six infusion chairs, four clinicians (including a
nurse who monitors up to three patients with staggered starts) and the five appointment types
a ketamine clinic books every day, with weekly hours that keep a lunch break.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlmodel import Session, select

from scheduler.auth.security import hash_password
from scheduler.models import (
    AppointmentType,
    AvailabilityRule,
    Chair,
    Location,
    LocationHours,
    Patient,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
    User,
)

DEMO_LOCATION = "Front Range Infusion Clinic"
DEMO_PASSWORD = "demo-password-change-me"  # noqa: S105 - printed for the developer, dev only

INFUSION_PHASES: list[dict[str, Any]] = [
    {"minutes": 15, "uses_chair": True, "provider_use": "hands_on"},  # check-in, IV placement
    {"minutes": 40, "uses_chair": True, "provider_use": "monitor"},  # infusion, monitored
    {"minutes": 45, "uses_chair": True, "provider_use": "none"},  # recovery, watched by staff
]
SPRAVATO_PHASES: list[dict[str, Any]] = [
    {"minutes": 10, "uses_chair": True, "provider_use": "hands_on"},  # supervised self-dose
    {"minutes": 120, "uses_chair": True, "provider_use": "monitor"},  # REMS observation
]

TYPES: list[dict[str, Any]] = [
    {
        "code": "consult",
        "name": "Screening consultation",
        "description": "First visit: history, screening, consent. May be telehealth.",
        "phases": [{"minutes": 60, "uses_chair": False, "provider_use": "exclusive"}],
        "self_schedulable": True,
        "min_notice_minutes": 24 * 60,
        "patient_instructions": "Bring a list of your current medications.",
    },
    {
        "code": "ketamine-infusion",
        "name": "Ketamine infusion",
        "phases": INFUSION_PHASES,
        "turnover_minutes": 15,
        "self_schedulable": True,
        "min_notice_minutes": 24 * 60,
        "prerequisites": ["consult_completed", "consent_signed"],
        "fasting_hours": 6,
        "clear_liquids_hours": 2,
        "driver_required": True,
        "patient_instructions": "No food for 6 hours before, clear liquids until 2 hours before. "
        "Someone must drive you home.",
    },
    {
        "code": "booster",
        "name": "Booster infusion",
        "phases": INFUSION_PHASES,
        "turnover_minutes": 15,
        "self_schedulable": True,
        "min_notice_minutes": 24 * 60,
        "prerequisites": ["consult_completed", "consent_signed"],
        "fasting_hours": 6,
        "clear_liquids_hours": 2,
        "driver_required": True,
        "patient_instructions": "Same preparation as your infusions: fast, and bring a driver.",
    },
    {
        "code": "spravato",
        "name": "Spravato (esketamine) session",
        "phases": SPRAVATO_PHASES,
        "turnover_minutes": 10,
        "self_schedulable": False,
        "requires_approval": True,
        "min_notice_minutes": 24 * 60,
        "prerequisites": ["consult_completed", "consent_signed", "rems_enrolled"],
        "fasting_hours": 2,
        "driver_required": True,
        "patient_instructions": "No food for 2 hours before. You may not drive for the rest "
        "of the day.",
    },
    {
        "code": "follow-up",
        "name": "Follow-up visit",
        "phases": [{"minutes": 30, "uses_chair": False, "provider_use": "exclusive"}],
        "self_schedulable": True,
        "min_notice_minutes": 4 * 60,
        "prerequisites": ["consult_completed"],
    },
]


@dataclass(frozen=True)
class DemoProvider:
    name: str
    credentials: str
    max_concurrent_patients: int
    min_minutes_between_starts: int
    type_codes: tuple[str, ...]
    login: str


PROVIDERS = (
    DemoProvider(
        "Dr. Alicia Moreno", "MD", 2, 15, ("consult", "ketamine-infusion", "follow-up"), "moreno"
    ),
    DemoProvider(
        "Ben Carter",
        "NP",
        3,
        15,
        ("consult", "follow-up", "ketamine-infusion", "booster"),
        "carter",
    ),
    DemoProvider("Nora Patel", "RN", 3, 15, ("ketamine-infusion", "booster", "spravato"), "patel"),
    DemoProvider("Sam Lee", "CRNA", 3, 20, ("ketamine-infusion", "booster"), "lee"),
)

# Mon–Fri 08:00–12:00 and 12:45–17:00 (a lunch break), Saturday mornings for two of them.
WEEKDAY_HOURS = ((time(8, 0), time(12, 0)), (time(12, 45), time(17, 0)))
SATURDAY_HOURS = ((time(9, 0), time(13, 0)),)

DEMO_PATIENTS = (
    ("Avery", "Quinn", date(1984, 2, 11), "avery.quinn@example.org", False, False, False),
    ("Jordan", "Blake", date(1979, 9, 30), "jordan.blake@example.org", True, True, False),
    ("Riley", "Santos", date(1991, 6, 4), "riley.santos@example.org", True, True, True),
)


def seed_demo(session: Session, *, now: datetime) -> list[tuple[str, str, str]] | None:
    """Create the demo clinic unless it exists. Returns the staff logins, or None if present."""
    if session.exec(select(Location).where(Location.name == DEMO_LOCATION)).first():
        return None
    location = Location(
        name=DEMO_LOCATION,
        address="1200 Pearl St, Boulder, CO 80302",
        timezone="America/Denver",
        phone="+1 303 555 0100",
        created_at=now,
        updated_at=now,
    )
    session.add(location)
    session.flush()
    assert location.id is not None
    for weekday in range(5):
        session.add(
            LocationHours(
                location_id=location.id,
                weekday=weekday,
                open_time=time(7, 30),
                close_time=time(18, 0),
            )
        )
    session.add(
        LocationHours(
            location_id=location.id, weekday=5, open_time=time(8, 30), close_time=time(14, 0)
        )
    )
    for position in range(1, 7):
        tags = ["private-room"] if position <= 4 else ["shared-bay"]
        session.add(
            Chair(location_id=location.id, name=f"Chair {position}", position=position, tags=tags)
        )

    types: dict[str, AppointmentType] = {}
    for spec in TYPES:
        phases = spec["phases"]
        fields = {k: v for k, v in spec.items() if k != "phases"}
        appointment_type = AppointmentType(
            duration_minutes=sum(p["minutes"] for p in phases),
            phases=phases,
            needs_chair=any(p["uses_chair"] for p in phases),
            **fields,
        )
        session.add(appointment_type)
        types[spec["code"]] = appointment_type
    session.flush()

    password_hash = hash_password(DEMO_PASSWORD)
    logins = [
        ("admin", "admin@demo.clinic", DEMO_PASSWORD),
        ("front_desk", "desk@demo.clinic", DEMO_PASSWORD),
    ]
    session.add(
        User(
            email="admin@demo.clinic",
            full_name="Clinic Admin",
            password_hash=password_hash,
            role="admin",
            created_at=now,
        )
    )
    session.add(
        User(
            email="desk@demo.clinic",
            full_name="Front Desk",
            password_hash=password_hash,
            role="front_desk",
            created_at=now,
        )
    )
    for index, person in enumerate(PROVIDERS):
        provider = Provider(
            name=person.name,
            display_name=f"{person.name}, {person.credentials}",
            credentials=person.credentials,
            max_concurrent_patients=person.max_concurrent_patients,
            min_minutes_between_starts=person.min_minutes_between_starts,
        )
        session.add(provider)
        session.flush()
        assert provider.id is not None
        session.add(ProviderLocation(provider_id=provider.id, location_id=location.id))
        for code in person.type_codes:
            type_id = types[code].id
            assert type_id is not None
            session.add(
                ProviderAppointmentType(provider_id=provider.id, appointment_type_id=type_id)
            )
        for weekday in range(5):
            for start, end in WEEKDAY_HOURS:
                session.add(
                    AvailabilityRule(
                        provider_id=provider.id,
                        location_id=location.id,
                        weekday=weekday,
                        start_time=start,
                        end_time=end,
                    )
                )
        if index % 2 == 0:
            for start, end in SATURDAY_HOURS:
                session.add(
                    AvailabilityRule(
                        provider_id=provider.id,
                        location_id=location.id,
                        weekday=5,
                        start_time=start,
                        end_time=end,
                    )
                )
        email = f"{person.login}@demo.clinic"
        session.add(
            User(
                email=email,
                full_name=person.name,
                password_hash=password_hash,
                role="provider",
                provider_id=provider.id,
                created_at=now,
            )
        )
        logins.append(("provider", email, DEMO_PASSWORD))

    for first, last, dob, email, consult, consent, rems in DEMO_PATIENTS:
        session.add(
            Patient(
                first_name=first,
                last_name=last,
                date_of_birth=dob,
                email=email,
                phone="+1 303 555 01" + str(len(first)).zfill(2),
                consult_completed=consult,
                consent_signed=consent,
                rems_enrolled=rems,
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()
    return logins
