"""A provider's weekly availability rules and dated exceptions (rules; no FastAPI here).

Every change is audited (DESIGN invariant 7) with the actor and the reason given. Writes lock
the provider row first, so two concurrent requests cannot both pass the overlap check on
PostgreSQL (SQLite serializes writers anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlmodel import Session

from scheduler.audit.service import audited_delete, audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.kit.timeutil import END_OF_DAY, wall_time_text
from scheduler.models import AvailabilityException, AvailabilityRule
from scheduler.providers import repository
from scheduler.providers.schemas import (
    AvailabilityRuleCreate,
    AvailabilityRuleUpdate,
    ProviderExceptionCreate,
    ProviderExceptionUpdate,
    rule_shape_problem,
)
from scheduler.providers.service import get_provider, location_ids_of

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class RuleWindow:
    """The part of a weekly rule that decides overlap: wall-clock span and validity dates."""

    start_time: time
    end_time: time
    valid_from_date: date | None
    valid_until_date: date | None


def _dates_intersect(a: RuleWindow, b: RuleWindow) -> bool:
    # Inclusive date ranges; a missing bound is open-ended on that side.
    a_before_b_ends = (
        a.valid_from_date is None
        or b.valid_until_date is None
        or (a.valid_from_date <= b.valid_until_date)
    )
    b_before_a_ends = (
        b.valid_from_date is None
        or a.valid_until_date is None
        or (b.valid_from_date <= a.valid_until_date)
    )
    return a_before_b_ends and b_before_a_ends


def rules_overlap(a: RuleWindow, b: RuleWindow) -> bool:
    """Two rules of one provider, location and weekday overlap when both their half-open
    wall-clock spans and their validity date ranges intersect. Touching spans (one ends at
    08:00, the next starts at 08:00) do not overlap, nor do rules valid in disjoint periods
    (a summer and a winter schedule)."""
    return a.start_time < b.end_time and b.start_time < a.end_time and _dates_intersect(a, b)


def find_overlap(
    candidate: RuleWindow, existing: Sequence[AvailabilityRule], *, except_id: int | None = None
) -> AvailabilityRule | None:
    """The first (earliest) of ``existing`` that overlaps ``candidate``, ignoring ``except_id``."""
    for rule in existing:
        if rule.id == except_id:
            continue
        window = RuleWindow(
            rule.start_time, rule.end_time, rule.valid_from_date, rule.valid_until_date
        )
        if rules_overlap(candidate, window):
            return rule
    return None


def describe_rule(rule: AvailabilityRule) -> str:
    valid_from = rule.valid_from_date.isoformat() if rule.valid_from_date else "always"
    valid_until = rule.valid_until_date.isoformat() if rule.valid_until_date else "open-ended"
    return (
        f"rule {rule.id} ({WEEKDAY_NAMES[rule.weekday]} "
        f"{rule.start_time:%H:%M}-{wall_time_text(rule.end_time)}, "
        f"valid {valid_from} to {valid_until})"
    )


def _check_location(session: Session, provider_id: int, location_id: int | None) -> None:
    if location_id is None:
        return
    if location_id not in location_ids_of(session, provider_id):
        raise InvalidInput(
            f"Location {location_id} is not one of provider {provider_id}'s locations.",
            field="location_id",
        )


def _check_no_overlap(
    session: Session,
    provider_id: int,
    location_id: int,
    weekday: int,
    candidate: RuleWindow,
    *,
    except_id: int | None = None,
) -> None:
    existing = repository.rules_on(session, provider_id, location_id, weekday)
    clash = find_overlap(candidate, existing, except_id=except_id)
    if clash is not None:
        raise Conflict(
            f"The new hours overlap the existing {describe_rule(clash)} at location "
            f"{location_id}. Rules may touch but not overlap; change or delete that rule first.",
            code="rule_overlap",
            extra={
                "conflicting_rule": {
                    "id": clash.id,
                    "weekday": clash.weekday,
                    "start_time": clash.start_time.isoformat(),
                    "end_time": "24:00"
                    if clash.end_time == END_OF_DAY
                    else clash.end_time.isoformat(),
                    "valid_from_date": _iso(clash.valid_from_date),
                    "valid_until_date": _iso(clash.valid_until_date),
                }
            },
        )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_rules(
    session: Session,
    provider_id: int,
    *,
    location_id: int | None,
    weekday: int | None,
    limit: int,
    offset: int,
) -> tuple[list[AvailabilityRule], int]:
    get_provider(session, provider_id)
    return repository.list_rules(
        session, provider_id, location_id=location_id, weekday=weekday, limit=limit, offset=offset
    )


def get_rule(session: Session, provider_id: int, rule_id: int) -> AvailabilityRule:
    rule = session.get(AvailabilityRule, rule_id)
    if rule is None or rule.provider_id != provider_id:
        raise NotFound(f"Availability rule {rule_id} does not exist for provider {provider_id}.")
    return rule


def create_rule(
    session: Session,
    provider_id: int,
    data: AvailabilityRuleCreate,
    *,
    actor: Actor,
    now: datetime,
) -> AvailabilityRule:
    get_provider(session, provider_id, lock=True)
    _check_location(session, provider_id, data.location_id)
    window = RuleWindow(data.start_time, data.end_time, data.valid_from_date, data.valid_until_date)
    _check_no_overlap(session, provider_id, data.location_id, data.weekday, window)
    rule = AvailabilityRule(provider_id=provider_id, **data.model_dump(exclude={"reason"}))
    audited_write(
        session,
        rule,
        actor=actor,
        now=now,
        action="availability_rule.create",
        entity_type="availability_rule",
        reason=data.reason,
    )
    return rule


def update_rule(
    session: Session,
    provider_id: int,
    rule_id: int,
    data: AvailabilityRuleUpdate,
    *,
    actor: Actor,
    now: datetime,
) -> AvailabilityRule:
    """Apply a partial change, then check the merged rule as if it were new (shape, location,
    overlap with the provider's other rules)."""
    get_provider(session, provider_id, lock=True)
    rule = get_rule(session, provider_id, rule_id)
    before = snapshot(rule)
    merged = rule.model_dump() | data.model_dump(exclude_unset=True, exclude={"reason"})
    problem = rule_shape_problem(
        merged["start_time"],
        merged["end_time"],
        merged["valid_from_date"],
        merged["valid_until_date"],
    )
    if problem is not None:
        field, message = problem
        raise InvalidInput(message, field=field)
    if merged["location_id"] != rule.location_id:
        _check_location(session, provider_id, merged["location_id"])
    window = RuleWindow(
        merged["start_time"],
        merged["end_time"],
        merged["valid_from_date"],
        merged["valid_until_date"],
    )
    _check_no_overlap(
        session, provider_id, merged["location_id"], merged["weekday"], window, except_id=rule_id
    )
    for key in ("location_id", "weekday", "start_time", "end_time"):
        setattr(rule, key, merged[key])
    rule.valid_from_date = merged["valid_from_date"]
    rule.valid_until_date = merged["valid_until_date"]
    audited_write(
        session,
        rule,
        actor=actor,
        now=now,
        action="availability_rule.update",
        entity_type="availability_rule",
        before=before,
        reason=data.reason,
    )
    return rule


def delete_rule(
    session: Session, provider_id: int, rule_id: int, *, reason: str, actor: Actor, now: datetime
) -> None:
    """Rules are removed outright (they are configuration); the audit event keeps the record."""
    get_provider(session, provider_id, lock=True)
    rule = get_rule(session, provider_id, rule_id)
    audited_delete(
        session,
        rule,
        actor=actor,
        now=now,
        action="availability_rule.delete",
        entity_type="availability_rule",
        reason=reason,
    )


def list_exceptions(
    session: Session,
    provider_id: int,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[AvailabilityException], int]:
    """Exceptions that intersect the window [start_at, end_at) (either bound optional)."""
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInput("end must be after start", field="end")
    get_provider(session, provider_id)
    return repository.list_exceptions(
        session,
        provider_id,
        start_at=start_at,
        end_at=end_at,
        kind=kind,
        limit=limit,
        offset=offset,
    )


def get_exception(session: Session, provider_id: int, exception_id: int) -> AvailabilityException:
    exception = session.get(AvailabilityException, exception_id)
    if exception is None or exception.provider_id != provider_id:
        raise NotFound(f"Exception {exception_id} does not exist for provider {provider_id}.")
    return exception


def create_exception(
    session: Session,
    provider_id: int,
    data: ProviderExceptionCreate,
    *,
    actor: Actor,
    now: datetime,
) -> AvailabilityException:
    get_provider(session, provider_id, lock=True)
    _check_location(session, provider_id, data.location_id)
    exception = AvailabilityException(
        provider_id=provider_id,
        location_id=data.location_id,
        kind=data.kind,
        start_at=data.start_at,
        end_at=data.end_at,
        reason=data.reason,
    )
    audited_write(
        session,
        exception,
        actor=actor,
        now=now,
        action="availability_exception.create",
        entity_type="availability_exception",
        reason=data.reason,
    )
    return exception


def update_exception(
    session: Session,
    provider_id: int,
    exception_id: int,
    data: ProviderExceptionUpdate,
    *,
    actor: Actor,
    now: datetime,
) -> AvailabilityException:
    """Apply a partial change, then check the merged exception as if it were new."""
    get_provider(session, provider_id, lock=True)
    exception = get_exception(session, provider_id, exception_id)
    before = snapshot(exception)
    merged = exception.model_dump() | data.model_dump(exclude_unset=True)
    if merged["end_at"] <= merged["start_at"]:
        raise InvalidInput("end_at must be after start_at", field="end_at")
    if merged["kind"] == "extra" and merged["location_id"] is None:
        raise InvalidInput("location_id is required for extra hours", field="location_id")
    if merged["location_id"] != exception.location_id:
        _check_location(session, provider_id, merged["location_id"])
    for key in ("kind", "start_at", "end_at", "reason"):
        setattr(exception, key, merged[key])
    exception.location_id = merged["location_id"]
    audited_write(
        session,
        exception,
        actor=actor,
        now=now,
        action="availability_exception.update",
        entity_type="availability_exception",
        before=before,
        reason=exception.reason,
    )
    return exception


def delete_exception(
    session: Session,
    provider_id: int,
    exception_id: int,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    get_provider(session, provider_id, lock=True)
    exception = get_exception(session, provider_id, exception_id)
    audited_delete(
        session,
        exception,
        actor=actor,
        now=now,
        action="availability_exception.delete",
        entity_type="availability_exception",
        reason=reason,
    )
