"""The service's app with a memory probe, for ``soak.py --probe``. Not part of the service.

A thread in the server process writes one JSON line every ``PROBE_SECONDS`` to the file named
by ``SCHEDULER_SOAK_PROBE``: resident set size, what SQLite has allocated
(``sqlite3_memory_used``), what glibc's malloc holds (``mallinfo2``: in use and free inside
its arenas), what Python traced (with ``SCHEDULER_SOAK_TRACEMALLOC=<frames>`` only; tracing
costs time and memory of its own), garbage collections, the connection pool and threads.
Python heap and native memory apart tell which side grows.

With tracing on, a snapshot is written next to the probe file at each of the seconds in
``SCHEDULER_SOAK_SNAPSHOTS`` (e.g. ``120,600``), for ``soak.py --probe`` to compare.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import sqlite3
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, event

from scheduler.main import create_app as create_service_app

PROBE_SECONDS = 10.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_LIBC = ctypes.CDLL("libc.so.6")
_LIBC.mallinfo2.restype = _MallInfo2
_LIBC.open_memstream.restype = ctypes.c_void_p
_LIBC.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
_LIBC.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
_LIBC.fclose.argtypes = [ctypes.c_void_p]
_LIBC.free.argtypes = [ctypes.c_void_p]
# The same library the sqlite3 module linked (dlopen hands back the loaded copy).
_SQLITE = ctypes.CDLL("libsqlite3.so.0")
_SQLITE.sqlite3_memory_used.restype = ctypes.c_int64
_SQLITE.sqlite3_memory_highwater.restype = ctypes.c_int64
_SQLITE.sqlite3_memory_highwater.argtypes = [ctypes.c_int]

MB = 1024 * 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def sample(app: FastAPI, started: float) -> dict[str, Any]:
    info = _LIBC.mallinfo2()
    row: dict[str, Any] = {
        "t": round(time.monotonic() - started, 1),
        "rss": _status_kb("VmRSS") / 1024,
        "sqlite": _SQLITE.sqlite3_memory_used() / MB,
        "sqlite_peak": _SQLITE.sqlite3_memory_highwater(0) / MB,
        # Memory glibc took from the system for its heaps (not counting its mmapped blocks),
        # what of it is handed out, and what is free inside them but not given back.
        "malloc_arena": info.arena / MB,
        "malloc_mmap": info.hblkhd / MB,
        "malloc_used": info.uordblks / MB,
        "malloc_free": info.fordblks / MB,
        "threads": _status_kb("Threads"),
        "gc": [each["collections"] for each in gc.get_stats()],
        "gc_objects": len(gc.get_objects()),
    }
    if tracemalloc.is_tracing():
        row["traced"] = tracemalloc.get_traced_memory()[0] / MB
    maker = getattr(app.state, "sessionmaker", None)
    if maker is not None:
        pool = maker.kw["bind"].pool
        if not _POOL:
            _watch(pool)
        row["pool_open"] = pool.checkedin() + pool.checkedout()
        row["pool_busiest"] = _POOL["busiest"]
        row["pool_connects"] = _POOL["connects"]
    return row


_POOL: dict[str, int] = {}
_POOL_LOCK = threading.Lock()


def _watch(pool: Any) -> None:
    """Count connections opened and the most checked out at once (from now on)."""
    _POOL.update(busiest=pool.checkedout(), connects=0, out=pool.checkedout())

    def connect(*_args: Any) -> None:
        with _POOL_LOCK:
            _POOL["connects"] += 1

    def checkout(*_args: Any) -> None:
        with _POOL_LOCK:
            _POOL["out"] += 1
            _POOL["busiest"] = max(_POOL["busiest"], _POOL["out"])

    def checkin(*_args: Any) -> None:
        with _POOL_LOCK:
            _POOL["out"] -= 1

    event.listen(pool, "connect", connect)
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)


def _probe(app: FastAPI, path: Path, snapshots: list[float], trim: threading.Event) -> None:
    started = time.monotonic()
    with path.open("a") as out:
        while True:
            trimming = trim.wait(PROBE_SECONDS)
            elapsed = time.monotonic() - started
            row = sample(app, started)
            if trimming:
                # How much of the resident set is memory malloc holds free: give it back.
                trim.clear()
                _LIBC.malloc_trim(0)
                row["rss_trimmed"] = _status_kb("VmRSS") / 1024
                row["arenas"] = _arenas()
            out.write(json.dumps(row) + "\n")
            out.flush()
            while snapshots and elapsed >= snapshots[0]:
                at = snapshots.pop(0)
                tracemalloc.take_snapshot().dump(f"{path}.{at:.0f}.snapshot")


def _arenas() -> int:
    """glibc malloc's arenas (malloc_info's XML has one <heap> per arena)."""
    size = ctypes.c_size_t()
    text = ctypes.c_char_p()
    stream = _LIBC.open_memstream(ctypes.byref(text), ctypes.byref(size))
    _LIBC.malloc_info(0, stream)
    _LIBC.fclose(stream)
    xml = ctypes.string_at(text, size.value).decode()
    _LIBC.free(text)
    return xml.count("<heap nr=")


def _pragmas(statements: str) -> None:
    """Extra PRAGMAs on every new SQLite connection (``SCHEDULER_SOAK_PRAGMAS``, ``;``-separated),
    to compare settings without editing the service."""

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            for statement in filter(None, statements.split(";")):
                dbapi_connection.execute(f"PRAGMA {statement}")


def create_app() -> FastAPI:
    app = create_service_app()
    frames = int(os.environ.get("SCHEDULER_SOAK_TRACEMALLOC", "0"))
    if frames:  # from here: tracing the imports made a loaded machine miss the start-up time
        tracemalloc.start(frames)
    path = Path(os.environ["SCHEDULER_SOAK_PROBE"])
    snapshots = [
        float(each) for each in os.environ.get("SCHEDULER_SOAK_SNAPSHOTS", "").split(",") if each
    ]
    if not frames:
        snapshots = []
    if pragmas := os.environ.get("SCHEDULER_SOAK_PRAGMAS"):
        _pragmas(pragmas)
    trim = threading.Event()  # SIGUSR1 (soak.py, once the churn is over): sample, trim, sample
    signal.signal(signal.SIGUSR1, lambda *_: trim.set())
    threading.Thread(target=_probe, args=(app, path, sorted(snapshots), trim), daemon=True).start()
    return app
