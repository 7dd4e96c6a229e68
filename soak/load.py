"""A steady mixed load to a bounded set of numbers, paced at ``rate`` records per second.

Each record is a send request (``sms.outbound``, message id ``s-<i>``, tracked in the
:class:`~soak.accounting.Ledger`) or, with probability ``reply_share``, a reply
(``sms.inbound``, id ``r-<i>``) of one of these kinds: STOP keywords, opt-out phrases,
START, HELP, replies a person must review (a negated phrase, an embedded keyword) and
other replies ("thanks"). Numbers are drawn uniformly from ``numbers`` valid E.164
numbers (chaos.numbers); sends to one number in ten are written in national format.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from chaos.generator import iso_us, now_us
from chaos.numbers import contact_numbers
from soak.accounting import Ledger, send_id
from soak.config import SoakConfig

OUR_NUMBER = "+14155550000"
REPLIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (  # (kind, weight, bodies)
    ("stop", 0.25, ("STOP", "stop", "Stop", "UNSUBSCRIBE", "Cancel", "STOP ALL", "opt-out", "Quit", "End")),
    ("phrase", 0.10, ("please stop texting me", "Remove me from this list", "no more texts thanks",
                      "take me off your list", "Leave me alone!")),
    ("start", 0.30, ("START", "start", "Unstop", "YES")),
    ("help", 0.10, ("HELP", "help", "Info")),
    ("review", 0.05, ("please don't remove me", "I will stop by tomorrow", "dont stop texting")),
    ("other", 0.20, ("thanks", "ok", "who is this?", "see you at 5", "Sounds good, the weekend works",
                     "\U0001f44d")),
)


def national(number: str) -> str:
    """``+16175550123`` -> ``(617) 555-0123`` (NANP numbers only)."""
    digits = number[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


@dataclass
class LoadGenerator:
    bootstrap: str
    inbound_topic: str
    outbound_topic: str
    config: SoakConfig
    ledger: Ledger
    replies: Counter = field(default_factory=Counter)  # kind -> produced
    replies_acked: int = 0
    replies_failed: int = 0
    lag_max_s: float = 0.0  # how far production fell behind the pace
    started: float | None = None  # loop time the load started
    done: bool = False

    def __post_init__(self) -> None:
        self.numbers = contact_numbers(self.config.numbers)
        self.rng = random.Random(self.config.seed)
        # one number in ten is always written in national format (the same raw strings recur)
        self.national = set(self.rng.sample(self.numbers, len(self.numbers) // 10))
        wanted = {k.strip() for k in self.config.reply_kinds.split(",") if k.strip()}
        unknown = wanted - {k for k, _, _ in REPLIES}
        if unknown or not wanted:
            raise ValueError(f"unknown reply kinds {sorted(unknown)}; any of {[k for k, _, _ in REPLIES]}")
        self._kinds = [k for k, _, _ in REPLIES if k in wanted]
        self._weights = [w for k, w, _ in REPLIES if k in wanted]
        self._bodies = {k: b for k, _, b in REPLIES}
        self._pending: set[asyncio.Future] = set()
        self._n = 0

    @property
    def produced(self) -> int:
        return self._n

    async def run(self) -> None:
        """Produce ``rate`` records a second for ``duration_s``; return once every record is
        acknowledged (or failed)."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True,
                                    linger_ms=5, request_timeout_ms=120_000, retry_backoff_ms=200,
                                    max_batch_size=256 * 1024)
        await producer.start()
        try:
            loop = asyncio.get_running_loop()
            start = self.started = loop.time()
            total = self.config.records
            while self._n < total:
                due = min(total, int((loop.time() - start) * self.config.rate) + 1)
                if due - self._n > 1:
                    self.lag_max_s = max(self.lag_max_s, (due - self._n - 1) / self.config.rate)
                while self._n < due:
                    await self._one(producer)
                # ticks of at least 5 ms: a few records per wake-up, not one
                await asyncio.sleep(max(0.005, start + self._n / self.config.rate - loop.time()))
            self.done = True
            if self._pending:
                await asyncio.wait(set(self._pending), timeout=150)
        finally:
            await producer.stop()
            self.done = True

    async def _one(self, producer: AIOKafkaProducer) -> None:
        self._n += 1
        number = self.rng.choice(self.numbers)
        if self.rng.random() < self.config.reply_share:
            kind = self.rng.choices(self._kinds, self._weights)[0]
            body = self.rng.choice(self._bodies[kind])
            self.replies[kind] += 1
            value = {"message_id": f"r-{self._n}", "from": number, "to": OUR_NUMBER, "body": body,
                     "received_at": iso_us(now_us())}
            await self._produce(producer, self.inbound_topic, number, value, None)
            return
        index = self.ledger.new_send()
        to = national(number) if number in self.national else number
        body = f"Your code is {self._n % 10000:04d}"
        value = {"message_id": send_id(index), "to": to, "from": OUR_NUMBER, "body": body}
        await self._produce(producer, self.outbound_topic, number, value, index)

    async def _produce(self, producer: AIOKafkaProducer, topic: str, number: str, value: dict,
                       index: int | None) -> None:
        try:
            future = await producer.send(topic, value=json.dumps(value).encode(), key=number.encode())
        except Exception:  # noqa: BLE001 - recorded: its fate is unknown
            self._failed(index)
            return

        def done(fut: asyncio.Future) -> None:
            self._pending.discard(fut)
            if fut.cancelled() or fut.exception() is not None:
                self._failed(index)
            elif index is None:
                self.replies_acked += 1
            else:
                self.ledger.acked(index)

        self._pending.add(future)
        future.add_done_callback(done)

    def _failed(self, index: int | None) -> None:
        if index is None:
            self.replies_failed += 1
        else:
            self.ledger.failed(index)
