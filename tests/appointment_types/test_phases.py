"""``phases_of`` and ``resolve_phases`` are pure: no database needed."""

from __future__ import annotations

import pytest

from scheduler.appointment_types.service import phases_of, resolve_phases
from scheduler.errors import InvalidInput
from scheduler.models import AppointmentType


def test_phases_of_a_type_without_phases_is_one_phase_of_its_duration() -> None:
    chair = AppointmentType(code="a", name="A", duration_minutes=120, needs_chair=True)
    desk = AppointmentType(code="b", name="B", duration_minutes=30, needs_chair=False)
    assert phases_of(chair) == [{"minutes": 120, "uses_chair": True, "provider_use": "monitor"}]
    assert phases_of(desk) == [{"minutes": 30, "uses_chair": False, "provider_use": "exclusive"}]


def test_phases_of_returns_copies() -> None:
    phases = [{"minutes": 10, "uses_chair": True, "provider_use": "hands_on"}]
    row = AppointmentType(code="a", name="A", duration_minutes=10, needs_chair=True, phases=phases)
    got = phases_of(row)
    got[0]["minutes"] = 99
    assert row.phases[0]["minutes"] == 10


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"duration_minutes": None, "phases": None}, "duration_minutes"),
        (
            {
                "duration_minutes": 5,
                "phases": [{"minutes": 10, "uses_chair": False, "provider_use": "exclusive"}],
            },
            "duration_minutes",
        ),
        (
            {
                "duration_minutes": None,
                "phases": [{"minutes": 1441, "uses_chair": True, "provider_use": "none"}],
            },
            "phases",
        ),
    ],
    ids=["nothing", "sum_mismatch", "longer_than_a_day"],
)
def test_resolve_phases_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_phases(needs_chair=None, provider_use=None, **kwargs)  # type: ignore[arg-type]
    assert caught.value.extra["errors"][0]["field"] == field
