"""A request's JSON body validated as a model, the way a FastAPI body parameter gives it.

For the few routes served without FastAPI's per-request machinery (see
``bookings.router.create_booking_route``). Same rules as FastAPI: the body is JSON when it
has no content type or an ``application/json`` (or ``+json``) one, anything else is validated
as raw bytes (and refused), and failures are the same ``RequestValidationError`` with
locations under ``body``, so the app's handler answers the same 422 problem+json.
"""

from __future__ import annotations

import email.message
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


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
        errors: list[dict[str, Any]] = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=body) from None
