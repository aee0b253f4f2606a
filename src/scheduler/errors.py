"""Domain errors and their rendering as RFC 9457 ``application/problem+json``.

Every error a client can see has a stable machine ``code``. Services raise ``SchedulerError``
subclasses (they never import FastAPI); one handler renders them. Request validation errors,
unknown routes and database integrity conflicts are mapped into the same shape, so a client
never has to parse two error formats and bad input is never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from scheduler.kit.metrics import CONFLICTS
from scheduler.kit.redact import redact_path

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://infusion-scheduler.org/problems/"


class SchedulerError(Exception):
    """Base of every error a client may see. Subclasses fix ``status`` and ``code``."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class InvalidInput(SchedulerError):
    """Well-formed request whose values break a rule of shape (422)."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None) -> None:
        errors = [{"field": field, "message": detail}] if field else []
        super().__init__(detail, code=code, extra={"errors": errors} if errors else None)


class NotAuthenticated(SchedulerError):
    status = 401
    code = "not_authenticated"
    title = "Not authenticated"

    def __init__(self, detail: str = "Sign in first: a valid bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(SchedulerError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(SchedulerError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(SchedulerError):
    """The request is valid but conflicts with the current state (409)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(SchedulerError):
    status = 412
    code = "version_conflict"
    title = "Precondition failed"


class PreconditionRequired(SchedulerError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"


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
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if status == 409:
        CONFLICTS.labels(code).inc()
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Constraint names (see models/base.py naming convention) that mean a client-visible conflict.
# Anything not listed is still a 409, with a generic message: an integrity error is a conflict
# with stored data, never a server fault.
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


def integrity_problem(exc: IntegrityError) -> tuple[str, str]:
    """Map an integrity error to (code, detail) by constraint name (PostgreSQL) or message."""
    name = _constraint_name(exc)
    if name and name in INTEGRITY_CONFLICTS:
        return INTEGRITY_CONFLICTS[name]
    message = str(exc.orig)
    if "UNIQUE" in message.upper() or (name or "").startswith("uq_"):
        return "already_exists", "A record with the same unique value already exists."
    if "FOREIGN KEY" in message.upper() or (name or "").startswith("fk_"):
        return "reference_in_use", "The record is referenced by, or refers to, another record."
    return "conflict", "The change conflicts with stored data."


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        out.append({"field": ".".join(loc), "message": error.get("msg", "invalid")})
    return out


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
        code, detail = integrity_problem(exc)
        return problem_response(
            status=409, code=code, title="Conflict", detail=detail, instance=request.url.path
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
        return problem_response(
            status=503,
            code="database_busy",
            title="Service busy",
            detail="The service is busy; retry the request.",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(OperationalError)
    async def _operational_error(request: Request, exc: OperationalError) -> JSONResponse:
        # Lock timeouts and serialization failures that survived retries: the client may retry.
        log.warning("database busy: %s", type(exc.orig).__name__)
        return problem_response(
            status=503,
            code="database_busy",
            title="Service busy",
            detail="The database is busy; retry the request.",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

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
