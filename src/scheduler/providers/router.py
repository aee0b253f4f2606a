from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from scheduler.auth.dependencies import Admin, AnyStaff, StaffActor, ensure_own_provider
from scheduler.deps import ClockDep
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.kit.timeutil import Instant
from scheduler.providers import availability_service, service
from scheduler.providers.schemas import (
    AvailabilityRuleCreate,
    AvailabilityRuleRead,
    AvailabilityRuleUpdate,
    ExceptionKind,
    ProviderCreate,
    ProviderExceptionCreate,
    ProviderExceptionRead,
    ProviderExceptionUpdate,
    ProviderRead,
    ProviderUpdate,
)

router = APIRouter(prefix="/providers", tags=["providers"], route_class=CommitRoute)
PageDep = Annotated[PageParams, Depends(page_params)]
AuditReason = Annotated[
    str, Query(max_length=500, description="Why the change is made; kept in the audit log.")
]


@router.get("", response_model=Page[ProviderRead])
def list_providers(
    _: AnyStaff,
    session: SessionDep,
    page: PageDep,
    location_id: RowId | None = None,
    appointment_type_id: RowId | None = None,
    active: bool | None = None,
) -> Page[ProviderRead]:
    items, total = service.list_providers(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        active=active,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("", response_model=ProviderRead, status_code=status.HTTP_201_CREATED)
def create_provider(
    data: ProviderCreate, _: Admin, actor: StaffActor, session: SessionDep, clock: ClockDep
) -> ProviderRead:
    return service.create_provider(session, data, actor=actor, now=clock.now())


@router.get("/{provider_id}", response_model=ProviderRead)
def get_provider(provider_id: RowId, _: AnyStaff, session: SessionDep) -> ProviderRead:
    return service.read_provider(session, provider_id)


@router.patch("/{provider_id}", response_model=ProviderRead)
def update_provider(
    provider_id: RowId,
    data: ProviderUpdate,
    _: Admin,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> ProviderRead:
    return service.update_provider(session, provider_id, data, actor=actor, now=clock.now())


@router.get(
    "/{provider_id}/availability-rules",
    response_model=Page[AvailabilityRuleRead],
    tags=["availability"],
)
def list_availability_rules(
    provider_id: RowId,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    page: PageDep,
    location_id: RowId | None = None,
    weekday: Annotated[int | None, Query(ge=0, le=6, description="0 = Monday")] = None,
) -> Page[AvailabilityRuleRead]:
    ensure_own_provider(actor, provider_id)
    rows, total = availability_service.list_rules(
        session,
        provider_id,
        location_id=location_id,
        weekday=weekday,
        limit=page.limit,
        offset=page.offset,
    )
    items = [AvailabilityRuleRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/{provider_id}/availability-rules",
    response_model=AvailabilityRuleRead,
    status_code=status.HTTP_201_CREATED,
    tags=["availability"],
)
def create_availability_rule(
    provider_id: RowId,
    data: AvailabilityRuleCreate,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> AvailabilityRuleRead:
    ensure_own_provider(actor, provider_id)
    rule = availability_service.create_rule(
        session, provider_id, data, actor=actor, now=clock.now()
    )
    return AvailabilityRuleRead.model_validate(rule)


@router.get(
    "/{provider_id}/availability-rules/{rule_id}",
    response_model=AvailabilityRuleRead,
    tags=["availability"],
)
def get_availability_rule(
    provider_id: RowId, rule_id: RowId, _: AnyStaff, actor: StaffActor, session: SessionDep
) -> AvailabilityRuleRead:
    ensure_own_provider(actor, provider_id)
    rule = availability_service.get_rule(session, provider_id, rule_id)
    return AvailabilityRuleRead.model_validate(rule)


@router.patch(
    "/{provider_id}/availability-rules/{rule_id}",
    response_model=AvailabilityRuleRead,
    tags=["availability"],
)
def update_availability_rule(
    provider_id: RowId,
    rule_id: RowId,
    data: AvailabilityRuleUpdate,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> AvailabilityRuleRead:
    ensure_own_provider(actor, provider_id)
    rule = availability_service.update_rule(
        session, provider_id, rule_id, data, actor=actor, now=clock.now()
    )
    return AvailabilityRuleRead.model_validate(rule)


@router.delete(
    "/{provider_id}/availability-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["availability"],
)
def delete_availability_rule(
    provider_id: RowId,
    rule_id: RowId,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    reason: AuditReason = "",
) -> None:
    ensure_own_provider(actor, provider_id)
    availability_service.delete_rule(
        session, provider_id, rule_id, reason=reason, actor=actor, now=clock.now()
    )


@router.get(
    "/{provider_id}/exceptions",
    response_model=Page[ProviderExceptionRead],
    tags=["availability"],
)
def list_provider_exceptions(
    provider_id: RowId,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    page: PageDep,
    start: Annotated[Instant | None, Query(description="Exceptions ending after this")] = None,
    end: Annotated[Instant | None, Query(description="Exceptions starting before this")] = None,
    kind: ExceptionKind | None = None,
) -> Page[ProviderExceptionRead]:
    ensure_own_provider(actor, provider_id)
    rows, total = availability_service.list_exceptions(
        session,
        provider_id,
        start_at=start,
        end_at=end,
        kind=kind,
        limit=page.limit,
        offset=page.offset,
    )
    items = [ProviderExceptionRead.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/{provider_id}/exceptions",
    response_model=ProviderExceptionRead,
    status_code=status.HTTP_201_CREATED,
    tags=["availability"],
)
def create_provider_exception(
    provider_id: RowId,
    data: ProviderExceptionCreate,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> ProviderExceptionRead:
    ensure_own_provider(actor, provider_id)
    exception = availability_service.create_exception(
        session, provider_id, data, actor=actor, now=clock.now()
    )
    return ProviderExceptionRead.model_validate(exception)


@router.get(
    "/{provider_id}/exceptions/{exception_id}",
    response_model=ProviderExceptionRead,
    tags=["availability"],
)
def get_provider_exception(
    provider_id: RowId, exception_id: RowId, _: AnyStaff, actor: StaffActor, session: SessionDep
) -> ProviderExceptionRead:
    ensure_own_provider(actor, provider_id)
    exception = availability_service.get_exception(session, provider_id, exception_id)
    return ProviderExceptionRead.model_validate(exception)


@router.patch(
    "/{provider_id}/exceptions/{exception_id}",
    response_model=ProviderExceptionRead,
    tags=["availability"],
)
def update_provider_exception(
    provider_id: RowId,
    exception_id: RowId,
    data: ProviderExceptionUpdate,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
) -> ProviderExceptionRead:
    ensure_own_provider(actor, provider_id)
    exception = availability_service.update_exception(
        session, provider_id, exception_id, data, actor=actor, now=clock.now()
    )
    return ProviderExceptionRead.model_validate(exception)


@router.delete(
    "/{provider_id}/exceptions/{exception_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["availability"],
)
def delete_provider_exception(
    provider_id: RowId,
    exception_id: RowId,
    _: AnyStaff,
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    reason: AuditReason = "",
) -> None:
    ensure_own_provider(actor, provider_id)
    availability_service.delete_exception(
        session, provider_id, exception_id, reason=reason, actor=actor, now=clock.now()
    )
