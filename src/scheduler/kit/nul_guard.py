"""Refuse NUL characters anywhere in a request, before any handler runs.

No field of this API has a use for U+0000, PostgreSQL cannot store it in text at all, and
SQLite would store it silently: refusing it at the edge gives both databases the same answer
(422 problem+json) and keeps it out of names that later end up in calendars and logs.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_MARKERS = (b"\x00", b"\\u0000")
_QUERY_MARKERS = (b"%00", b"\x00")


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
        query: bytes = scope.get("query_string", b"")
        if any(m in query or m in raw_path for m in _QUERY_MARKERS):
            await _refuse(scope, send)
            return
        chunks: list[Message] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            body = message.get("body", b"")
            if any(m in body.lower() for m in _BODY_MARKERS):
                await _refuse(scope, send)
                return
            more = message.get("more_body", False)

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, send: Send) -> None:
    body = json.dumps(
        {
            "type": "https://infusion-scheduler.org/problems/invalid_value",
            "title": "Invalid value",
            "status": 422,
            "detail": "The request contains a NUL character, which no field accepts.",
            "code": "invalid_value",
            "instance": scope.get("path", ""),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
