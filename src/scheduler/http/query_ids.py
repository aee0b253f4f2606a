"""Query parameters that name a resource by id, under one name across the API.

Bodies and most lists say ``location_id``; the slot searches said ``location`` (and
``appointment_type``, ``provider``). Both are accepted there: the ``*_id`` name, and the old
one as a deprecated alias. Giving both with different values, or neither for a required one, is
a 422 that names the parameter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from scheduler.errors import InvalidInput
from scheduler.kit.ids import RowId


def _one(name: str, value: int | None, old: str, old_value: int | None) -> int | None:
    if value is not None and old_value is not None and value != old_value:
        msg = f"{name}={value} and {old}={old_value} disagree; send {name} only."
        raise InvalidInput(msg, field=name)
    return value if value is not None else old_value


def _required(name: str, value: int | None) -> int:
    if value is None:
        raise InvalidInput(f"{name} is required.", field=name)
    return value


def location_id_query(
    location_id: Annotated[RowId | None, Query(description="Location id (required)")] = None,
    location: Annotated[
        RowId | None, Query(deprecated=True, description="Old name of location_id")
    ] = None,
) -> int:
    return _required("location_id", _one("location_id", location_id, "location", location))


def appointment_type_id_query(
    appointment_type_id: Annotated[
        RowId | None, Query(description="Appointment type id (required)")
    ] = None,
    appointment_type: Annotated[
        RowId | None, Query(deprecated=True, description="Old name of appointment_type_id")
    ] = None,
) -> int:
    value = _one("appointment_type_id", appointment_type_id, "appointment_type", appointment_type)
    return _required("appointment_type_id", value)


def provider_id_query(
    provider_id: Annotated[RowId | None, Query(description="Only this provider")] = None,
    provider: Annotated[
        RowId | None, Query(deprecated=True, description="Old name of provider_id")
    ] = None,
) -> int | None:
    return _one("provider_id", provider_id, "provider", provider)
