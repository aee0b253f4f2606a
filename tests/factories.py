"""Typed factories that write rows straight through the ORM (fast set-up for API tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from sqlmodel import Session

from scheduler.auth.security import hash_password, issue_access_token
from scheduler.config import Settings
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

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
STAFF_PASSWORD = "correct horse battery staple"

INFUSION_PHASES: list[dict[str, Any]] = [
    {"minutes": 15, "uses_chair": True, "provider_use": "hands_on"},
    {"minutes": 40, "uses_chair": True, "provider_use": "monitor"},
    {"minutes": 45, "uses_chair": True, "provider_use": "none"},
]


@lru_cache(maxsize=1)
def _staff_password_hash() -> str:
    return hash_password(STAFF_PASSWORD)


def _save(db: Session, row: Any) -> Any:
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


def make_location(
    db: Session,
    *,
    name: str = "Downtown",
    timezone: str = "America/New_York",
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    open_time: time = time(8, 0),
    close_time: time = time(18, 0),
) -> Location:
    location: Location = _save(
        db, Location(name=name, timezone=timezone, created_at=EPOCH, updated_at=EPOCH)
    )
    assert location.id is not None
    for day in weekdays:
        db.add(
            LocationHours(
                location_id=location.id, weekday=day, open_time=open_time, close_time=close_time
            )
        )
    db.commit()
    return location


def make_chair(
    db: Session, location: Location, *, name: str = "Chair 1", position: int = 0
) -> Chair:
    assert location.id is not None
    chair: Chair = _save(db, Chair(location_id=location.id, name=name, position=position))
    return chair


def make_appointment_type(
    db: Session,
    *,
    code: str = "infusion",
    name: str = "Ketamine infusion",
    phases: list[dict[str, Any]] | None = None,
    turnover_minutes: int = 15,
    **fields: Any,
) -> AppointmentType:
    phases = INFUSION_PHASES if phases is None else phases
    values: dict[str, Any] = {
        "code": code,
        "name": name,
        "duration_minutes": sum(p["minutes"] for p in phases),
        "phases": phases,
        "needs_chair": any(p["uses_chair"] for p in phases),
        "turnover_minutes": turnover_minutes,
        "slot_step_minutes": 15,
        "min_notice_minutes": 60,
        "max_days_ahead": 90,
    }
    values.update(fields)
    appointment_type: AppointmentType = _save(db, AppointmentType(**values))
    return appointment_type


def make_provider(
    db: Session,
    *,
    name: str = "Nora Nurse",
    locations: tuple[Location, ...] = (),
    types: tuple[AppointmentType, ...] = (),
    max_concurrent_patients: int = 3,
    min_minutes_between_starts: int = 0,
    weekly: tuple[tuple[int, time, time], ...] = (),
) -> Provider:
    provider: Provider = _save(
        db,
        Provider(
            name=name,
            display_name=name,
            credentials="RN",
            max_concurrent_patients=max_concurrent_patients,
            min_minutes_between_starts=min_minutes_between_starts,
        ),
    )
    assert provider.id is not None
    for location in locations:
        assert location.id is not None
        db.add(ProviderLocation(provider_id=provider.id, location_id=location.id))
        for weekday, start, end in weekly:
            db.add(
                AvailabilityRule(
                    provider_id=provider.id,
                    location_id=location.id,
                    weekday=weekday,
                    start_time=start,
                    end_time=end,
                )
            )
    for appointment_type in types:
        assert appointment_type.id is not None
        db.add(
            ProviderAppointmentType(
                provider_id=provider.id, appointment_type_id=appointment_type.id
            )
        )
    db.commit()
    return provider


def make_patient(
    db: Session,
    *,
    first_name: str = "Jane",
    last_name: str = "Doe",
    date_of_birth: date = date(1980, 5, 17),
    email: str = "jane.doe@example.org",
    phone: str = "+1 555 0100",
    consult_completed: bool = False,
    consent_signed: bool = False,
    rems_enrolled: bool = False,
) -> Patient:
    patient: Patient = _save(
        db,
        Patient(
            first_name=first_name,
            last_name=last_name,
            date_of_birth=date_of_birth,
            email=email,
            phone=phone,
            consult_completed=consult_completed,
            consent_signed=consent_signed,
            rems_enrolled=rems_enrolled,
            created_at=EPOCH,
            updated_at=EPOCH,
        ),
    )
    return patient


def make_user(
    db: Session, *, role: str = "admin", email: str | None = None, provider_id: int | None = None
) -> User:
    user: User = _save(
        db,
        User(
            email=email or f"{role}@clinic.example",
            full_name=role.replace("_", " ").title(),
            password_hash=_staff_password_hash(),
            role=role,
            provider_id=provider_id,
            created_at=EPOCH,
        ),
    )
    return user


def auth_headers(user: User, settings: Settings, now: datetime) -> dict[str, str]:
    assert user.id is not None
    token, _ = issue_access_token(
        user_id=user.id,
        role=user.role,
        secret=settings.secret_key,
        now=now,
        minutes=settings.access_token_minutes,
    )
    return {"Authorization": f"Bearer {token}"}
