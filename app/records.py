"""Bytes in, bytes out: JSON codec and the output records every adapter shares."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson


class Origin(NamedTuple):
    """Where a record came from: enough to find it again and to dead-letter it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


class Receipt(dict):
    """Where the broker stored an output: ``{"partition": ..., "offset": ...}``, both None
    until the producer port fills them in on the broker's acknowledgement. A dict, so that
    a state value holding it (a consent timeline entry) is encoded with what the
    acknowledgement filled in (the checkpoint encodes state only after every output is
    acknowledged: :mod:`app.engine.checkpoint`)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(partition=None, offset=None)

    def fill(self, partition: int, offset: int) -> None:
        self["partition"] = partition
        self["offset"] = offset

    @property
    def acked(self) -> bool:
        return self["offset"] is not None


class Output(NamedTuple):
    """One record to publish. ``partition`` None lets the producer choose. ``receipt``, when
    given, is filled in with where the record went once the broker acknowledged it.
    (A NamedTuple: one is made per output, and a frozen dataclass costs 3 times as much.)"""

    topic: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None
    receipt: Receipt | None = None


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def from_timestamp_ms(timestamp_ms: int | None) -> datetime:
    if timestamp_ms is None or timestamp_ms < 0:
        return utcnow()
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _as_text(data: bytes | None) -> tuple[str | None, str]:
    if data is None:
        return None, "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


# A dead letter must always fit under the broker's record limit (1 MiB by default):
# JSON escaping (\u0000 is 6 bytes) or base64 can make the original several times larger.
DEAD_LETTER_MAX_BYTES = 900_000
KEPT_PREFIX_BYTES = 64 * 1024
MAX_KEY_BYTES = 1024


def dead_letter(topic: str, origin: Origin, error: str, payload: bytes | None, key: bytes | None = None) -> Output:
    """A `sms.deadletter` record (see schemas.deadletter) holding the original bytes.

    When the record would not fit under the broker's limit, it keeps a prefix of the
    original, its full size and its SHA-256 (``payload_truncated``)."""
    text, encoding = _as_text(payload)
    if key is not None and len(key) > MAX_KEY_BYTES:
        key = key[:MAX_KEY_BYTES]
    key_text, _ = _as_text(key)
    record: dict[str, Any] = {
        "source_topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "error": error[:2000],
        "payload": text,
        "payload_encoding": encoding,
        "key": key_text,
        "at": iso(utcnow()),
    }
    value = dumps(record)
    if len(value) > DEAD_LETTER_MAX_BYTES and payload is not None:
        prefix_text, prefix_encoding = _as_text(payload[:KEPT_PREFIX_BYTES])
        if prefix_encoding != encoding and encoding == "utf-8":  # cut inside a character: keep the text
            prefix_text = text[:KEPT_PREFIX_BYTES // 4] if text else None
            prefix_encoding = "utf-8"
        record.update(payload=prefix_text, payload_encoding=prefix_encoding, payload_truncated=True,
                      payload_size=len(payload), payload_sha256=hashlib.sha256(payload).hexdigest())
        value = dumps(record)
    return Output(topic, value, key=key)
