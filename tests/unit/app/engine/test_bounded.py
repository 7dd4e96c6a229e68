"""Issue 11: nothing in the engine grows with traffic, only with partitions and distinct keys.

The same numbers get round after round of sends and replies; after each round the sizes of
every map and list the engine keeps (per partition, per input, per checkpoint) and the keys
in the stores are taken. Once every key was written they must not change (the progress
snapshots the reply gate keeps grow to their bound and stay there; so do the keys of
each number's consent timeline, one per entry up to ``OPTOUT_TIMELINE_MAX_EVENTS``, here
its least, 20: ~1.5 replies per number a round fill them by round 14).
"""

from __future__ import annotations

import pytest

from app.engine.driver import Driver
from app.engine.loop import RELEASE_MEMORY_INTERVAL_MS
from app.engine.reply_gate import SNAPSHOTS_KEPT
from app.settings import Settings
from tests.unit.app.engine.scenario import NUMBERS


def sizes(d: Driver) -> dict[str, object]:
    p, loop = d.processor, d.loop
    assert loop is not None
    return {
        "positions": len(p.positions),
        "held": p.held_count(),
        "held_partitions": len(p.held),
        "open_stamps": len(p._open_stamp),
        "held_origins": sorted(len(v) for v in p._held_origins.values()),
        "overlays": sum(len(s._pending) for s in p.states.values()),
        "snapshots": len(p.gate._snapshots),
        "gate_covered": sorted(len(v) for v in p.gate._covered.values()),
        "gate_next": len(p.gate._next),
        "gate_sources": len(p.gate.sources),
        "recovery_problems": len(loop.recovery_problems),
        "open_transactions": sum(len(v) for v in d.broker.txn_open.values()),
        "moved": len(loop._moved_ms),
        "last_pos": len(loop._last_pos),
        "seeks": len(loop._seeks),
        "deliveries": len(loop.checkpoint._deliveries),
        "committed": len(loop.checkpoint._committed),
        "counters": len(d.stats.counts),
        "store_keys": sorted(len(s.data) for s in d.stores.stores.values()),
    }


def traffic(d: Driver, round_: int) -> None:
    parts = d.settings.input_partitions
    for i in range(120):
        number = NUMBERS[i % len(NUMBERS)]
        d.send(f"s{round_}-{i}", number, partition=i % parts)
        if i % 10 == 0:
            # (no reply for review: each queued review item is a key of its own, app/stream/review_queue.py)
            body = ("STOP", "START", "HELP", "Stop", "thanks")[(i // 10 + round_) % 5]
            d.reply(f"r{round_}-{i}", number, body, partition=(i // 10) % parts)


@pytest.mark.parametrize("exactly_once", [False, True], ids=["at_least_once", "exactly_once"])
async def test_the_engine_keeps_nothing_per_record(exactly_once: bool) -> None:
    settings = Settings(kafka_bootstrap_servers="memory:0", partitions=4, input_partitions=2, commit_interval_ms=1,
                        progress_interval_ms=1, timeline_max_events=20)
    d = Driver(settings, exactly_once=exactly_once)
    seen = []
    for round_ in range(45):
        traffic(d, round_)
        await d.run()
        d.clock.advance(50)
        seen.append(sizes(d))
    # the progress snapshots kept: the newest SNAPSHOTS_KEPT
    assert all(s["snapshots"] <= SNAPSHOTS_KEPT for s in seen)
    assert seen[-1]["snapshots"] == SNAPSHOTS_KEPT
    # everything else is the same after every round once each key was written once
    settled = {k: v for k, v in seen[20].items() if k != "snapshots"}
    assert settled["positions"] > 0 and settled["store_keys"]
    for later in seen[21:]:
        assert {k: v for k, v in later.items() if k != "snapshots"} == settled


async def test_the_loop_has_the_stores_release_freed_memory_every_30_s() -> None:
    d = Driver()
    await d.start()
    assert d.stores.releases == 0
    for _ in range(95):
        await d.steps(1)
        d.clock.advance(1000)
    assert d.stores.releases == 3  # at 30, 60 and 90 s
    assert RELEASE_MEMORY_INTERVAL_MS == 30_000
