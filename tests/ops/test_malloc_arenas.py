"""A serving process keeps glibc's malloc to two arenas, so memory freed by one request thread
serves the next request on any thread instead of staying free in an arena of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scheduler.kit.malloc import ARENAS, _glibc

pytestmark = pytest.mark.skipif(not _glibc(), reason="glibc's malloc only")

# Eight threads allocate at once (blocks above Python's small-object allocator, so they come
# from malloc), then the process counts malloc's arenas in malloc_info's report.
SCRIPT = """
import ctypes, sys, threading
from scheduler.kit.malloc import limit_malloc_arenas

if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
libc = ctypes.CDLL(None)
start = threading.Barrier(8)

def allocate():
    start.wait()
    for _ in range(200):
        blocks = [bytearray(8192) for _ in range(20)]
        del blocks

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.open_memstream.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
text, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(text), ctypes.byref(size))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(ctypes.string_at(text, size.value).decode().count("<heap nr="))
"""


def _arenas(mode: str, **env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(result.stdout)


def test_threads_share_two_arenas_once_limited() -> None:
    assert _arenas("default") > ARENAS  # what the limit is for: an arena per thread
    assert _arenas("limit") <= ARENAS


def test_an_operators_malloc_arena_max_is_left_alone() -> None:
    script = "from scheduler.kit.malloc import limit_malloc_arenas as f; print(f())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "MALLOC_ARENA_MAX": "4"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"
