"""Rendering errors as RFC 9457 ``application/problem+json``: one shape for every failure.

Domain errors (``scheduler.errors``), request validation errors, unknown routes and database
errors all end here, so a client never parses two error formats. Bad input is a 4xx, a
database that is busy or gone is a 503 with ``Retry-After``, never a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from scheduler.errors import SchedulerError
from scheduler.kit.metrics import CONFLICTS
from scheduler.kit.redact import redact_path

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://infusion-scheduler.org/problems/"
# The members RFC 9457 defines, and our machine code: an extension member never replaces them.
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code"})


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    for name, value in (extra or {}).items():
        if name not in RESERVED_MEMBERS:  # an extension never replaces a defined member
            body[name] = value
    return body


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(
        status=status, code=code, title=title, detail=detail, instance=instance, extra=extra
    )
    if status == 409:
        CONFLICTS.labels(code).inc()
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Constraint names (see models/base.py naming convention) that mean a client-visible conflict.
INTEGRITY_CONFLICTS: dict[str, tuple[str, str]] = {
    "ex_booking_chair_time": (
        "slot_unavailable",
        "That chair is already taken at that time (including its turnover buffer).",
    ),
}


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name if isinstance(name, str) else None


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


# SQLite names the columns ("UNIQUE constraint failed: location.name") or the CHECK
# ("CHECK constraint failed: ck_user_role_valid"); PostgreSQL gives the constraint's name.
_SQLITE_SUBJECT = re.compile(r"constraint failed: (?P<subject>.+)$", re.IGNORECASE)


def integrity_problem(exc: IntegrityError) -> tuple[int, str, str, dict[str, Any]]:
    """Map an integrity error to (status, code, detail, extra) by its kind and constraint.

    A unique or foreign-key violation conflicts with stored data (409); a CHECK or NOT NULL
    violation is a value the rules do not allow (422). The constraint (or column) is named in
    ``constraint`` so a client can tell which value it was.
    """
    name = _constraint_name(exc)
    if name and name in INTEGRITY_CONFLICTS:
        code, detail = INTEGRITY_CONFLICTS[name]
        return 409, code, detail, {}
    message = str(exc.orig)
    upper = message.upper()
    state = _sqlstate(exc) or ""
    subject = name
    if subject is None and (match := _SQLITE_SUBJECT.search(message.splitlines()[0])):
        subject = match.group("subject").strip()
    extra = {"constraint": subject} if subject else {}
    if state == "23505" or "UNIQUE" in upper or (name or "").startswith(("uq_", "ix_")):
        what = f" ({subject})" if subject else ""
        return 409, "already_exists", f"A record with the same value{what} already exists.", extra
    if state == "23503" or "FOREIGN KEY" in upper or (name or "").startswith("fk_"):
        return (
            409,
            "reference_in_use",
            "The record is referenced by, or refers to, another record.",
            extra,
        )
    if state == "23502" or "NOT NULL" in upper:
        column = getattr(getattr(exc.orig, "diag", None), "column_name", None) or subject
        what = f" ({column})" if column else ""
        extra = {"constraint": column} if column else {}
        return 422, "value_required", f"A required value{what} is missing.", extra
    if state == "23514" or "CHECK" in upper or (name or "").startswith("ck_"):
        what = f" ({subject})" if subject else ""
        return 422, "invalid_value", f"A value breaks a rule of the record{what}.", extra
    return 409, "conflict", "The change conflicts with stored data.", extra


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        out.append({"field": ".".join(loc), "message": error.get("msg", "invalid")})
    return out


def _unavailable(request: Request, detail: str, code: str = "database_busy") -> JSONResponse:
    return problem_response(
        status=503,
        code=code,
        title="Service unavailable",
        detail=detail,
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SchedulerError)
    async def _scheduler_error(request: Request, exc: SchedulerError) -> JSONResponse:
        return problem_response(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            extra=exc.extra,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc.errors())
        summary = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors[:5])
        return problem_response(
            status=422,
            code="validation_error",
            title="Invalid request",
            detail=summary or "The request is malformed.",
            instance=request.url.path,
            extra={"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(
            status, phrase.lower().replace(" ", "_")
        )
        return problem_response(
            status=status,
            code=code,
            title=phrase,
            detail=str(exc.detail),
            instance=request.url.path,
            headers=exc.headers,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        status, code, detail, extra = integrity_problem(exc)
        title = "Conflict" if status == 409 else "Invalid value"
        return problem_response(
            status=status,
            code=code,
            title=title,
            detail=detail,
            instance=request.url.path,
            extra=extra,
        )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schemas let through (a NUL character, a number
        # beyond the column's range): the client's input, so a 422, never a 500.
        return problem_response(
            status=422,
            code="invalid_value",
            title="Invalid value",
            detail="A value in the request is out of range or contains characters that cannot "
            "be stored (such as NUL).",
            instance=request.url.path,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return problem_response(
            status=422,
            code="invalid_value",
            title="Invalid value",
            detail="A number or date in the request is out of range.",
            instance=request.url.path,
        )

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _pool_exhausted(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        log.warning("no database connection free within the pool timeout")
        return _unavailable(request, "The service is busy; retry the request.")

    @app.exception_handler(OperationalError)
    async def _operational_error(request: Request, exc: OperationalError) -> JSONResponse:
        # Lock timeouts and serialization failures that survived retries, or a database
        # that went away: the client may retry.
        log.warning("database unavailable or busy: %s", type(exc.orig).__name__)
        if exc.connection_invalidated:
            return _unavailable(
                request, "The database cannot be reached; retry shortly.", "database_unavailable"
            )
        return _unavailable(request, "The database is busy; retry the request.")

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # Any other driver error: a lost connection (InterfaceError) is a 503, the rest a
        # fault of ours, logged without parameters (they are patients' data).
        if exc.connection_invalidated:
            log.warning("database connection lost: %s", type(exc.orig).__name__)
            return _unavailable(
                request, "The database cannot be reached; retry shortly.", "database_unavailable"
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Paths can carry feed and manage tokens: never log them unredacted.
        log.exception("unhandled error on %s %s", request.method, redact_path(request.url.path))
        return problem_response(
            status=500,
            code="internal_error",
            title="Internal server error",
            detail="Something went wrong on our side; nothing was changed.",
            instance=request.url.path,
        )
