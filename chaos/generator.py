"""Paced producer of send requests and STOP/START replies, keeping the model.

The model is two lists of plain dicts, the checker's input:

- ``sends``: ``{"message_id", "number", "t_us", "acked_us", "error", "probe", "routed_partition"}``
- ``replies``: ``{"message_id", "number", "intent" ("opt_out" | "opt_in"), "body", "t_us"
  (= the reply's ``received_at``, its event time), "acked_us", "error"}``

``t_us`` is the generator's clock (µs since the epoch) when it produced the record; it is
also, for a reply, its Kafka timestamp (ms) and its ``received_at``. A send's Kafka timestamp
(CreateTime) is stamped by a producer whose clock is off: ``t_us`` plus one of
``Scale.send_stamp_skews_s`` (``stamp_skew_s`` in the model); no clock may decide whether a
STOP comes first, so the checker goes by ``t_us`` and ``acked_us`` alone. The clock is
made strictly increasing across every record of a run, so time order is produce order.
``acked_us`` is when the producer reported the broker's acknowledgement (never earlier than
the real one); ``error`` is set when the produce failed (the record's fate is unknown).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from chaos.config import Scale
from chaos.numbers import contact_numbers, probe_numbers, routed_partition

OPT_OUT_BODIES = ("STOP", "stop", "Stop", "UNSUBSCRIBE", "Cancel", "stop texting me")
OPT_IN_BODIES = ("START", "start", "Unstop", "YES")
OUR_NUMBER = "+14155550000"


def iso_us(t_us: int) -> str:
    return datetime.fromtimestamp(t_us // 1_000_000, UTC).replace(microsecond=t_us % 1_000_000).isoformat()


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class Plan:
    """What to produce, at which offset (s) from the start: sends and replies, sorted."""

    events: list[tuple[float, str, str]]  # (offset_s, kind "send" | "opt_out" | "opt_in", number)
    numbers: list[str]
    replying: list[str]
    quiet: list[str]


def make_plan(scale: Scale, seed: int) -> Plan:
    rng = random.Random(seed)
    numbers = contact_numbers(scale.numbers)
    replying = rng.sample(numbers, min(scale.replying, len(numbers)))
    replying_set = set(replying)
    quiet = [n for n in numbers if n not in replying_set]
    events: list[tuple[float, str, str]] = []
    total = scale.sends
    for i in range(total):
        offset = i / scale.rate
        pool = replying if (rng.random() < scale.reply_share or not quiet) else quiet
        events.append((offset, "send", rng.choice(pool)))
    lo, hi = 0.03 * scale.duration_s, 0.97 * scale.duration_s
    for number in replying:
        count = rng.choice((1, 2, 2, 3, 3, 4))
        times = sorted(rng.uniform(lo, hi) for _ in range(count))
        intent = "opt_out"
        for j, offset in enumerate(times):
            events.append((offset, intent, number))
            if intent == "opt_out" and rng.random() < 0.1:  # a second STOP: verdict "unchanged"
                events.append((offset + 0.05, "opt_out", number))
            intent = "opt_in" if intent == "opt_out" else "opt_out"
    events.sort(key=lambda e: e[0])
    return Plan(events=events, numbers=numbers, replying=replying, quiet=quiet)


@dataclass
class Generator:
    bootstrap: str
    inbound_topic: str
    outbound_topic: str
    scale: Scale
    seed: int = 1
    key_by_number: bool = True
    # sends produced with no key (a partition of the producer's choosing), the rest keyed by their
    # number: with the send topic partitioned as the routed topic, exactly-once decides those in
    # place and routes these, both paths in one run
    unkeyed_sends: float = 0.25
    sends: list[dict] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)
    started_us: int = 0
    finished_us: int = 0
    lag_max_s: float = 0.0  # how far production fell behind the plan (e.g. while the broker was down)

    max_extension: float = 2.0  # extended load: at most this many times duration_s more

    def __post_init__(self) -> None:
        self.plan = make_plan(self.scale, self.seed)
        self._extend = False
        self.probes = probe_numbers(self.scale.partitions)
        self._last_us = 0
        self._pending: set[asyncio.Future] = set()
        self._n = 0
        self.probe_entries: list[dict] = []
        self.done = False

    # ------------------------------------------------------------- model

    def model(self) -> dict[str, Any]:
        return {"sends": self.sends, "replies": self.replies, "numbers": self.plan.numbers,
                "partitions": self.scale.partitions}

    def _clock(self) -> int:
        t = max(now_us(), self._last_us + 1)
        self._last_us = t
        return t

    def extend(self) -> None:
        """Keep producing sends (no more replies) past the plan until ``finish()``: faults
        that took long to repair must not push later faults out of the load."""
        self._extend = True

    def finish(self) -> None:
        self._extend = False

    def _events(self):  # type: ignore[no-untyped-def]
        yield from self.plan.events
        rng = random.Random(self.seed + 2)
        base, i = self.scale.duration_s, 0
        limit = self.scale.duration_s * (1 + self.max_extension)
        while self._extend and base + i / self.scale.rate < limit:
            pool = self.plan.replying if (rng.random() < self.scale.reply_share or not self.plan.quiet) \
                else self.plan.quiet
            yield base + i / self.scale.rate, "send", rng.choice(pool)
            i += 1

    # ------------------------------------------------------------- producing

    async def _produce(self, producer: AIOKafkaProducer, topic: str, entry: dict, value: dict) -> None:
        key = entry["number"].encode() if self.key_by_number else None
        if key is not None and topic == self.outbound_topic and self.unkeyed_sends > 0:
            if zlib.crc32(entry["message_id"].encode()) % 10_000 < self.unkeyed_sends * 10_000:
                key = None
        try:
            future = await producer.send(topic, value=json.dumps(value).encode(), key=key,
                                         timestamp_ms=entry["t_us"] // 1000 + entry.get("stamp_skew_s", 0) * 1000)
        except Exception as exc:  # noqa: BLE001 - recorded in the model
            entry["error"] = repr(exc)
            return

        def done(fut: asyncio.Future, entry: dict = entry) -> None:
            self._pending.discard(fut)
            if fut.cancelled():
                entry["error"] = "cancelled"
            elif fut.exception() is not None:
                entry["error"] = repr(fut.exception())
            else:
                entry["acked_us"] = now_us()

        self._pending.add(future)
        future.add_done_callback(done)

    async def _send(self, producer: AIOKafkaProducer, number: str, *, probe: bool = False) -> None:
        self._n += 1
        t = self._clock()
        mid = f"{'p' if probe else 's'}-{self._n}"
        skews = self.scale.send_stamp_skews_s
        entry = {"message_id": mid, "number": number, "t_us": t, "acked_us": None, "error": None, "probe": probe,
                 "routed_partition": routed_partition(number, self.scale.partitions),
                 "stamp_skew_s": skews[self._n % len(skews)] if skews else 0}
        self.sends.append(entry)
        if probe:
            self.probe_entries.append(entry)
        value = {"message_id": mid, "to": number, "from": OUR_NUMBER, "body": f"chaos message {self._n}"}
        await self._produce(producer, self.outbound_topic, entry, value)

    async def _reply(self, producer: AIOKafkaProducer, number: str, intent: str, rng: random.Random) -> None:
        self._n += 1
        t = self._clock()
        mid = f"r-{self._n}"
        body = rng.choice(OPT_OUT_BODIES if intent == "opt_out" else OPT_IN_BODIES)
        entry = {"message_id": mid, "number": number, "intent": intent, "body": body, "t_us": t,
                 "acked_us": None, "error": None}
        self.replies.append(entry)
        value = {"message_id": mid, "from": number, "to": OUR_NUMBER, "body": body, "received_at": iso_us(t)}
        await self._produce(producer, self.inbound_topic, entry, value)

    async def run(self) -> None:
        """Produce the plan in real time, with probes; return once every record is acked or failed."""
        rng = random.Random(self.seed + 1)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
            request_timeout_ms=120_000, retry_backoff_ms=200,
            # aiokafka holds one batch per partition: large batches keep the generator producing
            # (buffering) while the broker is away, instead of blocking in send()
            max_batch_size=900_000,
        )
        await producer.start()
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            self.started_us = now_us()
            probe_every = self.scale.probe_interval_s
            next_probe = 0.0
            offset = 0.0
            for offset, kind, number in self._events():
                while next_probe <= offset:
                    await self._pace(loop, start, next_probe)
                    for p in range(self.scale.partitions):
                        await self._send(producer, self.probes[p], probe=True)
                    next_probe += probe_every
                await self._pace(loop, start, offset)
                if kind == "send":
                    await self._send(producer, number)
                else:
                    await self._reply(producer, number, kind, rng)
            while next_probe <= max(offset, self.scale.duration_s):
                await self._pace(loop, start, next_probe)
                for p in range(self.scale.partitions):
                    await self._send(producer, self.probes[p], probe=True)
                next_probe += probe_every
            self.finished_us = now_us()
            self.done = True
            if self._pending:
                await asyncio.wait(set(self._pending), timeout=150)
        finally:
            await producer.stop()
            for entry in self.sends + self.replies:
                if entry["acked_us"] is None and entry["error"] is None:
                    entry["error"] = "not acknowledged before the generator stopped"
            self.done = True

    def offset_s(self) -> float:
        """Seconds since the generator started producing (0 before)."""
        return (now_us() - self.started_us) / 1e6 if self.started_us else 0.0

    async def _pace(self, loop: asyncio.AbstractEventLoop, start: float, offset: float) -> None:
        delay = start + offset - loop.time()
        if delay > 0.002:
            await asyncio.sleep(delay)
        elif delay < 0:
            self.lag_max_s = max(self.lag_max_s, -delay)
