"""Create the topics and check partition counts before the worker starts."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from app.runtime.kafka_security import KafkaAccessError, check_kafka_access, kafka_client_options
from app.settings import Settings

log = logging.getLogger("app.topics")


class TopologyError(RuntimeError):
    """The topics on the broker do not match the settings."""


def wanted_topics(settings: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """topic -> (partitions, config)."""
    io = {}
    for name in (
        settings.inbound_topic,
        settings.outbound_topic,
        settings.provider_topic,
        settings.suppressed_topic,
        settings.deadletter_topic,
        settings.status_topic,
        settings.review_topic,
        settings.audit_topic,
    ):
        io[name] = (settings.input_partitions, {})
    io[settings.consent_topic] = (
        settings.input_partitions,
        {"cleanup.policy": "delete", "retention.ms": str(settings.consent_retention_ms)},
    )
    io[settings.routed_topic] = (settings.partitions, {})
    io[settings.changelog_topic] = (settings.partitions, {"cleanup.policy": "compact"})
    return io


# Topics whose partitioning the opt-out lookup depends on.
def strict_topics(settings: Settings) -> set[str]:
    return {settings.routed_topic, settings.changelog_topic}


async def ensure_topics(settings: Settings, *, timeout: float = 30.0) -> None:
    try:  # credentials, certificates, protocol: one line within seconds, not aiokafka's retries
        await check_kafka_access(settings)
    except KafkaAccessError as exc:
        raise TopologyError(str(exc)) from None
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), request_timeout_ms=10000)
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except Exception as exc:
        raise TopologyError(
            f"cannot reach Kafka at {settings.kafka_bootstrap_servers!r} ({exc!r}); "
            "start one with `make broker` or set KAFKA_BOOTSTRAP_SERVERS"
        ) from exc
    try:
        wanted = wanted_topics(settings)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, settings.replication_factor, topic_configs=config)
            for name, (partitions, config) in wanted.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics: %s", ", ".join(t.name for t in missing))
        await _check_partitions(admin, settings, wanted)
    finally:
        await admin.close()


async def _check_partitions(admin: AIOKafkaAdminClient, settings: Settings, wanted) -> None:
    strict = strict_topics(settings)
    for _ in range(120):  # fresh topics can take a moment to show their partitions (seconds on a busy broker)
        described = await admin.describe_topics(list(wanted))
        counts = {d["topic"]: len(d.get("partitions") or []) for d in described}
        if all(counts.get(name) for name in wanted):
            break
        await asyncio.sleep(0.25)
    problems = [
        f"topic {name!r} has {counts.get(name)} partitions, OPTOUT_PARTITIONS={settings.partitions}"
        for name in sorted(strict)
        if counts.get(name) != settings.partitions
    ]
    if problems:
        raise TopologyError(
            "partition count mismatch: "
            + "; ".join(problems)
            + ". The routed topic and the table changelog must have exactly OPTOUT_PARTITIONS partitions "
            "(lookups depend on it). Set OPTOUT_PARTITIONS to the existing count, or use a new OPTOUT_APP_ID."
        )
    for name, (partitions, _) in wanted.items():
        if name not in strict and counts.get(name) != partitions:
            log.info("topic %s has %s partitions (setting says %s); fine for routing",
                     name, counts.get(name), partitions)
