"""Give every request an id (the caller's ``X-Request-ID`` when sane, else a new one).

The id is stored in ``request.state.request_id`` for audit events and error bodies, and echoed
in the response's ``X-Request-ID`` header. Written as plain ASGI: Starlette's
``BaseHTTPMiddleware`` runs the rest of the app in a separate task with memory streams, which
costs more per request than everything this does.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
MAX_LENGTH = 64
# What proxies and tracing systems use (UUIDs, hex, base64url, dotted ids); anything else, such
# as spaces, quotes or control characters that could forge log lines, gets a fresh id instead.
_SANE = re.compile(r"[A-Za-z0-9._:+/=@-]{1,64}")


def _incoming(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            text = value.decode("latin-1")
            return text if _SANE.fullmatch(text) else ""
    return ""


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
