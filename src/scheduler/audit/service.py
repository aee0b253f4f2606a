"""The audit trail: who changed what, when, why, in which request.

``record_event`` adds the event to the caller's session, so it commits or rolls back with the
change itself: there is never a change without its audit event, nor an event for a change
that did not happen. Events are never updated or deleted (no API does either).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlmodel import Session, SQLModel

from scheduler.audit import repository
from scheduler.auth.actors import Actor
from scheduler.models import AuditEvent, User


def snapshot(
    row: SQLModel | Mapping[str, Any] | None, *, exclude: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """A JSON-safe picture of a row (an object, or its column values) for before/after
    (secrets excluded by the caller)."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    values = row.model_dump() if isinstance(row, SQLModel) else row
    for key, value in values.items():
        if key in exclude:
            continue
        out[key] = value.isoformat() if isinstance(value, datetime | date | time) else value
    return out


def record_event(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Insert the event now, in the caller's transaction."""
    repository.insert_event(
        session,
        {
            "occurred_at": now,
            "actor": actor.label,
            "actor_user_id": actor.user_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "before": before,
            "after": after,
            "reason": reason,
            "request_id": actor.request_id,
        },
    )


# What an audited write records as ``after``: a picture taken before the call, or a function
# that takes it once the row is flushed (so it shows ids and what the flush wrote).
After = dict[str, Any] | Callable[[], dict[str, Any] | None] | None


def audited_write(
    session: Session,
    row: SQLModel,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    entity_type: str,
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: After = None,
    reason: str = "",
    exclude: frozenset[str] = frozenset(),
) -> None:
    """Write ``row`` (add and flush, so it has its id) and its audit event, in the caller's
    transaction: the one way a change outside the bookings' own statements is recorded.

    ``entity_id``: the entity the event is about, when that is not the row (default: the
    row's id). ``after``: by default the row as flushed (``exclude``: secret columns); a
    callable is called after the flush (an event without ``after``: ``lambda: None``).
    """
    session.add(row)
    session.flush()
    if after is None:
        after = snapshot(row, exclude=exclude)
    elif callable(after):
        after = after()
    record_event(
        session,
        actor=actor,
        now=now,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id if entity_id is not None else getattr(row, "id", None),
        before=before,
        after=after,
        reason=reason,
    )


def audited_delete(
    session: Session,
    row: SQLModel,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    entity_type: str,
    reason: str = "",
    exclude: frozenset[str] = frozenset(),
) -> None:
    """Delete ``row`` for good; its audit event keeps the row as it was (``before``)."""
    record_event(
        session,
        actor=actor,
        now=now,
        action=action,
        entity_type=entity_type,
        entity_id=getattr(row, "id", None),
        before=snapshot(row, exclude=exclude),
        reason=reason,
    )
    session.delete(row)
    session.flush()


def events_of(
    session: Session, *, entity_type: str, entity_id: int, actions: Sequence[str] | None = None
) -> list[tuple[AuditEvent, User | None]]:
    """An entity's history: its events (only these actions, when given), oldest first, each
    with the staff user who acted (None for the public, the system or a deleted account)."""
    return repository.events_of_entity(
        session, entity_type=entity_type, entity_id=entity_id, actions=actions
    )
