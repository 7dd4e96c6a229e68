"""What the engine needs from a runtime. The Kafka runtime and the in-memory
driver each implement these; the engine never imports a Kafka client."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Protocol

from app.engine.inputs import TP, Acked, InRecord
from app.records import Output


class SourcePort(Protocol):
    """The group consumer of the input topics and the routed topic."""

    async def fetch(self, timeout_ms: int) -> list[InRecord]: ...
    def assignment(self) -> set[TP]: ...
    async def seek_to_committed(self, tps: set[TP]) -> None:
        """Fetch from each partition's committed offset (its earliest if none)."""
    async def position(self, tp: TP) -> int: ...
    def consumed_position(self, tp: TP) -> int | None:
        """The offset of the next record the consumer will return (past transaction
        markers and aborted records, which are never returned); None if not known."""
    def lag(self, tp: TP) -> int | None:
        """Records known to be waiting on ``tp`` (None: not known yet)."""
    async def commit(self, offsets: dict[TP, int]) -> None: ...
    async def committed(self, tps: Sequence[TP]) -> dict[TP, int]:
        """The consumer group's committed offset of each partition (missing: none committed),
        whoever committed it: the progress the gate needs (:mod:`app.engine.progress`)."""
    async def rejoin(self) -> None:
        """Ask the group for an assignment again (after :class:`~app.engine.failures.Fenced`): revoked and assigned
        again, tasks still ours are opened anew."""
    def pause(self, tps: set[TP]) -> None: ...
    def resume(self, tps: set[TP]) -> None: ...


class OutputPort(Protocol):
    """The producer. ``send`` hands records over (in order per partition) and returns
    an awaitable that resolves when the broker acknowledged all of them and raises
    :class:`~app.engine.failures.NotAcknowledged` if any was refused; its result says where they went (at
    least the last offset written per partition). An output that carries a
    :class:`~app.records.Receipt` has it filled in with its own partition and offset
    before that awaitable resolves (never for a record the broker refused).

    ``task`` is the task of the input partition whose records made the outputs. Under
    exactly-once (``transactional``) each task has its own transactional producer
    (its id tied to the partition, so a new owner fences the old one), and its
    outputs, changelog records and input offset are committed together by
    ``commit_tasks``. At-least-once ports ignore ``task`` for outputs, but the changelog
    of a routed partition is written in a transaction of that partition's task all the
    same (``send_changelog``, ``seal_changelog``): a zombie owner's stale state never
    lands after the new owner's (the new owner's ``open_task`` fences it)."""

    transactional: bool

    async def send(self, outputs: Sequence[Output], task: TP | None = None) -> Awaitable[list[Acked]]: ...
    async def open_task(self, task: TP) -> None:
        """Fence any older producer of the task (aborting its open transaction): every task
        under exactly-once, the routed partitions' changelog writers under at-least-once."""
    async def close_task(self, task: TP) -> None: ...
    async def send_changelog(self, partition: int, records: Sequence[Output]) -> Awaitable[list[Acked]]:
        """Hand over changelog records of a routed partition, in its task's transaction."""
    async def seal_changelog(self) -> None:
        """At-least-once: commit the changelog transactions (raises :class:`~app.engine.failures.Fenced` if a newer
        owner exists); exactly-once: nothing (``commit_tasks`` commits them)."""
    async def commit_tasks(self, offsets: dict[TP, dict[TP, int]], changed: set[TP]) -> None:
        """Exactly-once: commit every open transaction with its task's offsets (``offsets``: per
        task, the offset of each input partition in it), and the tasks in ``changed`` that made
        no output. A task is an input partition, or a routed partition with the send partition
        it decides in place (:meth:`app.engine.processor.Processor.task_of`)."""
    async def abort_tasks(self) -> None: ...
    async def end_offsets(self, tps: Sequence[TP]) -> dict[TP, int]: ...
    async def log_ends(self, topics: Sequence[str]) -> dict[TP, int]:
        """The end offset (high watermark) of every partition of ``topics``, the partitions
        looked up afresh (one added a moment ago is included)."""
    def partitions(self, topic: str) -> int: ...


class StorePort(Protocol):
    """The durable state of one partition (RocksDB, or memory in tests)."""

    def get(self, key: bytes) -> bytes | None: ...
    def write(self, changes: dict[bytes, bytes], changelog_next: int) -> None:
        """Store ``changes`` and the changelog position they reach, atomically."""
    def changelog_next(self) -> int:
        """The changelog offset to recover from (everything before is in the store)."""
    def scan(self, after: bytes | None, limit: int, prefix: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Up to ``limit`` stored ``(key, value)`` pairs in key order, starting after the key
        ``after`` (from the first key if None), only keys that start with ``prefix`` if given.

        For listings off the hot path: callers read a few hundred keys per call and give
        the event loop back between calls. It reads what is *stored*: the writes a
        :class:`~app.engine.state.PartitionState` still holds back (at most one checkpoint's,
        stored within about 100 ms) are not seen yet."""
    def close(self) -> None: ...


class StoreFactory(Protocol):
    def open(self, partition: int) -> StorePort:
        """The partition's store, opened once (the same object until closed)."""
    def close(self, partition: int) -> None: ...
    def release_memory(self) -> None:
        """Give the memory freed since the last call back to the system (the loop calls this
        every ``RELEASE_MEMORY_INTERVAL_MS``)."""


class ChangelogPort(Protocol):
    """Reads one changelog partition from an offset to its current end."""

    async def read(self, partition: int, start: int, end: int) -> tuple[list[tuple[int, bytes, bytes | None]], int]:
        """The next batch of ``(offset, key, value)`` at or after ``start`` and before
        ``end``, and the offset read up to (past transaction markers and aborted records);
        that offset is ``start`` when nothing could be read (a slow or absent leader)."""

