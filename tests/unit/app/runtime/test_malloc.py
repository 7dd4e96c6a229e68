"""glibc's malloc thresholds for a long-running worker (app/runtime/malloc.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.runtime import malloc

REPO = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")

# In a fresh process (a heap with no large free chunk, as a worker's at start): after a 4 MiB
# block was mmapped and freed, are 300 KiB blocks mmapped (printed: bytes mmapped for them)?
PROBE = textwrap.dedent("""
    import ctypes, sys
    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                    "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    info = ctypes.CDLL("libc.so.6").mallinfo2
    info.restype = MallInfo2
    if sys.argv[1] == "tuned":
        from app.runtime import malloc
        assert malloc.tune()
    big = bytearray(4 * 1024 * 1024)
    del big  # glibc's default: its mmap threshold rises to 4 MiB
    before = info().hblkhd
    held = [bytearray(300 * 1024) for _ in range(8)]
    print(info().hblkhd - before)
""")


def mmapped_for_large_blocks(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         cwd=REPO)
    return int(out.stdout)


def test_large_blocks_keep_pages_of_their_own_after_larger_ones_were_freed():
    assert mmapped_for_large_blocks("default") == 0  # from the heap: what the worker did before
    assert mmapped_for_large_blocks("tuned") >= 8 * 300 * 1024


def test_tune_and_trim_run():
    assert malloc.tune()
    assert malloc.trim() in (0, 1)
