"""Replies before sends, across every worker: reply watermarks per routed partition.

Kafka orders nothing across topics, and the reply that opts a number out may be
routed by another worker than the send. So every router publishes progress
(:mod:`app.engine.progress`): "every reply of ``sms.inbound[i]`` that the broker
had acknowledged before time T is routed, and the routed topic ended at offsets
N[0..P-1] when that was true". A decider that has processed routed partition p
up to N[p] has therefore applied every such reply for its numbers, and may
decide any send requested at or before T. The watermark of p is the minimum of
that T over every reply partition; a reply partition with no progress (nobody
routes it: a stalled or dead worker) holds every send, fail closed.
"""

from __future__ import annotations

from collections import deque

from app.engine.records import TP

NO_WATERMARK = -1
ENTRIES_PER_SOURCE = 64  # progress entries kept per reply partition (oldest dropped: only delays)


class ReplyWatermarks:
    def __init__(self) -> None:
        self.sources: frozenset[TP] = frozenset()
        # per reply partition: (up_to_ms, need offsets per routed partition), oldest first
        self._entries: dict[TP, deque[tuple[int, tuple[int, ...]]]] = {}
        self._best: dict[tuple[int, TP], int] = {}  # (routed partition, source) -> watermark reached

    def set_sources(self, sources: set[TP]) -> None:
        """Every reply partition that must report before a send is decided."""
        self.sources = frozenset(sources)

    def on_progress(self, up_to: dict[TP, int], need: tuple[int, ...]) -> None:
        for source, t in up_to.items():
            entries = self._entries.setdefault(source, deque(maxlen=ENTRIES_PER_SOURCE))
            if entries and entries[-1][0] >= t:
                continue  # not newer than what we have (an older report, or a replay)
            entries.append((t, need))

    def watermark(self, partition: int, position: int) -> int:
        """Every reply requested up to the returned time (ms) has been applied to
        ``partition`` once it is processed up to ``position`` (next offset)."""
        if not self.sources:
            return NO_WATERMARK
        lowest: int | None = None
        for source in self.sources:
            best = self._best.get((partition, source), NO_WATERMARK)
            entries = self._entries.get(source)
            if entries:
                for t, need in reversed(entries):
                    if t <= best:
                        break
                    if partition < len(need) and need[partition] <= position:
                        best = t
                        break
                self._best[(partition, source)] = best
            if best == NO_WATERMARK:
                return NO_WATERMARK
            lowest = best if lowest is None else min(lowest, best)
        return NO_WATERMARK if lowest is None else lowest

    def forget_partition(self, partition: int) -> None:
        """Positions of a revoked partition mean nothing to its next owner here."""
        for key in [k for k in self._best if k[0] == partition]:
            del self._best[key]

    def lagging(self, now_ms: int, threshold_ms: int) -> dict[TP, int | None]:
        """Reply partitions not routed up to ``now_ms - threshold_ms`` (how far behind,
        in ms; None: never reported): a stalled, dead or overloaded router."""
        out: dict[TP, int | None] = {}
        for source in self.sources:
            entries = self._entries.get(source)
            if not entries:
                out[source] = None
            elif now_ms - entries[-1][0] > threshold_ms:
                out[source] = now_ms - entries[-1][0]
        return out
