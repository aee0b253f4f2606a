"""What the booking pages read from a query string or a form, and the words they answer with.

Shared by the booking flow (``web/booking.py``) and a booking's own page
(``web/booking_actions.py``): ids and dates of the slot picker, the version a page showed,
and the slot picker kept usable when its dates are wrong. (The inline new-patient form is
read as on the patients page: ``web/patient_forms.py``.)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Form, Query
from sqlmodel import Session

from scheduler.bookings.schemas import Override
from scheduler.errors import InvalidInput
from scheduler.models import Booking
from scheduler.web import booking_view
from scheduler.web.booking_page_view import HistoryEntry
from scheduler.web.booking_view import Search, SlotPicker
from scheduler.web.templating import FormErrors

Text = Annotated[str, Form(max_length=1000)]
OptionalQuery = Annotated[str | None, Query(max_length=40)]
FromQuery = Annotated[str | None, Query(alias="from", max_length=20)]
ToQuery = Annotated[str | None, Query(alias="to", max_length=20)]

SLOT_TAKEN = (
    "Sorry, that time was taken by another booking a moment ago, so nothing was booked. "
    "Here are the times still free; your choices are kept."
)
IN_FLIGHT = (
    "This booking is already being saved from your first press. Look for it on the day board "
    "before trying again."
)
STALE = "This booking was changed by {who} at {at} while you were looking, so nothing was done."
OVERRIDE_REASON_NEEDED = (
    "This patient does not meet every requirement: give the reason for booking anyway."
)


def override_of(gate_fails: bool, reason: str, errors: FormErrors) -> Override | None:
    """The staff override a booking form carries (the confirm step, a series' booster): none
    while the patient meets every required gate (a reason typed then is not kept); when one
    fails, the reason given, or an error next to the reason field when it is under three
    characters (the API's own minimum)."""
    if not gate_fails:
        return None
    reason = reason.strip()
    if len(reason) < 3:
        errors.add("override_reason", OVERRIDE_REASON_NEEDED)
        return None
    return Override(reason=reason)


def _int(value: str | None, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit():
        raise InvalidInput("Choose from the list.", field=name)
    return int(value)


def _day(value: str | None, name: str) -> date | None:
    if value is None or value.strip() == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("Write the date like 2026-12-08.", field=name) from None


def search_of(
    patient_id: str | None,
    type_id: str | None,
    location_id: str | None,
    provider_id: str | None,
    from_day: str | None,
    to_day: str | None,
) -> Search:
    """The slot picker's choices from the query string or a form (ids and ISO dates)."""
    return Search(
        patient_id=_int(patient_id, "patient_id"),
        type_id=_int(type_id, "type_id"),
        location_id=_int(location_id, "location_id"),
        provider_id=_int(provider_id, "provider_id"),
        from_date=_day(from_day, "from"),
        to_date=_day(to_day, "to"),
    )


def picker_query(
    patient_id: OptionalQuery = None,
    type_id: OptionalQuery = None,
    location_id: OptionalQuery = None,
    provider_id: OptionalQuery = None,
    from_day: FromQuery = None,
    to_day: ToQuery = None,
) -> Search:
    """The slot picker's choices from the query string of the pages that show it."""
    return search_of(patient_id, type_id, location_id, provider_id, from_day, to_day)


PickerQuery = Annotated[Search, Depends(picker_query)]


def book_url(search: Search) -> str:
    return f"/admin/book?{urlencode(search.query())}"


def if_match(booking_id: int, version: int) -> str:
    """The entity tag of the booking version a page showed (as the API's ``If-Match``)."""
    return f'"{booking_id}.{version}"'


def slot_picker_or_reset(
    db: Session,
    search: Search,
    errors: FormErrors,
    *,
    now: datetime,
    ignore_booking: Booking | None = None,
) -> tuple[SlotPicker, bool]:
    """The slot picker; when its date range is refused, the error goes next to the field and
    the picker shows the default range instead. True when the range was refused."""
    try:
        return booking_view.slot_picker(db, search, now=now, ignore_booking=ignore_booking), False
    except InvalidInput as exc:
        errors.add(exc.field or "", exc.detail)
        search.from_date = search.to_date = None
        picker = booking_view.slot_picker(db, search, now=now, ignore_booking=ignore_booking)
        return picker, True


def stale_notice(last_change: HistoryEntry | None) -> str | None:
    """Who changed the booking meanwhile, and when (from its last history entry)."""
    if last_change is None:
        return None
    return STALE.format(who=last_change.who, at=last_change.at.strftime("%H:%M on %a %-d %b"))
