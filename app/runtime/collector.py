"""Python's cyclic garbage collector, set for a worker that allocates per record.

Every record makes a few short-lived containers (its decoded JSON, its output). With
CPython's default thresholds (700, 10, 10) the collector ran a young collection every
700 of them and a full one whenever the objects that survived grew by a quarter: the
parse caches, held sends and batches kept it busy. Measured (``make bench``'s project row,
and the engine on its in-memory driver with 100,000 sends to 50,000 numbers): 16.8 µs of
CPU per send in the collector, about a quarter of the worker's CPU, and full collections
of up to 177 ms, each one a pause of every record in flight (the latency tail).

- :func:`tune` (``python -m app worker`` calls it at start): a young collection every
  :data:`YOUNG_THRESHOLD` net container allocations instead of 700 (1.7 µs a send);
  garbage in reference cycles waits at most that many allocations longer (a few MiB).
- :func:`freeze`, once the worker has started: the modules, classes and settings built at
  start move to the permanent generation, which no collection scans again (a full
  collection then walks what the worker made since, not the ~150,000 objects of its
  imports). Nothing frozen is lost: objects freed by their reference count still are.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
THRESHOLDS = (YOUNG_THRESHOLD, 10, 10)  # the older generations' ratios stay CPython's


def tune() -> None:
    gc.set_threshold(*THRESHOLDS)


def freeze() -> None:
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
