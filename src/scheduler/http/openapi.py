"""The OpenAPI document, with every problem answer an operation can give.

FastAPI documents only the success response and its own 422 shape. Our errors are RFC 9457
``application/problem+json`` documents (see ``scheduler.errors``), and a generated client needs
to know which of them each operation may return. They follow from what an operation is, so
they are derived here once, from the operation itself, rather than repeated on every route:

- a request with parameters or a body may be malformed: 422 (``validation_error``,
  ``invalid_input``, ``invalid_value``); a body may be too large: 413;
- an operation behind staff sign-in: 401 (no or stale token) and 403 (role);
- a body that is not even text: 400;
- an identifier in the path, query or body that names nothing (or nothing this caller may
  see, which is answered the same): 404;
- a write: 409 (``slot_unavailable``, ``invalid_transition``, ``already_exists``, ...);
- an ``If-Match`` header: 400 (malformed), 412 (stale), 428 (required);
- public self-scheduling and sign-in are rate limited: 429 with ``Retry-After``; a refused
  sign-in is 401;
- every operation that touches the database: 503 with ``Retry-After`` when it is unreachable.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"

_DESCRIPTIONS = {
    400: "A body that cannot be parsed at all, or a malformed header (for example an unquoted "
    "`If-Match`).",
    401: "Not signed in, or the access token is invalid or expired (`not_authenticated`).",
    403: "Signed in, but this role may not do this (`forbidden`).",
    404: "No such resource, or not one this caller may see, in the path or referenced by the "
    "request (`not_found`).",
    409: "Conflicts with the current state (`slot_unavailable`, `invalid_transition`, "
    "`already_exists`, `hold_expired`, `idempotency_conflict`, ...).",
    412: "The `If-Match` ETag is stale: somebody changed the resource (`version_conflict`).",
    413: "The request body is larger than the service accepts (`payload_too_large`).",
    422: "The request is malformed or a value breaks a rule of shape (`validation_error`, "
    "`invalid_input`, `invalid_value`); `errors` names the fields.",
    428: "This change needs an `If-Match` header (`precondition_required`).",
    429: "Too many requests from this address (`rate_limited`); see `Retry-After`.",
    503: "The database is unreachable or busy (`database_busy`, `database_unavailable`); "
    "retry after `Retry-After` seconds.",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})
_SIGN_IN = "/api/v1/auth/token"
_RATE_LIMITED_PREFIXES = ("/api/v1/public/", _SIGN_IN)
_NO_DATABASE = frozenset({"/healthz"})


class ProblemFieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field (`query.start`).")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document. Members other than these may be present (for example
    `reasons` on `slot_unavailable`, `current_etag` on `version_conflict`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the problem type; ends with `code`.")
    title: str
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, in words for a person.")
    code: str = Field(description="Stable machine code, e.g. `slot_unavailable`.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="Per-field messages (validation errors)."
    )


def problem_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses ``operation`` can answer (see the module docstring)."""
    statuses: set[int] = set()
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if parameters or has_body:
        statuses.add(422)
    if has_body:
        statuses.update((400, 413))
    if operation.get("security") or path == _SIGN_IN:
        statuses.add(401)
    if operation.get("security"):
        statuses.add(403)
    if has_body or any(p.get("in") in ("path", "query") for p in parameters):
        statuses.add(404)
    if method in _WRITES:
        statuses.add(409)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        statuses.update((400, 412, 428))
    if path.startswith(_RATE_LIMITED_PREFIXES):
        statuses.add(429)
    if path not in _NO_DATABASE:
        statuses.add(503)
    return statuses


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer"},
            }
        }
    return response


def add_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Document the problem answers of every operation in ``document`` (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(problem_statuses(path, method, operation)):
                responses[str(status)] = _problem_response(status)
    # FastAPI's own 422 shape is never sent (its errors are rendered as problems).
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``/openapi.json`` with the problem answers documented (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = add_problem_responses(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
