"""The dashboard's recent outcomes: the tails of ``sms.consent``, ``sms.suppressed`` and
``sms.review``, read by one small consumer.

Why the logs and not a ring fed where the worker produces these records: the logs are
the record of what happened. Read ``read_committed``, they hold only what was committed
(under exactly-once, a ring fed at produce time would show records of aborted
transactions), they are the same on every worker (each worker's ring would hold only its
own partitions' outcomes: here each worker reads every partition of the three topics
itself, so nothing is forwarded between workers) and they survive restarts; and nothing
is added to the hot path.

The consumer is started on the first request (no group: every partition is its own),
starts ``per_partition`` records before each partition's end, and on each later request
reads only what was appended since (a partition that appears later, e.g. a topic created
after the worker started, is read from ``per_partition`` records before its end too); it
keeps the last ``keep`` records of each topic (only the fields the dashboard shows: no
reply text, no message body), and per-minute counts of applied opt-outs and opt-ins for
the last 24 hours (the dashboard's charts use them when ``GET /stats`` has no series). A
request never waits on the broker for more than ``wait_s``; a refresh runs at most every
``min_interval_s``; a failure is retried after ``retry_s``.

:class:`LogTail` reads the three topics (the dashboard's); :class:`ConsentTail` is the
same reader on ``sms.consent`` alone (as it was before the other two were read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.records import loads
from app.runtime.kafka_security import kafka_client_options
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger("app.runtime.web")

KEPT_FIELDS = ("processed_at", "event_time", "number", "account_id", "intent", "source", "rule", "matched",
               "verdict", "previous_state", "new_state")
MINUTES = 24 * 60
MAX_TEXT_CHARS = 64  # of a kept free text (a suppressed send's raw recipient, a matched word, a detail)
MAX_TIME_CHARS = 64


def minute_of(text: Any) -> int | None:
    """Unix minute of an ISO time, or None."""
    seconds = seconds_of(text)
    return int(seconds // 60) if seconds is not None else None


def seconds_of(text: Any) -> float | None:
    """Unix time of an ISO time with its offset, or None."""
    if not isinstance(text, str) or len(text) > MAX_TIME_CHARS:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _text(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A kept text: a string cut to ``limit`` characters (anything else: None)."""
    return value[:limit] if isinstance(value, str) else None


def _time(value: Any) -> str | None:
    """A kept time: an ISO time with its offset, as written (anything else: None)."""
    return value if seconds_of(value) is not None else None


def _account(value: Any) -> str:
    """An account id as sends and replies are keyed (missing, empty or not text: ``default``)."""
    return bounded_id(value, MAX_ACCOUNT_CHARS) if isinstance(value, str) and value else "default"


def consent_kept(record: dict) -> dict:
    """What is kept of an ``sms.consent`` record (schemas/consent.py)."""
    kept = {k: record.get(k) for k in KEPT_FIELDS}
    for name in ("number", "intent", "source", "rule", "matched", "verdict", "previous_state", "new_state"):
        kept[name] = _text(kept[name])
    for name in ("processed_at", "event_time"):
        kept[name] = _time(kept[name])
    kept["account_id"] = _account(record.get("account_id"))  # ('*': an opt-out of the global scope)
    return kept


def suppressed_kept(record: dict) -> dict:
    """What is kept of an ``sms.suppressed`` record (schemas/suppressed.py): why, when, the
    send's account, id and recipient as it was written (the send's body is not kept)."""
    message = record.get("message") if isinstance(record.get("message"), dict) else {}
    return {"suppressed_at": _time(record.get("suppressed_at")), "reason": _text(record.get("reason")),
            "opted_out_at": _time(record.get("opted_out_at")), "detail": _text(record.get("detail"), 160),
            "account_id": _account(message.get("account_id")), "to": _text(message.get("to")),
            "message_id": _text(message.get("message_id"), 256)}


def review_kept(record: dict) -> dict:
    """What is kept of an ``sms.review`` record (schemas/review.py): the reply's text is not."""
    return {"queued_at": _time(record.get("queued_at")), "event_time": _time(record.get("event_time")),
            "deadline": _time(record.get("deadline")), "review_id": _text(record.get("review_id"), 256),
            "account_id": _account(record.get("account_id")), "number": _text(record.get("number")),
            "matched": _text(record.get("matched")), "rule": _text(record.get("rule"))}


