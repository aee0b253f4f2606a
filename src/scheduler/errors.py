"""Domain errors: plain exceptions with an HTTP status and a stable machine ``code``.

Services raise ``SchedulerError`` subclasses; they import nothing from FastAPI. Rendering them
(and request validation errors, unknown routes and database errors) as RFC 9457
``application/problem+json`` is the HTTP layer's job: ``scheduler.http.problems``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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


class BadRequest(SchedulerError):
    """A request this API cannot read at all, such as a malformed header (400)."""


class InvalidInput(SchedulerError):
    """Well-formed request whose values break a rule of shape (422)."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None) -> None:
        errors = [{"field": field, "message": detail}] if field else []
        super().__init__(detail, code=code, extra={"errors": errors} if errors else None)
        self.field = field


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
