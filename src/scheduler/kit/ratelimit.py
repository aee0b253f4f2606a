"""Per-client rate limits for public endpoints, on the maintained ``limits`` library.

The storage is in-process memory by default (one API process); point
``SCHEDULER_RATE_LIMIT_STORAGE_URI`` at Redis or Memcached (``redis://host:6379``) so several
API processes share one budget. A client over its budget gets 429 with ``Retry-After``.

The strategy is ``limits``' sliding window counter: two counters per client (this window and
the last), each with an expiry, which the memory storage drops once expired. (Its moving
window keeps a list per client that the memory storage never removes once empty: 20,000
addresses left 20,001 keys.) An IPv6 client is limited by its /64, the block one subscriber
gets, so one client cannot make itself endless fresh budgets (and keys).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from fastapi import Request
from limits import RateLimitItem, parse, storage, strategies

from scheduler.errors import SchedulerError

IPV6_CLIENT_PREFIX = 64


class TooManyRequests(SchedulerError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class RateLimiter:
    def __init__(self, storage_uri: str) -> None:
        self.storage = storage.storage_from_string(storage_uri)
        self._limiter = strategies.SlidingWindowCounterRateLimiter(self.storage)

    def hit(self, limit: RateLimitItem, *keys: str) -> None:
        if self._limiter.hit(limit, *keys):
            return
        reset_at = self._limiter.get_window_stats(limit, *keys).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(
            f"Too many requests; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


def client_key(host: str) -> str:
    """The budget a client address draws on: an IPv4 address, or an IPv6 address's /64
    (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


def client_address(request: Request) -> str:
    return client_key(request.client.host) if request.client else "unknown"


def rate_limit(scope: str, setting: Callable[[Request], str]) -> Callable[[Request], None]:
    """A dependency limiting each client (address, or IPv6 /64) to the rate ``setting`` reads."""

    def check(request: Request) -> None:
        settings = request.app.state.settings
        if not settings.rate_limit_enabled:
            return
        limiter: RateLimiter = request.app.state.rate_limiter
        limiter.hit(parse(setting(request)), scope, client_address(request))

    return check
