"""The desk's messages page (``/admin/messages``): every message to patients, failed ones
first, filtered by state and kind with a GET form, and a Resend button where a resend makes
sense (the same ``notifications.service`` functions as ``GET /api/v1/notifications`` and
``POST /api/v1/notifications/{id}/resend``).

Parse, call one service, render (``messages_view.py`` builds what the table shows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from scheduler.deps import ClockDep
from scheduler.errors import Conflict
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.notifications import service as notifications_service
from scheduler.web import messages_view
from scheduler.web.deps import DeskPage, Staff
from scheduler.web.messages_view import KIND_LABELS, STATUS_LABELS
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=CommitRoute)
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Choice = Annotated[str, Query(max_length=20)]
FormChoice = Annotated[str, Form(max_length=20)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


def _known(value: str, labels: dict[str, str]) -> tuple[str, ...]:
    """The filter ``value`` if it names one of ``labels`` ("" or anything else: all)."""
    return (value,) if value in labels else ()


def _query(status: str, kind: str, offset: int = 0) -> str:
    values = {"status": status, "kind": kind, "offset": offset or ""}
    return urlencode({key: value for key, value in values.items() if value != ""})


def _page(
    request: Request,
    db: Session,
    staff: Staff,
    *,
    status: str,
    kind: str,
    offset: int,
    now: datetime,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    page = messages_view.messages_page(
        db,
        viewer=staff.actor,
        statuses=_known(status, STATUS_LABELS),
        kinds=_known(kind, KIND_LABELS),
        offset=offset,
        now=now,
    )
    return render(
        request,
        "messages.html",
        {
            "page": page,
            "status_labels": STATUS_LABELS,
            "kind_labels": KIND_LABELS,
            "status": status if page.statuses else "",
            "kind": kind if page.kinds else "",
            "query": _query,
            "errors": errors or FormErrors(),
        },
        status_code=status_code,
    )


@router.get("/messages")
def messages_page(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    status: Choice = "",
    kind: Choice = "",
    offset: Offset = 0,
) -> Response:
    """Every message, failed first, then the newest due first."""
    return _page(request, db, staff, status=status, kind=kind, offset=offset, now=clock.now())


@router.post("/messages/{notification_id}/resend")
def resend_message(
    request: Request,
    notification_id: PathId,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    status: FormChoice = "",
    kind: FormChoice = "",
) -> Response:
    """Queue a copy of a failed message, due now; back to the list with the same filters."""
    now = clock.now()
    try:
        notifications_service.resend(db, notification_id, actor=staff.actor, now=now)
    except Conflict as exc:
        errors = FormErrors()
        errors.add("", exc.detail)
        return _page(
            request,
            db,
            staff,
            status=status,
            kind=kind,
            offset=0,
            now=now,
            errors=errors,
            status_code=409,
        )
    flash(request, db, "The message is queued to be sent again.")
    query = _query(status, kind)
    return RedirectResponse(f"/admin/messages{'?' + query if query else ''}", status_code=303)
