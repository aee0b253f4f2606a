"""Staff: a booking's messages and resending. Public: the reminder opt-out link."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from scheduler.auth.dependencies import DeskActor, StaffActor
from scheduler.deps import ClockDep
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import SessionDep
from scheduler.kit.ratelimit import rate_limit
from scheduler.notifications import service
from scheduler.notifications.schemas import NotificationRead, ReminderOptOutRead

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
    "/bookings/{booking_id}/notifications",
    response_model=list[NotificationRead],
    summary="The messages to the patient about this booking, and how their sending went",
)
def list_notifications(
    booking_id: int, actor: StaffActor, session: SessionDep
) -> list[NotificationRead]:
    rows = service.list_for_booking(session, booking_id, viewer=actor)
    return [NotificationRead.model_validate(r) for r in rows]


@router.post(
    "/notifications/{notification_id}/resend",
    response_model=NotificationRead,
    status_code=201,
    summary="Send a message again (a new copy, due now)",
)
def resend_notification(
    notification_id: int, actor: DeskActor, session: SessionDep, clock: ClockDep
) -> NotificationRead:
    copy = service.resend(session, notification_id, actor=actor, now=clock.now())
    return NotificationRead.model_validate(copy)


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
