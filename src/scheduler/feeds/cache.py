"""The feed render cache: the last rendered version of each feed, bounded by bytes.

A feed's bytes change with every booking change in it, and a stale version is never read
again (its validator no longer matches), so each feed keeps only its latest version. The whole
cache holds at most ``max_bytes`` of calendar data; the least recently read feeds leave first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    last_modified: datetime


class FeedRenderCache:
    """``token_hash -> (validator, RenderedFeed)``, least recently used first. Thread-safe.

    A feed's entry is replaced when it is rendered again for another validator. A version
    larger than the whole budget is not kept. One per app (``create_app``).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str, RenderedFeed]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, token_hash: str, validator: str) -> RenderedFeed | None:
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None or entry[0] != validator:
                return None
            self._entries.move_to_end(token_hash)
            return entry[1]

    def put(self, token_hash: str, validator: str, rendered: RenderedFeed) -> None:
        size = _size(token_hash, validator, rendered)
        with self._lock:
            old = self._entries.pop(token_hash, None)
            if old is not None:
                self._bytes -= _size(token_hash, *old)
            if size > self.max_bytes:
                return
            self._entries[token_hash] = (validator, rendered)
            self._bytes += size
            while self._bytes > self.max_bytes:
                evicted, entry = self._entries.popitem(last=False)
                self._bytes -= _size(evicted, *entry)

    @property
    def size_bytes(self) -> int:
        """What the cached versions take, counted as their bytes and keys."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


def _size(token_hash: str, validator: str, rendered: RenderedFeed) -> int:
    return len(rendered.body) + len(token_hash) + len(validator)
