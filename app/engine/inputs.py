"""What flows through the engine."""

from __future__ import annotations

from typing import NamedTuple


class TP(NamedTuple):
    """A topic-partition (field-compatible with aiokafka's ``TopicPartition``)."""

    topic: str
    partition: int


class InRecord:
    """One fetched record (the fields of aiokafka's ``ConsumerRecord`` the engine reads,
    so a runtime may hand those over as they are; ``timestamp`` is in milliseconds)."""

    __slots__ = ("key", "offset", "partition", "timestamp", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, timestamp: int | None,
                 key: bytes | None, value: bytes | None) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)

    def __repr__(self) -> str:
        return f"InRecord({self.topic}[{self.partition}]@{self.offset})"


class Acked(NamedTuple):
    """Where the broker stored an output."""

    topic: str
    partition: int
    offset: int
