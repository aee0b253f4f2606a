from __future__ import annotations

from tests.notifications.conftest import smtp

__all__ = ["smtp"]
