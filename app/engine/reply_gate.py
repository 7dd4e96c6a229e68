"""Replies before sends, across every worker, by broker offsets (no clock decides it).

Kafka orders nothing across topics, and the reply that opts a number out may be
routed by another worker than the send. The gate works with what the broker orders:

- **The stamp.** When a worker fetches sends to route, it asks the broker for the end
  offset of every reply partition (``sms.inbound``, ``sms.status``; partitions
  discovered afresh each time) *after* the fetch returned. A send in that batch was
  produced before the fetch, so every reply the broker had acknowledged before the send
  was produced lies below those ends: the send's stamp, written into its routed record
  (fixed: every worker that decides it, and every replay, reads the same stamp; a reply
  at or past it was acknowledged after the send was produced).
- **Progress.** The offset the routers' consumer group has committed on a reply
  partition means: every reply below it is routed and acknowledged in the routed topic
  (the checkpoint commits an input offset only after its outputs are acknowledged, or in
  their transaction). A *snapshot* reads those committed offsets C, **then** the end
  offsets N of the routed topic: every routed record of a reply below C is below N.
- **The rule.** A send held on routed partition p may be decided once p is processed
  up to N[p] of a snapshot whose C reaches the send's stamp on every reply partition.

Nothing here is a time: a producer's CreateTime, a router's clock or an old report can
neither open nor close the gate. A reply partition nobody routes keeps its committed
offset below the stamps of later sends: they are held (fail closed), and said.
"""

from __future__ import annotations

from collections import deque

from app.engine.inputs import TP

Stamp = dict[TP, int]  # reply partition -> its end offset when the send's batch was fetched

MAX_STAMP_PARTITIONS = 10_000  # per reply topic, in a routed record's stamp (more: not a stamp)

SNAPSHOTS_KEPT = 64  # newest snapshots kept (an older one dropped unreached only delays)


def encode_stamp(stamp: Stamp) -> list:
    """``[[reply topic, [end per partition]], ...]`` (what a routed send carries)."""
    by_topic: dict[str, dict[int, int]] = {}
    for tp, end in stamp.items():
        by_topic.setdefault(tp.topic, {})[tp.partition] = end
    return [[topic, [ends.get(p, 0) for p in range(max(ends) + 1)]] for topic, ends in sorted(by_topic.items())]


def decode_stamp(raw: object) -> Stamp | None:
    """The stamp a routed send carries; None if it has none or it is not one."""
    if not isinstance(raw, list):
        return None
    stamp: Stamp = {}
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], list) and len(entry[1]) <= MAX_STAMP_PARTITIONS):
            return None
        for partition, end in enumerate(entry[1]):
            if type(end) is not int or end < 0:
                return None
            stamp[TP(entry[0], partition)] = end
    return stamp


def below(stamp: Stamp, origin: object) -> bool:
    """Whether the reply at ``origin`` (``[topic, partition, offset, ...]``) lies below ``stamp``:
    it may have been acknowledged before the send was produced (at or past: after; a
    partition the stamp does not name was made after it)."""
    if not isinstance(origin, list) or len(origin) < 3:
        return False
    end = stamp.get(TP(origin[0], origin[1]))
    return end is not None and isinstance(origin[2], int) and origin[2] < end


class Snapshot:
    __slots__ = ("committed", "routed_ends", "seq")

    def __init__(self, seq: int, committed: dict[TP, int], routed_ends: tuple[int, ...]) -> None:
        self.seq = seq
        self.committed = committed
        self.routed_ends = routed_ends


class ReplyGate:
    def __init__(self) -> None:
        self._snapshots: deque[Snapshot] = deque(maxlen=SNAPSHOTS_KEPT)
        self._seq = 0
        # per routed partition: the coverage reached (per reply partition, the highest committed
        # offset of a snapshot the partition is processed past) and the next snapshot to look at
        self._covered: dict[int, dict[TP, int]] = {}
        self._next: dict[int, int] = {}
        self.sources: set[TP] = set()  # every reply partition a stamp has named (snapshots ask for these)

    def note_stamp(self, stamp: Stamp) -> None:
        if len(stamp) != len(self.sources) or not self.sources.issuperset(stamp):
            self.sources |= set(stamp)

    def on_snapshot(self, committed: dict[TP, int], routed_ends: tuple[int, ...]) -> None:
        """``committed`` was read before ``routed_ends`` (a partition missing: nothing committed)."""
        self._seq += 1
        self._snapshots.append(Snapshot(self._seq, committed, routed_ends))

    def _coverage(self, partition: int, position: int) -> dict[TP, int]:
        covered = self._covered.get(partition)
        if covered is None:
            covered = self._covered[partition] = {}
        start = self._next.get(partition, 0)
        for snapshot in self._snapshots:
            if snapshot.seq < start:
                continue
            ends = snapshot.routed_ends
            if partition >= len(ends) or ends[partition] > position:
                break  # later snapshots' ends are later still
            for tp, offset in snapshot.committed.items():
                if offset > covered.get(tp, -1):
                    covered[tp] = offset
            start = snapshot.seq + 1
        self._next[partition] = start
        return covered

    def covers(self, partition: int, position: int, stamp: Stamp) -> bool:
        """Every reply below ``stamp`` is applied to ``partition`` once it is processed up to
        ``position`` (the next offset to process)."""
        covered = self._coverage(partition, position)
        for tp, end in stamp.items():
            if end > 0 and covered.get(tp, 0) < end:
                return False
        return True

    def behind(self, stamp: Stamp) -> dict[TP, int]:
        """The reply partitions the newest snapshot has not routed up to ``stamp`` (how many
        records short): a stalled, dead or overloaded router, or one nobody is assigned."""
        newest = self._snapshots[-1].committed if self._snapshots else {}
        return {tp: end - newest.get(tp, 0) for tp, end in stamp.items() if newest.get(tp, 0) < end}

    def forget_partition(self, partition: int) -> None:
        """Positions of a revoked or rewound partition mean nothing to what is read next."""
        self._covered.pop(partition, None)
        self._next.pop(partition, None)
