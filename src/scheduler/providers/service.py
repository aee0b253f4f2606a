"""Providers and the locations and appointment types they work with (rules; no FastAPI here).

Weekly rules and dated exceptions live in ``providers.availability_service``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import Provider
from scheduler.providers import repository
from scheduler.providers.schemas import ProviderCreate, ProviderRead, ProviderUpdate


def get_provider(session: Session, provider_id: int, *, lock: bool = False) -> Provider:
    """The provider, or 404. ``lock`` holds its row until the transaction ends."""
    if lock:
        provider = repository.lock_provider(session, provider_id)
    else:
        provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"Provider {provider_id} does not exist.")
    return provider


def location_ids_of(session: Session, provider_id: int) -> list[int]:
    return repository.location_ids_of(session, [provider_id])[provider_id]


def to_read(provider: Provider, location_ids: list[int], type_ids: list[int]) -> ProviderRead:
    assert provider.id is not None
    return ProviderRead(
        id=provider.id,
        name=provider.name,
        display_name=provider.display_name,
        credentials=provider.credentials,
        email=provider.email,
        max_concurrent_patients=provider.max_concurrent_patients,
        min_minutes_between_starts=provider.min_minutes_between_starts,
        active=provider.active,
        location_ids=location_ids,
        appointment_type_ids=type_ids,
    )


def read_provider(session: Session, provider_id: int) -> ProviderRead:
    provider = get_provider(session, provider_id)
    return to_read(
        provider,
        repository.location_ids_of(session, [provider_id])[provider_id],
        repository.appointment_type_ids_of(session, [provider_id])[provider_id],
    )


def list_providers(
    session: Session,
    *,
    location_id: int | None,
    appointment_type_id: int | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[ProviderRead], int]:
    rows, total = repository.list_providers(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        active=active,
        limit=limit,
        offset=offset,
    )
    ids = [r.id for r in rows if r.id is not None]
    locations = repository.location_ids_of(session, ids)
    types = repository.appointment_type_ids_of(session, ids)
    return [to_read(r, locations[r.id], types[r.id]) for r in rows if r.id is not None], total


def _check_links_exist(
    session: Session, location_ids: list[int] | None, type_ids: list[int] | None
) -> None:
    if location_ids:
        missing = repository.missing_location_ids(session, location_ids)
        if missing:
            raise InvalidInput(
                f"Unknown location id(s): {', '.join(map(str, missing))}.", field="location_ids"
            )
    if type_ids:
        missing = repository.missing_appointment_type_ids(session, type_ids)
        if missing:
            raise InvalidInput(
                f"Unknown appointment type id(s): {', '.join(map(str, missing))}.",
                field="appointment_type_ids",
            )


def _audit_snapshot(provider: Provider, location_ids: list[int], type_ids: list[int]) -> Any:
    data = snapshot(provider) or {}
    data["location_ids"] = list(location_ids)
    data["appointment_type_ids"] = list(type_ids)
    return data


def create_provider(
    session: Session, data: ProviderCreate, *, actor: Actor, now: datetime
) -> ProviderRead:
    _check_links_exist(session, data.location_ids, data.appointment_type_ids)
    provider = Provider(
        name=data.name,
        display_name=data.display_name or data.name,
        credentials=data.credentials,
        email=data.email or "",
        max_concurrent_patients=data.max_concurrent_patients,
        min_minutes_between_starts=data.min_minutes_between_starts,
        active=data.active,
    )
    session.add(provider)
    session.flush()
    assert provider.id is not None
    repository.replace_locations(session, provider.id, data.location_ids)
    repository.replace_appointment_types(session, provider.id, data.appointment_type_ids)
    audited_write(
        session,
        provider,
        actor=actor,
        now=now,
        action="provider.create",
        entity_type="provider",
        after=lambda: _audit_snapshot(provider, data.location_ids, data.appointment_type_ids),
    )
    return to_read(provider, data.location_ids, data.appointment_type_ids)


def _check_locations_removable(
    session: Session, provider_id: int, removed_location_ids: list[int]
) -> None:
    """A location can leave the provider's set only once no rule or exception names it there.

    Otherwise those rows would describe hours at a site the provider no longer works at; the
    caller deletes them first (each deletion is audited) rather than having them vanish.
    """
    rules, exceptions = repository.availability_at(session, provider_id, removed_location_ids)
    if rules or exceptions:
        parts = [f"availability rule {r.id} (location {r.location_id})" for r in rules]
        parts += [f"exception {e.id} (location {e.location_id})" for e in exceptions]
        raise Conflict(
            "Cannot remove a location that still has the provider's availability: "
            f"{', '.join(parts)}. Delete those first.",
            code="location_in_use",
        )


def update_provider(
    session: Session, provider_id: int, data: ProviderUpdate, *, actor: Actor, now: datetime
) -> ProviderRead:
    provider = get_provider(session, provider_id, lock=True)
    current = read_provider(session, provider_id)
    before = _audit_snapshot(provider, current.location_ids, current.appointment_type_ids)
    _check_links_exist(session, data.location_ids, data.appointment_type_ids)
    changes = data.model_dump(exclude_unset=True, exclude={"location_ids", "appointment_type_ids"})
    if "email" in changes:
        changes["email"] = changes["email"] or ""
    if (
        "name" in changes
        and "display_name" not in changes
        and provider.display_name == provider.name
    ):
        # A display name that merely defaulted to the name follows a rename.
        changes["display_name"] = changes["name"]
    for key, value in changes.items():
        setattr(provider, key, value)
    location_ids = current.location_ids
    if data.location_ids is not None:
        removed = sorted(set(current.location_ids) - set(data.location_ids))
        _check_locations_removable(session, provider_id, removed)
        location_ids = data.location_ids
        repository.replace_locations(session, provider_id, location_ids)
    type_ids = current.appointment_type_ids
    if data.appointment_type_ids is not None:
        type_ids = data.appointment_type_ids
        repository.replace_appointment_types(session, provider_id, type_ids)
    audited_write(
        session,
        provider,
        actor=actor,
        now=now,
        action="provider.update",
        entity_type="provider",
        before=before,
        after=lambda: _audit_snapshot(provider, location_ids, type_ids),
    )
    return to_read(provider, location_ids, type_ids)
