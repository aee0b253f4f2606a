"""Staff: every message (failed first), a booking's messages, and resending. Public: the
reminder opt-out link."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from scheduler.auth.dependencies import DeskActor, StaffActor
from scheduler.deps import ClockDep
from scheduler.errors import InvalidInput
from scheduler.http.pagination import Page, PageParams, page_params
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ids import RowId
from scheduler.kit.ratelimit import rate_limit
from scheduler.kit.timeutil import Instant
from scheduler.models.enums import NotificationKind, NotificationStatus
from scheduler.notifications import service
from scheduler.notifications.schemas import NotificationRead, ReminderOptOutRead
from scheduler.notifications.service import MessageFilter, MessageOrder

router = APIRouter(tags=["notifications"], route_class=CommitRoute)
public_router = APIRouter(
    prefix="/public",
    tags=["public self-scheduling"],
    route_class=CommitRoute,
    dependencies=[
        Depends(rate_limit("public-write", lambda r: r.app.state.settings.public_write_rate_limit))
    ],
)


@router.get(
    "/notifications",
    response_model=Page[NotificationRead],
    summary="Every message to patients, failed ones first: is mail going out?",
    description="Messages about visits, sign-in links and waitlist offers alike. By default "
    "(`order=failed_first`) every `failed` message comes first, then the rest, each newest "
    "due first; `order=newest` is newest due first throughout. Providers see only the "
    "messages about their own visits.",
)
def list_all_notifications(
    actor: StaffActor,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        list[NotificationStatus] | None, Query(description="Repeat for several")
    ] = None,
    kind: Annotated[list[NotificationKind] | None, Query(description="Repeat for several")] = None,
    patient: Annotated[RowId | None, Query(description="The patient's id")] = None,
    booking: Annotated[RowId | None, Query(description="The booking's id")] = None,
    due_from: Annotated[Instant | None, Query(description="Due at or after this")] = None,
    due_before: Annotated[Instant | None, Query(description="Due before this")] = None,
    order: Annotated[MessageOrder, Query(description="See above")] = "failed_first",
) -> Page[NotificationRead]:
    if due_from is not None and due_before is not None and due_from >= due_before:
        raise InvalidInput("due_from must be before due_before.", field="query.due_before")
    given = MessageFilter(
        statuses=tuple(status or ()),
        kinds=tuple(kind or ()),
        patient_id=patient,
        booking_id=booking,
        due_from=due_from,
        due_before=due_before,
    )
    rows, total = service.list_messages(
        session, given, viewer=actor, order=order, limit=page.limit, offset=page.offset
    )
    items = [NotificationRead.of(r) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/bookings/{booking_id}/notifications",
    response_model=list[NotificationRead],
    summary="The messages to the patient about this booking, and how their sending went",
)
def list_notifications(
    booking_id: RowId, actor: StaffActor, session: SessionDep
) -> list[NotificationRead]:
    rows = service.messages_of_booking(session, booking_id, viewer=actor)
    return [NotificationRead.of(r) for r in rows]


@router.post(
    "/notifications/{notification_id}/resend",
    response_model=NotificationRead,
    status_code=201,
    summary="Send a message again (a new copy, due now)",
    description="Only a message about a visit that was sent or failed: a queued one goes "
    "when due, a reminder only for a visit still booked and ahead, and never a sign-in link "
    "or a waitlist offer (409 `not_resendable`: the link would be used or expired).",
)
def resend_notification(
    notification_id: RowId, actor: DeskActor, session: SessionDep, clock: ClockDep
) -> NotificationRead:
    copy = service.resend(session, notification_id, actor=actor, now=clock.now())
    return NotificationRead.of(copy)


_OPT_OUT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reminders</title></head>
<body><form method="post" action="{action}">
<p>Stop reminders by e-mail? Confirmations and changes to your appointments still come.</p>
<button type="submit">Stop reminders</button></form></body></html>
"""


@public_router.get(
    "/reminders/{token}/opt-out",
    response_class=HTMLResponse,
    summary="The page a message's opt-out link opens (a button that confirms)",
)
def opt_out_page(token: str) -> HTMLResponse:
    # A GET changes nothing: mail scanners follow links. The button POSTs.
    return HTMLResponse(
        _OPT_OUT_PAGE.format(action=escape(f"/api/v1/public/reminders/{token}/opt-out")),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@public_router.post(
    "/reminders/{token}/opt-out",
    response_model=ReminderOptOutRead,
    summary="No more reminders for the patient of this message (RFC 8058 one-click too)",
)
def opt_out(token: str, session: SessionDep, clock: ClockDep) -> ReminderOptOutRead:
    service.opt_out_of_reminders(session, token, now=clock.now())
    return ReminderOptOutRead()
