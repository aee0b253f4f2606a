from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from scheduler.auth.dependencies import StaffActor, own_provider_filter
from scheduler.availability import service
from scheduler.availability.schemas import ExplainRead, SlotList
from scheduler.db import CommitRoute, SessionDep
from scheduler.deps import ClockDep
from scheduler.kit.metrics import SLOT_SEARCH_DURATION
from scheduler.kit.query_ids import (
    appointment_type_id_query,
    location_id_query,
    provider_id_query,
)
from scheduler.kit.timeutil import Instant

router = APIRouter(prefix="/slots", tags=["slots"], route_class=CommitRoute)
JSON = "application/json"


@router.get(
    "",
    response_model=SlotList,  # what the OpenAPI document describes; the body is exactly that
    summary="Free start times, with chair and provider",
)
def search_slots(
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    appointment_type: Annotated[int, Depends(appointment_type_id_query)],
    location: Annotated[int, Depends(location_id_query)],
    start: Annotated[Instant, Query(description="Window start, ISO 8601 with offset")],
    end: Annotated[Instant, Query(description="Window end (at most 93 days after start)")],
    provider: Annotated[int | None, Depends(provider_id_query)] = None,
) -> Response:
    provider = own_provider_filter(actor, provider)
    with SLOT_SEARCH_DURATION.labels("staff").time():
        body = service.search_slots_json(
            session,
            location_id=location,
            appointment_type_id=appointment_type,
            provider_id=provider,
            start_at=start,
            end_at=end,
            now=clock.now(),
        )
    # Serialised here, in the worker thread. Returned as a model, FastAPI would validate the
    # finished SlotList again and serialise it on the event loop; the JSON is SlotList's.
    return Response(body, media_type=JSON)


@router.get(
    "/explain",
    response_model=ExplainRead,
    summary="Why each start of a day is or is not offered",
)
def explain_slots(
    actor: StaffActor,
    session: SessionDep,
    clock: ClockDep,
    appointment_type: Annotated[int, Depends(appointment_type_id_query)],
    location: Annotated[int, Depends(location_id_query)],
    day: Annotated[date, Query(alias="date", description="Local date at the location")],
    provider: Annotated[int | None, Depends(provider_id_query)] = None,
) -> ExplainRead:
    provider = own_provider_filter(actor, provider)
    return service.explain_day(
        session,
        location_id=location,
        appointment_type_id=appointment_type,
        provider_id=provider,
        day=day,
        now=clock.now(),
    )
