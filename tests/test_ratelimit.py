"""The in-memory rate limiter forgets clients once their window has passed.

It kept a key for every distinct client address forever (20,000 addresses left 20,001 keys),
and with IPv6 one client could grow it without bound.
"""

from __future__ import annotations

import time
from typing import cast

import pytest
from limits import parse
from limits.storage import MemoryStorage

from scheduler.kit.ratelimit import RateLimiter, TooManyRequests, client_key


def stored_keys(limiter: RateLimiter) -> int:
    memory = cast(MemoryStorage, limiter.storage)
    return len(set(memory.storage) | set(memory.events) | set(memory.expirations))


def test_keys_expire_with_their_window() -> None:
    limiter = RateLimiter("memory://")
    limit = parse("5/second")
    for n in range(3000):
        limiter.hit(limit, "public-read", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert stored_keys(limiter) >= 3000
    # A window's counter lives two windows (the sliding window reads the previous one).
    time.sleep(2.2)
    limiter.hit(limit, "public-read", "192.0.2.1")  # any later request lets expiry run
    deadline = time.monotonic() + 5
    while stored_keys(limiter) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_keys(limiter) == 1


def test_a_client_over_its_budget_is_refused_until_the_window_passes() -> None:
    limiter = RateLimiter("memory://")
    limit = parse("3/minute")
    for _ in range(3):
        limiter.hit(limit, "login", "198.51.100.7")
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit(limit, "login", "198.51.100.7")
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    limiter.hit(limit, "login", "198.51.100.8")  # another client has its own budget


def test_an_ipv6_client_is_limited_by_its_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff:1:2:3")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_key("203.0.113.9") == "203.0.113.9"
    assert client_key("testclient") == "testclient"  # not an address: kept as it is
    limiter = RateLimiter("memory://")
    limit = parse("2/minute")
    for n in range(2):
        limiter.hit(limit, "public-write", client_key(f"2001:db8:1:2::{n + 1:x}"))
    with pytest.raises(TooManyRequests):
        limiter.hit(limit, "public-write", client_key("2001:db8:1:2:dead:beef:0:1"))
    limiter.hit(limit, "public-write", client_key("2001:db8:1:3::1"))
