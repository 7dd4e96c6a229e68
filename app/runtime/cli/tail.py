"""``tail``: the outcomes as they are committed, one line each.

An :class:`OutputReader` is a consumer of no group, reading committed records only
(``read_committed``: a record of an aborted or still open transaction is never shown), on
every partition of the topics asked for, from their ends (only what comes next) or from
their beginnings. Its start positions are fixed when it starts, so nothing produced after
that is missed (the demo relies on it).

``tail`` with ``--from-beginning`` prints what the topics hold and stops at the ends they
had when it started; with ``--follow`` (or without ``--from-beginning``: then there is
nothing before, only what comes) it goes on until interrupted (Ctrl-C, SIGTERM: exit 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from app.records import loads
from app.runtime.cli.kafka_io import CommandError, check_topics, one_line, start_consumer, where
from app.runtime.cli.outcome_lines import KINDS, OUTCOMES, outcome_line, topic_kinds
from app.settings import Settings

POLL_MS = 500
IDLE_POLLS_AT_END = 4  # --from-beginning without --follow: caught up when this many polls bring nothing


@dataclass(frozen=True)
class Seen:
    """One record read: its topic's short name, its time, its bytes and (if JSON) its object."""

    kind: str
    topic: str
    timestamp_ms: int
    value: bytes | None
    record: Any

    def line(self, *, numbers: bool = False) -> str:
        return outcome_line(self.kind, self.value, self.timestamp_ms, numbers=numbers)


def resolve_topics(settings: Settings, names: list[str]) -> dict[str, str]:
    """Topic name -> short name, for short names (``suppressed``) or topic names (``sms.suppressed``);
    the outcomes when ``names`` is empty."""
    kinds = topic_kinds(settings)
    by_kind = {kind: topic for topic, kind in kinds.items()}
    chosen: dict[str, str] = {}
    for name in names or list(OUTCOMES):
        if name in by_kind:
            chosen[by_kind[name]] = name
        elif name in kinds:
            chosen[name] = kinds[name]
        else:
            raise CommandError(f"unknown topic {name!r}: one of {', '.join(KINDS)} (or their topic names: "
                               f"{', '.join(by_kind[k] for k in KINDS)})")
    return chosen


class OutputReader:
    """Reads the topics of ``kinds`` (topic name -> short name), committed records only."""

    def __init__(self, settings: Settings, kinds: dict[str, str], *, from_beginning: bool = False) -> None:
        self.settings = settings
        self.kinds = kinds
        self.from_beginning = from_beginning
        self.consumer: AIOKafkaConsumer | None = None
        self.ends: dict[TopicPartition, int] = {}  # where the topics ended when the reader started

    async def __aenter__(self) -> OutputReader:
        self.consumer = await start_consumer(self.settings)
        try:
            cluster = await self.consumer._client.fetch_all_metadata()  # (consumer.topics() keeps no partitions)
            check_topics(self.settings, cluster.topics(), self.kinds)
            tps = [TopicPartition(topic, p) for topic in self.kinds
                   for p in sorted(cluster.partitions_for_topic(topic) or ())]
            self.consumer.assign(tps)
            self.ends = await self.consumer.end_offsets(tps)  # read_committed: the last stable offsets
            starts = await self.consumer.beginning_offsets(tps) if self.from_beginning else self.ends
            for tp, offset in starts.items():
                self.consumer.seek(tp, offset)  # fixed now (from the ends: nothing produced after is missed)
        except KafkaError as exc:
            await self.consumer.stop()
            raise CommandError(f"{where(self.settings)}: {one_line(exc)}") from None
        except BaseException:
            await self.consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def read(self, timeout_ms: int = POLL_MS) -> list[Seen]:
        """What arrived (within ``timeout_ms`` if nothing has), in time order."""
        assert self.consumer is not None
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        seen = []
        for tp, messages in batch.items():
            for message in messages:
                try:
                    record = loads(message.value) if message.value is not None else None
                except ValueError:
                    record = None
                seen.append(Seen(self.kinds[tp.topic], tp.topic, message.timestamp, message.value, record))
        seen.sort(key=lambda s: s.timestamp_ms)
        return seen

    async def at_ends(self) -> bool:
        """Whether every partition was read up to where it ended when the reader started."""
        assert self.consumer is not None
        for tp, end in self.ends.items():
            if await self.consumer.position(tp) < end:
                return False
        return True


async def tail(settings: Settings, names: list[str], *, follow: bool, from_beginning: bool, numbers: bool,
               out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    kinds = resolve_topics(settings, names)
    stop = stop or asyncio.Event()
    follow = follow or not from_beginning  # from the ends, there is only what comes next
    async with OutputReader(settings, kinds, from_beginning=from_beginning) as reader:
        print(f"tail: {', '.join(kinds.values())} on {settings.kafka_bootstrap_servers}, "
              f"{'from the beginning' if from_beginning else 'from now on'}"
              f"{' (Ctrl-C ends)' if follow else ''}", file=sys.stderr, flush=True)
        idle = 0
        while not stop.is_set():
            reading = asyncio.ensure_future(reader.read())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
                break
            seen = reading.result()
            for one in seen:
                print(one.line(numbers=numbers), file=out, flush=True)
            if follow:
                continue
            idle = 0 if seen else idle + 1
            if await reader.at_ends() or idle >= IDLE_POLLS_AT_END:
                break
    return 0


def run_tail(settings: Settings, names: list[str], *, follow: bool, from_beginning: bool, numbers: bool) -> int:
    """``tail`` until done or interrupted (SIGINT, SIGTERM: exit 0)."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await tail(settings, names, follow=follow, from_beginning=from_beginning, numbers=numbers, stop=stop)

    return asyncio.run(main())


async def wait_for(reader: OutputReader, found: Callable[[list[Seen]], bool], seen: list[Seen],
                   timeout_s: float) -> bool:
    """Read into ``seen`` until ``found(seen)`` or ``timeout_s`` passes; whether it was found."""
    deadline = time.monotonic() + timeout_s
    while not found(seen):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        seen.extend(await reader.read(int(min(left, POLL_MS / 1000) * 1000) or 1))
    return True


def check_numbers_allowed(settings: Settings, given_token: str | None) -> None:
    """``--numbers`` shows whole numbers to a holder of the admin token only: OPTOUT_ADMIN_TOKEN
    must be set (the workers' admin token, in the environment) and ``--admin-token``, when
    given, must be it. (Whoever may read the topics may read the numbers in them: this keeps
    them off a screen by default, it is no access control of the broker's.)"""
    configured = settings.admin_token.get_secret_value() if settings.admin_token is not None else None
    if configured is None:
        raise CommandError("--numbers shows whole numbers to the holder of the admin token only: set "
                           "OPTOUT_ADMIN_TOKEN (the workers' admin token) in the environment")
    if given_token is not None and not hmac.compare_digest(given_token.encode("utf-8", "surrogatepass"),
                                                           configured.encode("utf-8", "surrogatepass")):
        raise CommandError("--admin-token is not the admin token (OPTOUT_ADMIN_TOKEN): numbers stay masked")
