"""glibc's malloc thresholds for a long-running worker (app/runtime/malloc.py)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from app.runtime import malloc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mmapped_bytes() -> int:
    info = ctypes.CDLL("libc.so.6").mallinfo2
    info.restype = MallInfo2
    return info().hblkhd


def test_large_blocks_keep_pages_of_their_own_after_larger_ones_were_freed():
    assert malloc.tune()
    big = bytearray(4 * 1024 * 1024)  # mmapped, then freed: glibc's default would raise its threshold to 4 MiB
    del big
    before = mmapped_bytes()
    held = [bytearray(300 * 1024) for _ in range(8)]  # above the fixed threshold: mmapped, not from the heap
    assert mmapped_bytes() - before >= 8 * 300 * 1024
    del held
    assert mmapped_bytes() <= before + 4096  # and given back when freed


def test_trim_runs():
    assert malloc.trim() in (0, 1)
