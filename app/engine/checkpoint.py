"""THE order in which a worker makes its work durable. Every rule is here.

1. **outputs**: every output of the records processed since the last checkpoint
   (routed records, decisions, consent records, confirmations, dead letters) was
   handed to the producer as it was made; now every one must be acknowledged.
2. **changelog**: only then the state changes are sent to the changelog, and
   acknowledged, in a transaction of the partition's task under either guarantee: a
   worker that lost the partition (a zombie) is fenced by the new owner and cannot
   write its stale state after the new owner's. A crash before this point loses the state change together with
   (some of) its outputs: the replay, on the old state, makes them all again.
   The reverse order could store a STOP whose consent record never reached the
   broker, and the replay would take the STOP for a duplicate.
3. **offsets**: only then the input offsets are committed (never past a held
   send, :mod:`app.engine.processor`). Under exactly-once, steps 1-3 are one
   transaction per task (an input partition; a send partition decided in place is in
   its routed partition's task): its outputs, its changelog records and its
   offsets become visible together, or not at all.
4. **state**: last, the local store gets the changes, with the changelog offset
   they reach. A crash before this point is repaired at start-up: recovery
   reads the changelog from the store's offset.

**Coordinates of outputs in the state.** A state change may hold where one of its
outputs went (a consent timeline entry holds its ``sms.consent`` record's
partition and offset, :mod:`app.stream.timeline`): the output carries a
:class:`~app.records.Receipt`, held by reference in the state value, which the
producer port fills in when the broker acknowledges the record. State is
encoded only at step 2, after every output was acknowledged (step 1), and
nothing is processed between the steps (the loop holds its lock), so the
changelog and the store only ever hold coordinates of acknowledged records. A
crash before step 2 loses the entry with the state change: the replay makes the
record again, at new coordinates, and the entry with them. (Under exactly-once
the acknowledged record is in the open transaction, committed at step 3 with the
changelog record that points to it, or aborted with it.)

A failure at any step raises; nothing after it happens, and the loop rewinds
(:mod:`app.engine.loop`). ``on_step`` lets tests stop the world after any step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.engine.inputs import TP, Acked
from app.engine.ports import OutputPort, SourcePort
from app.engine.processor import Processor
from app.records import Output

STEPS = ("outputs_acked", "changelog_acked", "offsets_committed", "state_stored")


class Checkpoint:
    def __init__(self, outputs: OutputPort, source: SourcePort, changelog_topic: str, routed_topic: str,
                 on_step: Callable[[str], None] | None = None,
                 task_of: Callable[[TP], TP] = lambda tp: tp) -> None:
        self.task_of = task_of  # the task (transaction) of an input partition's outputs and offset
        self.routed_topic = routed_topic
        self.outputs = outputs
        self.source = source
        self.changelog_topic = changelog_topic
        self.on_step = on_step or (lambda step: None)
        self._deliveries: list[Awaitable[list[Acked]]] = []
        self._committed: dict[TP, int] = {}
        self.count = 0

    async def send(self, by_task: dict[TP, list[Output]]) -> None:
        """Hand outputs to the producer now (their acknowledgement is awaited at commit)."""
        for task, outputs in by_task.items():
            if outputs:
                self._deliveries.append(await self.outputs.send(outputs, self.task_of(task)))

    def has_work(self, processor: Processor) -> bool:
        return bool(self._deliveries) or any(s.has_pending() for s in processor.states.values()) or (
            processor.commit_offsets() != self._committed
        )

    def reset(self) -> None:
        """Forget what was handed over (after a failure: the replay makes it again)."""
        self._deliveries = []
        self._committed = {}

    def forget(self, tps: set[TP]) -> None:
        for tp in tps:
            self._committed.pop(tp, None)

    async def commit(self, processor: Processor) -> dict[TP, int]:
        """Make everything processed so far durable, in order. Returns the committed offsets."""
        # 1. outputs
        deliveries, self._deliveries = self._deliveries, []
        for delivery in deliveries:
            await delivery
        self.on_step("outputs_acked")
        # 2. changelog
        changes = {p: state.pending() for p, state in processor.states.items() if state.has_pending()}
        reached: dict[int, int] = {}
        handed = []
        for partition, encoded in changes.items():
            records = [Output(self.changelog_topic, value, key=key, partition=partition)
                       for key, value in encoded.items()]
            handed.append(await self.outputs.send_changelog(partition, records))
        for delivery in handed:
            for acked in await delivery:
                reached[acked.partition] = max(reached.get(acked.partition, 0), acked.offset + 1)
        await self.outputs.seal_changelog()  # at-least-once: a fenced (zombie) writer stops here
        self.on_step("changelog_acked")
        # 3. offsets (exactly-once: the transactions, each with its outputs, changelog and offset)
        offsets = processor.commit_offsets()
        changed = {tp: offset for tp, offset in offsets.items() if self._committed.get(tp) != offset}
        if self.outputs.transactional:
            by_task: dict[TP, dict[TP, int]] = {}
            for tp, offset in offsets.items():
                by_task.setdefault(self.task_of(tp), {})[tp] = offset
            await self.outputs.commit_tasks(by_task, {self.task_of(tp) for tp in changed})
        elif changed:
            await self.source.commit(changed)
        self._committed.update(changed)
        self.on_step("offsets_committed")
        # 4. state
        for partition, encoded in changes.items():
            processor.states[partition].persist(encoded, reached[partition])
        self.on_step("state_stored")
        self.count += 1
        return offsets
