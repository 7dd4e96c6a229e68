"""The commands' Kafka clients and the one-line errors they end with (exit status 2).

Every client is built with :func:`kafka_client_options` (bootstrap servers, TLS, SASL from
the settings), so the commands work against a secured cluster as the worker does; the
start-up check :func:`check_kafka_access` runs first, so a refused password or an untrusted
certificate is said in one line naming the setting. aiokafka's own log lines are silenced
for the commands: what went wrong is said once, by the command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from app.runtime.kafka_security import KafkaAccessError, check_kafka_access, kafka_client_options
from app.settings import Settings

REQUEST_TIMEOUT_MS = 15_000  # a produce or metadata request
SEND_TIMEOUT_S = 30.0  # one record, from handing it over to its acknowledgement by every in-sync replica


class CommandError(Exception):
    """What went wrong, in one line (the command prints ``error: <it>`` and exits 2)."""


def quiet_client_logs() -> None:
    """The commands say what went wrong themselves: aiokafka's retries are not shown."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def where(settings: Settings) -> str:
    return f"Kafka at {settings.kafka_bootstrap_servers}"


def unreachable(settings: Settings) -> CommandError:
    return CommandError(f"cannot reach {where(settings)} (KAFKA_BOOTSTRAP_SERVERS): is the broker running? "
                        "(`make broker` starts the local one)")


async def check_access(settings: Settings) -> None:
    try:
        await check_kafka_access(settings)
    except KafkaAccessError as exc:
        raise CommandError(str(exc)) from None


async def start_producer(settings: Settings) -> AIOKafkaProducer:
    """An idempotent producer, acks=all, started; its bootstrap checked."""
    await check_access(settings)
    producer = AIOKafkaProducer(**kafka_client_options(settings), client_id=f"{settings.app_id}-cli", acks="all",
                                enable_idempotence=True, request_timeout_ms=REQUEST_TIMEOUT_MS, linger_ms=0)
    try:
        await producer.start()
    except KafkaConnectionError:
        await producer.stop()
        raise unreachable(settings) from None
    except KafkaError as exc:
        await producer.stop()
        raise CommandError(f"{where(settings)} refused the connection: {one_line(exc)}") from None
    return producer


async def start_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A consumer of no group that reads committed records only (what a downstream reader sees)."""
    await check_access(settings)
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), client_id=f"{settings.app_id}-cli", group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed",
                                request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        await consumer.start()
    except KafkaConnectionError:
        await consumer.stop()
        raise unreachable(settings) from None
    except KafkaError as exc:
        await consumer.stop()
        raise CommandError(f"{where(settings)} refused the connection: {one_line(exc)}") from None
    return consumer


def check_topics(settings: Settings, known: Iterable[str], wanted: Iterable[str]) -> None:
    """Every topic of ``wanted`` is among ``known`` (the broker's), or a :class:`CommandError`
    (no broker here creates a topic by being written to: the topics are the worker's to make)."""
    missing = [topic for topic in wanted if topic not in set(known)]
    if missing:
        raise CommandError(f"no topic {', '.join(missing)} on {where(settings)}: start the worker (`make run`) "
                           "or create them (`python -m app create-topics`)")


async def produce(settings: Settings, producer: AIOKafkaProducer, topic: str, value: bytes,
                  key: bytes | None) -> Any:
    """One record, awaited until every in-sync replica has it; its metadata (partition, offset)."""
    try:
        sent = await producer.send(topic, value=value, key=key)
        return await asyncio.wait_for(sent, SEND_TIMEOUT_S)
    except (TimeoutError, asyncio.TimeoutError, KafkaTimeoutError):
        raise CommandError(f"{where(settings)} did not acknowledge the record on {topic} within "
                           f"{SEND_TIMEOUT_S:g} s") from None
    except KafkaConnectionError:
        raise unreachable(settings) from None
    except KafkaError as exc:
        raise CommandError(f"{where(settings)} refused the record on {topic}: {one_line(exc)}") from None


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
