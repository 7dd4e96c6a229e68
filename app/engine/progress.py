"""What a router tells every decider about the replies it has routed.

A cycle, for the reply partitions (``sms.inbound``, ``sms.status``) this worker
is assigned: note the time T, ask the broker for their end offsets, wait until
everything before those ends is routed **and acknowledged** (a checkpoint),
then ask for the end offsets N of the routed topic and publish
``{up_to: {partition: T}, need: N}`` to the progress topic (compacted, keyed by
worker). Every reply the broker had acknowledged before T is then in the routed
topic before N. Deciders turn that into watermarks (:mod:`app.engine.watermarks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.engine.loop import EngineLoop
from app.engine.ports import OutputPort, SourcePort
from app.engine.records import TP
from app.records import Output, dumps, loads
from app.settings import Settings

log = logging.getLogger("app.engine.progress")


class ProgressPublisher:
    def __init__(self, settings: Settings, loop: EngineLoop, source: SourcePort, outputs: OutputPort,
                 worker_id: str, clock_ms: Callable[[], int]) -> None:
        self.settings = settings
        self.loop = loop
        self.source = source
        self.outputs = outputs
        self.worker_id = worker_id
        self.clock_ms = clock_ms
        self.reply_topics = frozenset({settings.inbound_topic, settings.status_topic})

    async def cycle(self, wait_s: float | None = None) -> bool:
        """One report; False when this worker routes no reply partition that is caught up.

        Waits up to ``wait_s`` (default: the stall limit) for the checkpoint that makes
        the routed replies durable; reports the partitions that are."""
        owned = [tp for tp in self.source.assignment() if tp.topic in self.reply_topics]
        if not owned:
            return False
        routed = [TP(self.settings.routed_topic, p) for p in range(self.settings.partitions)]
        # Fast path (nothing new to route): what was durable BEFORE asking is compared with
        # the ends the broker gives; if it covers them, the routed ends of the same answer
        # are after every routed reply, and one request does.
        durable_before = dict(self.loop.durable)
        t0 = self.clock_ms()
        ends = await self.outputs.end_offsets([*owned, *routed])
        if all(durable_before.get(tp, -1) >= ends[tp] for tp in owned):
            done = {tp: ends[tp] for tp in owned}
            need_by_tp = ends
        else:
            if wait_s is None:
                wait_s = max(self.settings.stall_ms / 1000, 1.0)
            done = await self.loop.wait_durable({tp: ends[tp] for tp in owned}, timeout_s=wait_s)
            if not done:
                return False
            need_by_tp = await self.outputs.end_offsets(routed)
        record = {
            "worker": self.worker_id,
            "up_to": {f"{tp.topic}:{tp.partition}": t0 for tp in done},
            "need": [need_by_tp[tp] for tp in routed],
            "at": self.clock_ms(),
        }
        output = Output(self.settings.progress_topic, dumps(record), key=self.worker_id.encode(), partition=0)
        await (await self.outputs.send([output]))
        return True


def parse_progress(value: bytes | None) -> tuple[dict[TP, int], tuple[int, ...]] | None:
    """A progress record as (up_to per reply partition, need per routed partition); None if malformed."""
    try:
        data = loads(value) if value else None
        up_to: dict[TP, int] = {}
        for name, t in data["up_to"].items():
            topic, _, partition = name.rpartition(":")
            if not topic or not isinstance(t, int):
                return None
            up_to[TP(topic, int(partition))] = t
        need = tuple(int(n) for n in data["need"])
        return up_to, need
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
