"""The dashboard's recent consent events: the tail of ``sms.consent``, read by a small consumer.

Why the log and not a ring fed where the worker produces consent records: the log is
the record of what happened. Read ``read_committed``, it holds only what was committed
(under exactly-once, a ring fed at produce time would show records of aborted
transactions), it is the same on every worker (each worker's ring would hold only its
own partitions' events) and it survives restarts; and nothing is added to the hot path.

The consumer is started on the first request (no group: every partition is its own),
starts ``per_partition`` records before each partition's end, and on each later request
reads only what was appended since; it keeps the last ``keep`` events, and per-minute
counts of applied opt-outs and opt-ins for the last 24 hours (the dashboard's charts use
them when ``GET /stats`` has no series). A request never waits on the broker for more
than ``wait_s``; a refresh runs at most every ``min_interval_s``; a failure is retried
after ``retry_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.records import loads
from app.runtime.kafka_security import kafka_client_options

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("app.runtime.web")

KEPT_FIELDS = ("processed_at", "event_time", "number", "account_id", "intent", "source", "rule", "verdict",
               "previous_state", "new_state")
MINUTES = 24 * 60


def minute_of(text: Any) -> int | None:
    """Unix minute of an ISO time, or None."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        return int(datetime.fromisoformat(text).timestamp() // 60)
    except ValueError:
        return None


class ConsentTail:
    def __init__(self, settings: Settings, *, per_partition: int = 50, keep: int = 200, wait_s: float = 1.5,
                 min_interval_s: float = 2.0, retry_s: float = 30.0) -> None:
        self.settings = settings
        self.per_partition = per_partition
        self.events: deque[dict] = deque(maxlen=keep)
        self.rates: dict[str, Counter[int]] = {"opt_out": Counter(), "opt_in": Counter()}  # minute -> applied
        self.wait_s = wait_s
        self.min_interval_s = min_interval_s
        self.retry_s = retry_s
        self.available = False
        self.error: str | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []
        self._refreshed = 0.0
        self._failed = 0.0
        self._task: asyncio.Task | None = None

    async def recent(self) -> bool:
        """Bring the tail up to date (waiting at most ``wait_s``); True if it is readable."""
        now = time.monotonic()
        stale = now - self._refreshed >= self.min_interval_s and now - self._failed >= self.retry_s
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._refresh())
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), self.wait_s)
        return self.available

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self._close()

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _start(self) -> AIOKafkaConsumer:
        # subscribed without a group: every partition of the topic is assigned to it
        consumer = AIOKafkaConsumer(self.settings.consent_topic, **kafka_client_options(self.settings),
                                    group_id=None, enable_auto_commit=False, isolation_level="read_committed",
                                    request_timeout_ms=10_000, client_id="dashboard-consent-tail")
        try:
            await asyncio.wait_for(consumer.start(), 10)
            for _ in range(50):
                tps = sorted(consumer.assignment())
                if tps:
                    break
                await asyncio.sleep(0.1)
            else:
                raise LookupError("the consent topic does not exist (yet)")
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                consumer.seek(tp, max(starts[tp], ends[tp] - self.per_partition))
        except BaseException:
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        self._tps = tps
        return consumer

    async def _refresh(self) -> None:
        try:
            if self._consumer is None:
                self._consumer = await self._start()
            consumer = self._consumer
            ends = await consumer.end_offsets(self._tps)
            todo = {tp for tp in self._tps if await consumer.position(tp) < ends[tp]}
            rounds = 0
            while todo and rounds < 20:  # a burst bigger than that is read on the next refreshes
                rounds += 1
                batches = await consumer.getmany(*todo, timeout_ms=200, max_records=2000)
                for records in batches.values():
                    for record in records:
                        self._take(record.value)
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
            self.available, self.error = True, None
            self._refreshed = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.available, self.error = False, type(exc).__name__
            self._failed = time.monotonic()
            log.warning("dashboard: the consent log cannot be read now (%s)", type(exc).__name__)
            await self._close()

    def _take(self, value: bytes | None) -> None:
        if not value:
            return
        try:
            record = loads(value)
        except ValueError:
            return
        if not isinstance(record, dict):
            return
        self.events.append({k: record.get(k) for k in KEPT_FIELDS})
        if record.get("verdict") == "applied" and record.get("intent") in self.rates:
            minute = minute_of(record.get("event_time")) or minute_of(record.get("processed_at"))
            if minute is not None:
                counts = self.rates[record["intent"]]
                counts[minute] += 1
                if len(counts) > MINUTES + 60:
                    for old in sorted(counts)[: len(counts) - MINUTES]:
                        del counts[old]

    def latest(self, n: int) -> list[dict]:
        """The last ``n`` events, newest first (by processing time)."""
        return sorted(self.events, key=lambda e: str(e.get("processed_at") or ""), reverse=True)[:n]
