"""Bytes in, bytes out: JSON codec and the output records every adapter shares."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: enough to find it again and to dead-letter it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """One record to publish. ``partition`` None lets the producer choose."""

    topic: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None


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


def dead_letter(topic: str, origin: Origin, error: str, payload: bytes | None, key: bytes | None = None) -> Output:
    """A `sms.deadletter` record (see schemas.deadletter) holding the original bytes."""
    text, encoding = _as_text(payload)
    key_text, _ = _as_text(key)
    record = {
        "source_topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "error": error,
        "payload": text,
        "payload_encoding": encoding,
        "key": key_text,
        "at": iso(utcnow()),
    }
    return Output(topic, dumps(record), key=key)
