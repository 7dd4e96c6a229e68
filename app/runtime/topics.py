"""Create the topics and check partition counts before the worker starts."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
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
        await _check_policies(admin, settings)
    finally:
        await admin.close()


def _configs(responses) -> dict[tuple[int, str], dict[str, str]]:
    """(resource type, name) -> {config name: value}, from DescribeConfigs responses."""
    found: dict[tuple[int, str], dict[str, str]] = {}
    for response in responses:
        for error_code, error_message, kind, name, entries, *_ in response.resources:
            if error_code:
                raise TopologyError(f"cannot read the configuration of {name!r}: error {error_code} {error_message}")
            found[(kind, name)] = {entry[0]: entry[1] for entry in entries}
    return found


async def _check_policies(admin: AIOKafkaAdminClient, settings: Settings) -> None:
    """Refuse topics whose cleanup policy would break correctness, and exactly-once on a cluster
    whose transaction log cannot be written (every transactional producer would wait forever)."""
    cluster = await admin.describe_cluster()
    brokers = cluster.get("brokers") or []
    resources = [ConfigResource(ConfigResourceType.TOPIC, settings.changelog_topic),
                 ConfigResource(ConfigResourceType.TOPIC, settings.consent_topic)]
    if brokers:
        resources.append(ConfigResource(ConfigResourceType.BROKER, str(brokers[0]["node_id"])))
    configs = _configs(await admin.describe_configs(resources))
    problems = []
    changelog = configs.get((ConfigResourceType.TOPIC.value, settings.changelog_topic), {})
    if "compact" not in changelog.get("cleanup.policy", "compact").split(","):
        problems.append(f"the table changelog {settings.changelog_topic!r} has cleanup.policy="
                        f"{changelog.get('cleanup.policy')!r}: it must be compact (deleting old segments loses "
                        "opt-outs on the next recovery); alter it with kafka-configs --add-config "
                        "cleanup.policy=compact")
    consent = configs.get((ConfigResourceType.TOPIC.value, settings.consent_topic), {})
    if "compact" in consent.get("cleanup.policy", "delete").split(","):
        problems.append(f"the consent log {settings.consent_topic!r} has cleanup.policy="
                        f"{consent.get('cleanup.policy')!r}: it must not be compacted (it is evidence: compaction "
                        "keeps one record per key and drops the history); use cleanup.policy=delete with a long "
                        "retention")
    if settings.processing_guarantee == "exactly_once" and brokers:
        broker = configs.get((ConfigResourceType.BROKER.value, str(brokers[0]["node_id"])), {})
        for name in ("transaction.state.log.replication.factor", "transaction.state.log.min.isr"):
            value = broker.get(name)
            if value is not None and value.isdigit() and int(value) > len(brokers):
                problems.append(f"exactly-once needs transactions, but the broker's {name} is {value} and the cluster "
                                f"has {len(brokers)} broker(s): transactional producers would never start; lower it "
                                "on the broker, or set OPTOUT_PROCESSING_GUARANTEE=at_least_once")
    if problems:
        raise TopologyError("; ".join(problems))


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
