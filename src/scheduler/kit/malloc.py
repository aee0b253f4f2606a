"""glibc's malloc: a request-serving process keeps to two arenas.

glibc gives each new thread that allocates an arena of its own, up to eight per CPU. Memory
freed in an arena is reused only by the threads of that arena, and requests move between the
threadpool's threads (and with them SQLite connections, whose page caches are freed and
allocated again after every write of another connection), so each arena grows to its own
peak and keeps what it freed. ``benchmarks/soak.py --probe`` measured this on SQLite: in ten
minutes of booking churn the memory in use stayed level while the free memory inside nine
arenas grew by 14 MB, and the resident set with it; with two arenas the free memory grew by
6 MB (benchmarks/README.md, "Results: memory under churn").

``MALLOC_ARENA_MAX`` in the environment does the same when it is set before the process
starts; an operator's value there is left alone. Other C libraries are left alone too.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas for the threads allocating from now on; False where it did not.

    Call it before the request threads start: a thread keeps the arena it first got.
    """
    if "MALLOC_ARENA_MAX" in os.environ or not _glibc():
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_ARENA_MAX, arenas) == 1


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False
