"""Per-client rate limits for public endpoints, on the maintained ``limits`` library.

The storage is in-process memory by default (one API process); point
``SCHEDULER_RATE_LIMIT_STORAGE_URI`` at Redis or Memcached (``redis://host:6379``) so several
API processes share one budget. A client over its budget gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import Request
from limits import RateLimitItem, parse, storage, strategies

from scheduler.errors import SchedulerError


class TooManyRequests(SchedulerError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class RateLimiter:
    def __init__(self, storage_uri: str) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def hit(self, limit: RateLimitItem, *keys: str) -> None:
        if self._limiter.hit(limit, *keys):
            return
        reset_at = self._limiter.get_window_stats(limit, *keys).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(
            f"Too many requests; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limit(scope: str, setting: Callable[[Request], str]) -> Callable[[Request], None]:
    """A dependency limiting each client address to the rate that ``setting`` reads."""

    def check(request: Request) -> None:
        settings = request.app.state.settings
        if not settings.rate_limit_enabled:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        limiter.hit(parse(setting(request)), scope, client_address(request))

    return check
