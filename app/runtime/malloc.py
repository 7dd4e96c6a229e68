"""glibc's malloc, set for a worker that runs for weeks (no-ops where the C library is not glibc).

:func:`tune` (``python -m app worker`` calls it first, before any thread starts):

- **a fixed mmap threshold** (:data:`MMAP_THRESHOLD_BYTES`): an allocation larger than it
  that the heap has no free room for gets pages of its own, given back when it is freed
  (instead of growing the heap). glibc's default threshold moves up to
  the size of the largest such block freed so far (up to 32 MiB): after the first few
  RocksDB file buffers and asyncio's 256 KiB socket reads, every large block comes from the
  heap instead, and the heap keeps whatever a long-lived allocation above them holds up
  (``make soak``: the mmapped bytes fell from 4 to 3 MiB while the heap grew).
- **two arenas** (:data:`ARENAS`): RocksDB's flush and compaction threads share one arena
  instead of one each (glibc allows 8 per core), each holding its own free memory.

:func:`trim` is ``malloc_trim(0)``: free pages inside every heap go back to the system
(the engine loop has the stores call it every 30 s).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept
TRIM_THRESHOLD_BYTES = 256 * 1024  # free memory at the top of the heap beyond this goes back at once
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc has both
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def tune() -> bool:
    """Set the thresholds and the arena limit; False where there is no glibc."""
    if _LIBC is None:
        return False
    mallopt = _LIBC.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all((mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
                mallopt(M_ARENA_MAX, ARENAS)))


def _trim() -> Callable[[], object]:
    if _LIBC is None:
        return lambda: None
    malloc_trim = _LIBC.malloc_trim
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    return lambda: malloc_trim(0)


trim = _trim()
