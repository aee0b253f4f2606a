"""A request's JSON body validated as a model, the way a FastAPI body parameter gives it.

For the few routes served without FastAPI's per-request machinery (``DirectRoute``s, such
as ``POST /bookings``). Same rules as FastAPI: the body is JSON when it
has no content type or an ``application/json`` (or ``+json``) one, anything else is validated
as raw bytes (and refused), and failures are the same ``RequestValidationError`` with
locations under ``body``, so the app's handler answers the same 422 problem+json.
"""

from __future__ import annotations

import email.message
import json
from functools import lru_cache
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

M = TypeVar("M", bound=BaseModel)


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """Parsed as FastAPI parses it (``email.message``), once per distinct header value: a
    client sends the same one with every request, and parsing it cost a third of reading and
    validating a booking's body."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _not_json(body: bytes) -> RequestValidationError | None:
    """FastAPI's error for a body that does not parse as JSON (its ``json_invalid`` at the
    character where parsing stopped), or None when it parses."""
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        return RequestValidationError([error], body=exc.doc)
    except ValueError:  # not UTF-8: left to the validation's own error
        return None
    return None


async def refuse_malformed_json(request: Request) -> None:
    """Raise FastAPI's 422 when the body is declared JSON but does not parse.

    FastAPI reads and parses the body before it resolves any dependency, so a malformed
    body is a 422 even for a caller whose token would be refused: a direct handler calls
    this before raising its authentication or role error."""
    body = await request.body()
    content_type = request.headers.get("content-type")
    if body and content_type and _is_json(content_type):
        error = _not_json(body)
        if error is not None:
            raise error


async def validated_body(request: Request, model: type[M]) -> M:
    body = await request.body()
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    content_type = request.headers.get("content-type")
    try:
        if not content_type or _is_json(content_type):
            return model.model_validate_json(body)
        return model.model_validate(body)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            not_json = _not_json(body)
            if not_json is not None:
                raise not_json from None
        errors: list[dict[str, Any]] = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=body) from None
