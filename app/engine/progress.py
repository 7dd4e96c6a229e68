"""How far the routers have routed the replies: a snapshot of the broker's own figures.

A snapshot asks the broker for the consumer group's committed offsets of every reply
partition the gate knows (:mod:`app.engine.reply_gate`), **then** for the end offsets
of the routed topic. Committed offsets are written only after what they cover is
acknowledged (:mod:`app.engine.checkpoint`), by whichever worker routes the partition
(a fenced or dead one included: what it committed was routed), so no worker needs to
report anything and no report can be old, forged or from a skewed clock.
"""

from __future__ import annotations

from app.engine.inputs import TP
from app.engine.ports import OutputPort, SourcePort
from app.engine.reply_gate import ReplyGate


class ProgressProbe:
    def __init__(self, source: SourcePort, outputs: OutputPort, gate: ReplyGate, routed_topic: str,
                 partitions: int) -> None:
        self.source = source
        self.outputs = outputs
        self.gate = gate
        self.routed = [TP(routed_topic, p) for p in range(partitions)]

    async def snapshot(self) -> None:
        sources = sorted(self.gate.sources)
        committed = await self.source.committed(sources) if sources else {}
        ends = await self.outputs.end_offsets(self.routed)  # after the committed offsets: see above
        self.gate.on_snapshot(committed, tuple(ends[tp] for tp in self.routed))