class LogTail:
    """The tails of ``topics`` (default: the consent log, suppressed sends, review items)."""

    def __init__(self, settings: Settings, topics: Iterable[str] | None = None, *, per_partition: int = 50,
                 keep: int = 200, wait_s: float = 1.5, min_interval_s: float = 2.0, retry_s: float = 30.0) -> None:
        self.settings = settings
        if topics is None:
            topics = (settings.consent_topic, settings.suppressed_topic, settings.review_topic)
        self.topics = tuple(dict.fromkeys(topics))
        self.per_partition = per_partition
        self.kept: dict[str, deque[dict]] = {topic: deque(maxlen=keep) for topic in self.topics}
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
        takers: dict[str, Callable[[dict], None]] = {
            settings.consent_topic: self._take_consent,
            settings.suppressed_topic: lambda record: self.kept[settings.suppressed_topic].append(
                suppressed_kept(record)),
            settings.review_topic: lambda record: self.kept[settings.review_topic].append(review_kept(record)),
        }
        self._takers = {topic: takers[topic] for topic in self.topics if topic in takers}

    @property
    def events(self) -> deque[dict]:
        """The consent events kept (oldest first, as read)."""
        return self.kept.get(self.settings.consent_topic, deque())

    def read(self, topic: str) -> bool:
        """Does this tail read ``topic``?"""
        return topic in self.kept

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
        self._tps = []
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _start(self) -> AIOKafkaConsumer:
        # subscribed without a group: every partition of the topics is assigned to it
        consumer = AIOKafkaConsumer(*self.topics, **kafka_client_options(self.settings),
                                    group_id=None, enable_auto_commit=False, isolation_level="read_committed",
                                    request_timeout_ms=10_000, client_id="dashboard-tail")
        try:
            await asyncio.wait_for(consumer.start(), 10)
            for _ in range(50):
                if consumer.assignment():
                    break
                await asyncio.sleep(0.1)
            else:
                raise LookupError("none of the dashboard's topics exists (yet)")
        except BaseException:
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        self._tps = []
        return consumer

    async def _follow(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """The partitions assigned now; those new since the last refresh start ``per_partition``
        records before their end."""
        tps = sorted(consumer.assignment())
        new = [tp for tp in tps if tp not in set(self._tps)]
        if new:
            starts = await consumer.beginning_offsets(new)
            ends = await consumer.end_offsets(new)
            for tp in new:
                consumer.seek(tp, max(starts[tp], ends[tp] - self.per_partition))
        self._tps = tps
        return tps

    async def _refresh(self) -> None:
        try:
            if self._consumer is None:
                self._consumer = await self._start()
            consumer = self._consumer
            tps = await self._follow(consumer)
            ends = await consumer.end_offsets(tps)
            todo = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
            rounds = 0
            while todo and rounds < 20:  # a burst bigger than that is read on the next refreshes
                rounds += 1
                batches = await consumer.getmany(*todo, timeout_ms=200, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        self._take(record.value, tp.topic)
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
            log.warning("dashboard: the outcome logs cannot be read now (%s)", type(exc).__name__)
            await self._close()

    def _take(self, value: bytes | None, topic: str | None = None) -> None:
        """One record of ``topic`` (default: the consent log)."""
        if not value:
            return
        taker = self._takers.get(topic or self.settings.consent_topic)
        if taker is None:
            return
        try:
            record = loads(value)
        except ValueError:
            return
        if isinstance(record, dict):
            taker(record)

    def _take_consent(self, record: dict) -> None:
        self.kept[self.settings.consent_topic].append(consent_kept(record))
        if record.get("verdict") == "applied" and record.get("intent") in self.rates:
            minute = minute_of(record.get("event_time")) or minute_of(record.get("processed_at"))
            if minute is not None:
                counts = self.rates[record["intent"]]
                counts[minute] += 1
                if len(counts) > MINUTES + 60:
                    for old in sorted(counts)[: len(counts) - MINUTES]:
                        del counts[old]

    def latest(self, n: int) -> list[dict]:
        """The last ``n`` consent events, newest first (by processing time)."""
        return sorted(self.events, key=lambda e: seconds_of(e.get("processed_at")) or 0.0, reverse=True)[:n]

    def outcomes(self, n: int) -> list[tuple[str, dict]]:
        """The last ``n`` records of every topic read, as ``(topic, kept)``, newest first (by
        the time each states: processed, suppressed, queued)."""
        settings = self.settings
        when = {settings.consent_topic: "processed_at", settings.suppressed_topic: "suppressed_at",
                settings.review_topic: "queued_at"}
        rows = [(seconds_of(kept.get(when.get(topic, ""))) or 0.0, order, topic, kept)
                for topic, records in self.kept.items() for order, kept in enumerate(records)]
        rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return [(topic, kept) for _, _, topic, kept in rows[:n]]


class ConsentTail(LogTail):
    """The tail of ``sms.consent`` alone."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, (settings.consent_topic,), **options)
