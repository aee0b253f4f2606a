"""The day board (the front desk's home page) and the week heat strip.

Thin: parse the query, call one board service, render. Only ids and dates in the URL.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from scheduler.board import service
from scheduler.deps import ClockDep
from scheduler.errors import InvalidInput
from scheduler.http.transaction import ReadSessionDep
from scheduler.web.deps import DeskPage
from scheduler.web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)

LocationParam = Annotated[str | None, Query(alias="location", max_length=20)]
DateParam = Annotated[str | None, Query(alias="date", max_length=20)]


def parse_location(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit():
        raise InvalidInput("The location must be chosen from the list.", code="invalid_location")
    return int(value)


def parse_day(value: str | None) -> date | None:
    """A date from the picker (``YYYY-MM-DD``); empty means today."""
    if value is None or value.strip() == "":
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            "The date must be a calendar date written like 2026-12-08.", code="invalid_date"
        ) from None
    if not 2000 <= day.year <= 2100:
        raise InvalidInput("The date must be between the years 2000 and 2100.", code="invalid_date")
    return day


@router.get("/")
@router.get("/board")
def day_board(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    location: LocationParam = None,
    day: DateParam = None,
    cancelled: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    """A location's day (the front desk's home page at ``/admin/``, today's board of the
    first location unless asked): chairs as rows, time across, provider lanes and load
    strips."""
    page = service.day_board(
        db,
        location_id=parse_location(location),
        day=parse_day(day),
        now=clock.now(),
        include_cancelled=cancelled == "1",
    )
    if page is None:
        return render(request, "board_empty.html")
    highlight = request.query_params.get("highlight", "")
    return render(
        request,
        "board.html",
        {
            "page": page,
            "board": page.board,
            "show_cancelled": cancelled == "1",
            "highlight": int(highlight) if highlight.isdigit() else None,
        },
    )


@router.get("/week")
def week(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    location: LocationParam = None,
    day: DateParam = None,
) -> Response:
    """A location's week: the share of chair time in use per day and hour, as heat strips."""
    page = service.week_board(
        db, location_id=parse_location(location), day=parse_day(day), now=clock.now()
    )
    if page is None:
        return render(request, "board_empty.html")
    return render(request, "board_week.html", {"page": page, "week": page.week})
