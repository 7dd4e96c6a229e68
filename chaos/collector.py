"""Reads the output topics from the beginning while a scenario runs, and after it until quiet.

It reads with ``isolation_level="read_committed"``, as a downstream consumer would. Every
decoded value gets ``"_seen_us"`` (when this reader saw it, µs since the epoch) and
``"_ts_ms"`` (the record's Kafka timestamp) added, so the checker can time outages without
trusting the worker's timestamps. ``first_seen`` maps each send request's message_id to the
first time any of its outcomes was seen.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from chaos.generator import now_us

OUTPUT_KINDS = ("provider", "suppressed", "deadletter", "consent")


def send_id_of(kind: str, value: dict) -> str | None:
    """message_id of the input an output record is the outcome of: the send request for
    provider/suppressed, the original record (send or reply) for a dead letter; None for
    compliance messages and consent records."""
    if kind == "provider":
        if value.get("category") == "compliance":
            return None
        mid = value.get("message_id")
        return str(mid) if mid is not None else None
    if kind == "suppressed":
        message = value.get("message")
        if isinstance(message, dict) and message.get("message_id") is not None:
            return str(message["message_id"])
        return None
    if kind == "deadletter":
        original = deadletter_payload(value)
        if not isinstance(original, dict):
            return None
        if original.get("kind") == "send" and isinstance(original.get("message"), dict):
            original = original["message"]  # dead-lettered from the routed topic
        # a reply's id too: the checker tells sends from replies by the model's ids
        if original.get("message_id") is not None:
            return str(original["message_id"])
    return None


def deadletter_payload(value: dict) -> Any:
    """The dead-lettered record's original value, decoded if it was JSON (else None)."""
    payload = value.get("payload")
    if payload is None:
        return None
    try:
        raw = base64.b64decode(payload) if value.get("payload_encoding") == "base64" else payload.encode()
        return json.loads(raw)
    except (ValueError, TypeError):
        return None


class LiveCollector:
    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        """``topics``: kind ("provider", "suppressed", "deadletter", "consent") -> topic name."""
        self.bootstrap = bootstrap
        self.topics = topics
        self.kind_of = {name: kind for kind, name in topics.items()}
        self.records: dict[str, list[dict]] = {kind: [] for kind in topics}
        self.first_seen: dict[str, int] = {}
        self.undecodable = 0
        self.last_new_us = now_us()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self.error: BaseException | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
            group_id=None, fetch_max_wait_ms=50, max_partition_fetch_bytes=4 * 1024 * 1024,
            request_timeout_ms=60_000,
            # what a downstream consumer (the SMS provider) sees: a transactional (exactly-once)
            # runtime's aborted outputs are not outputs; records of non-transactional producers
            # are visible at once either way
            isolation_level="read_committed",
        )
        await self._consumer.start()
        tps: list[TopicPartition] = []
        for topic in self.topics.values():
            parts = None
            for _ in range(100):
                parts = self._consumer.partitions_for_topic(topic)
                if parts:
                    break
                await self._consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
            if not parts:
                raise RuntimeError(f"topic {topic} does not exist")
            tps += [TopicPartition(topic, p) for p in parts]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                await consumer.stop()
            except asyncio.CancelledError:
                # aiokafka's fetcher re-raises the cancellation of its own fetch task when it is
                # closed during a retry backoff (e.g. after a broker restart); ours is not cancelled
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise

    async def _loop(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=100, max_records=20000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. while the broker restarts; keep reading
                self.error = exc
                await asyncio.sleep(0.5)
                continue
            if not batch:
                continue
            seen = now_us()
            self.last_new_us = seen
            for tp, messages in batch.items():
                kind = self.kind_of[tp.topic]
                out = self.records[kind]
                for message in messages:
                    try:
                        value = json.loads(message.value)
                    except (TypeError, ValueError):
                        self.undecodable += 1
                        continue
                    if not isinstance(value, dict):
                        self.undecodable += 1
                        continue
                    value["_seen_us"] = seen
                    value["_ts_ms"] = message.timestamp
                    out.append(value)
                    mid = send_id_of(kind, value)
                    if mid is not None and mid not in self.first_seen:
                        self.first_seen[mid] = seen

    def counts(self) -> dict[str, int]:
        return {kind: len(v) for kind, v in self.records.items()}

    def quiet_for_s(self) -> float:
        return (now_us() - self.last_new_us) / 1e6

    async def drain(self, done: Any, *, quiet_s: float, stall_s: float, timeout_s: float) -> dict[str, Any]:
        """Read until ``done()`` holds and nothing new came for ``quiet_s``; or nothing new for
        ``stall_s``; or ``timeout_s``. Returns how it ended."""
        t0 = time.monotonic()
        complete_since: float | None = None
        while True:
            await asyncio.sleep(0.25)
            elapsed = time.monotonic() - t0
            if done():
                complete_since = complete_since or time.monotonic()
                if self.quiet_for_s() >= quiet_s and time.monotonic() - complete_since >= quiet_s:
                    return {"ended": "complete", "drain_s": round(elapsed, 1)}
            else:
                complete_since = None
                if self.quiet_for_s() >= stall_s:
                    return {"ended": f"stalled (nothing new for {stall_s:.0f} s)", "drain_s": round(elapsed, 1)}
            if elapsed >= timeout_s:
                return {"ended": f"timeout ({timeout_s:.0f} s)", "drain_s": round(elapsed, 1)}
