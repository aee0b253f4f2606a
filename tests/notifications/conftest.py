from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifications.smtp_sink import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
