"""Python's cyclic collector, set for a worker (app/runtime/collector.py); each case in a
fresh process, as a worker's (the thresholds and the frozen generation are process-wide)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from app.runtime import collector

REPO = Path(__file__).resolve().parents[4]


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          check=True, cwd=REPO).stdout.strip()


def test_young_collections_run_every_twenty_thousand_allocations_not_seven_hundred() -> None:
    out = run("""
        import gc
        from app.runtime import collector
        collector.tune()
        counts = []
        gc.callbacks.append(lambda phase, info: counts.append(info["generation"]) if phase == "stop" else None)
        held = [[] for _ in range(100_000)]  # 100,000 containers: 142 young collections by default
        print(gc.get_threshold(), len(counts))
    """)
    thresholds, collections = out.rsplit(" ", 1)
    assert thresholds == str(collector.THRESHOLDS) == "(20000, 10, 10)"
    assert 1 <= int(collections) <= 5


def test_freeze_leaves_what_start_up_built_out_of_every_later_collection_and_frees_its_garbage() -> None:
    out = run("""
        import gc, weakref
        from app.runtime import collector
        class Node:
            pass
        cycle = Node(); cycle.other = Node(); cycle.other.other = cycle
        gone = weakref.ref(cycle)
        del cycle  # garbage of start-up, in a reference cycle
        kept = [Node() for _ in range(1000)]
        collector.freeze()
        print(gc.get_freeze_count() >= 1000, sum(isinstance(o, Node) for o in gc.get_objects()), gone() is None)
    """)
    assert out.split() == [
        "True",  # the 1,000 kept nodes are frozen...
        "0",  # ...so no collection walks them again
        "True",  # and the start-up cycle was freed first, not frozen
    ]
