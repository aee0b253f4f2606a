"""The month grid's cache: the open starts of a patient search window, kept per process.

An entry is ``key -> (validator, OpenStarts)``. The validator is everything the answer was
computed from (the location's zone, the type's terms and the window's fingerprint, see
``availability.service.search_free_days``); a request uses the entry only when it reads the
same validator, so several processes, each with its own cache, answer the same. Stale entries
are replaced, never read. At most ``max_bytes`` are kept (the starts plus an estimate of the
validator); the least recently read entries leave first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from scheduler.availability.engine import OpenStarts

# What one fingerprint row and an entry's own bookkeeping are counted as, in bytes.
ROW_BYTES = 200
ENTRY_BYTES = 400


class OpenStartsCache:
    """Thread-safe, least recently used first. One per app (``create_app``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[object, OpenStarts, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0  # answers served from an entry (for the benchmark and the tests)

    def get(self, key: Hashable, validator: object) -> OpenStarts | None:
        """The entry's starts if it was stored with an equal validator."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != validator:
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def put(self, key: Hashable, validator: object, starts: OpenStarts, rows: int) -> None:
        """Keep ``starts`` under ``key`` (replacing what was there); ``rows``: how many rows
        the validator holds, for its size."""
        size = starts.size_bytes + rows * ROW_BYTES + ENTRY_BYTES
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            if size > self.max_bytes:
                return
            self._entries[key] = (validator, starts, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted[2]

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
