"""Refuse a request body that is too large (413) or carries a NUL character (422), before any
handler runs.

Size: a ``Content-Length`` over the limit is refused without reading a byte; a body sent in
chunks (or with a lying length) is refused as soon as what arrived passes the limit, so a
client cannot make the server hold more than ``max_body_bytes`` of it.
(Starlette's own body limit answers in plain text; every error of this API is problem+json.)

NUL: no field of this API has a use for U+0000, PostgreSQL cannot store it in text at all, and
SQLite would store it silently: refusing it at the edge gives both databases the same answer
(422 problem+json) and keeps it out of names that later end up in calendars and logs. The
escaped form ``\\u0000`` is found even when it arrives split across two chunks.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.http.problems import problem_body

_BODY_MARKERS = (b"\x00", b"\\u0000")
_QUERY_MARKERS = (b"%00", b"\x00")
# Bytes of one chunk kept to find a marker that straddles the next one.
_OVERLAP = max(len(m) for m in _BODY_MARKERS) - 1


class BodyGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
        query: bytes = scope.get("query_string", b"")
        if any(m in query or m in raw_path for m in _QUERY_MARKERS):
            await _refuse_nul(scope, send)
            return
        if _declared_length(scope) > self.max_body_bytes:
            await _refuse_size(scope, send, self.max_body_bytes)
            return
        chunks: list[Message] = []
        received = 0
        tail = b""
        more = True
        while more:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_body_bytes:
                await _refuse_size(scope, send, self.max_body_bytes)
                return
            window = tail + body.lower()
            if any(m in window for m in _BODY_MARKERS):
                await _refuse_nul(scope, send)
                return
            tail = window[-_OVERLAP:]
            more = message.get("more_body", False)

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _refuse_nul(scope: Scope, send: Send) -> None:
    await _problem(
        scope,
        send,
        status=422,
        code="invalid_value",
        title="Invalid value",
        detail="The request contains a NUL character, which no field accepts.",
    )


async def _refuse_size(scope: Scope, send: Send, limit: int) -> None:
    await _problem(
        scope,
        send,
        status=413,
        code="body_too_large",
        title="Content too large",
        detail=f"The request body is larger than this service accepts ({limit} bytes).",
    )


async def _problem(
    scope: Scope, send: Send, *, status: int, code: str, title: str, detail: str
) -> None:
    body = json.dumps(
        problem_body(
            status=status, code=code, title=title, detail=detail, instance=scope.get("path", "")
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
