"""A real SMTP server for tests (aiosmtpd), in a thread of the test process.

``mode``: ``accept`` (keep every message), ``refuse`` (451 for every recipient), ``hang``
(sit on each recipient for ``hang_seconds``, so the client times out before it sends the
message). ``delay_seconds`` holds back the confirmation of every message the server keeps
(a slow or loaded server). Recipients containing
``bounce`` are always refused (550), so one bad address can be tested next to good ones.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Sink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.mode = "accept"
        self.hang_seconds = 2.0
        self.delay_seconds = 0.0  # every message, in any mode: a slow server
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.mode == "hang":
            await asyncio.sleep(self.hang_seconds)
            return "451 4.3.0 Too late"
        if self.mode == "refuse":
            return "451 4.3.0 Try again later"
        if "bounce" in address:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        message = message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


class SmtpServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
