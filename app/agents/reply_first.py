"""Replies before sends after every (re)assignment: fail closed on a backlog.

When a worker starts, or takes over partitions, replies and send requests may
both be waiting. Kafka does not order records across topics, so a send could
be routed before a STOP that arrived before it. This gate holds the worker's
``sms.outbound`` partitions paused until every reply and receipt that was
already on its ``sms.inbound`` / ``sms.status`` partitions at that moment has
been routed; then sends flow. Live traffic is not delayed after that.

It hooks Faust's consumer at one point: ``resume_partitions``, which Faust
calls when table recovery finishes. Outbound partitions are held back there
(they stay paused, as Faust left them during the rebalance) and released by a
timer once the replies are caught up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from faust.types import TP

if TYPE_CHECKING:
    from app.faust_app import Pipeline

log = logging.getLogger("app.reply_first")


class ReplyFirstGate:
    def __init__(self, pipeline: Pipeline) -> None:
        s = pipeline.settings
        self.app = pipeline.app
        self.gated_topics = {s.outbound_topic}
        self.first_topics = {s.inbound_topic, s.status_topic}
        self.routed: dict[TP, int] = {}  # highest offset routed, per reply/receipt partition
        self.held: set[TP] = set()
        self.targets: dict[TP, int] | None = None
        self._resume = None

    # called by the batch processor for every reply / receipt it has routed
    def routed_offset(self, tp: TP, offset: int) -> None:
        self.routed[tp] = offset

    def install(self) -> None:
        consumer = self.app.consumer
        original = consumer.resume_partitions
        self._resume = original

        def resume_partitions(tps) -> None:  # type: ignore[no-untyped-def]
            tps = set(tps)
            hold = {tp for tp in tps if tp.topic in self.gated_topics}
            if hold:
                self.held |= hold
                self.targets = None  # new assignment: measure the backlog again
                log.info("holding %d send partition(s) until replies are caught up", len(hold))
            original(tps - hold)

        consumer.resume_partitions = resume_partitions

        @self.app.timer(interval=0.05, name="reply_first_gate")
        async def _tick() -> None:
            await self.tick()

    async def tick(self) -> None:
        if not self.held or self.app.rebalancing or not self.app.tables.recovery.completed.is_set():
            return
        consumer = self.app.consumer
        assignment = consumer.assignment()
        if self.targets is None:
            first = [tp for tp in assignment if tp.topic in self.first_topics]
            ends = await consumer.highwaters(*first) if first else {}
            self.targets = {tp: end for tp, end in ends.items() if end}
            return
        committed = consumer._committed_offset
        for tp, end in self.targets.items():
            if tp in assignment and (committed.get(tp) or 0) < end and self.routed.get(tp, -1) < end - 1:
                return  # replies still waiting on this partition
        release = {tp for tp in self.held if tp in assignment}
        self.held.clear()
        self.targets = None
        if release:
            log.info("replies caught up: releasing %d send partition(s)", len(release))
            assert self._resume is not None
            self._resume(release)
