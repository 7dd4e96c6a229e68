"""The Faust application: configuration, topics and the opt-out table.

Agents (``app.agents``) and web views (``app.web``) are thin adapters that
attach themselves to the :class:`Pipeline` built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from app.deciding import Decider
from app.policy_file import load_policy
from app.records import Output
from app.routing import Router
from app.settings import Settings
from app.stats import Stats
from app.web.errors import json_errors


@dataclass
class Pipeline:
    settings: Settings
    app: faust.App
    table: faust.Table
    topics: dict[str, faust.TopicT]
    router: Router
    decider: Decider
    stats: Stats = field(default_factory=Stats)

    async def publish(self, output: Output) -> None:
        """Publish ``output``; return once the broker has acknowledged it."""
        future = await self.topics[output.topic].send(key=output.key, value=output.value, partition=output.partition)
        await future


def _tune_fetch_wait(fetch_max_wait_ms: int) -> None:
    """Faust hard-codes fetch_max_wait_ms=1500 in its aiokafka driver; that is
    up to 1.5 s of latency per hop when traffic is light. Override it."""
    thread_cls = faust_aiokafka.AIOKafkaConsumerThread
    original = getattr(thread_cls, "_optout_original_create", thread_cls._create_worker_consumer)

    def _create_worker_consumer(self, transport):  # type: ignore[no-untyped-def]
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer

    thread_cls._optout_original_create = original
    thread_cls._create_worker_consumer = _create_worker_consumer


def build_faust_app(settings: Settings) -> faust.App:
    _tune_fetch_wait(settings.fetch_max_wait_ms)
    brokers = [f"kafka://{host.strip()}" for host in settings.kafka_bootstrap_servers.split(",") if host.strip()]
    return faust.App(
        settings.app_id,
        broker=brokers,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=settings.producer_linger_ms,
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        canonical_url=settings.web_url,
        web_tables_enabled=False,  # Faust's /table endpoint would expose phone numbers
        web_application_options={"middlewares": [json_errors]},
        autodiscover=False,
    )


def build_pipeline(settings: Settings) -> Pipeline:
    app = build_faust_app(settings)
    table = app.Table(
        settings.table_name,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # raw key bytes; values are JSON
        options={
            "block_cache_size": settings.rocksdb_block_cache_bytes,
            "block_cache_compressed_size": 0,
            "write_buffer_size": settings.rocksdb_write_buffer_bytes,
            "max_write_buffer_number": settings.rocksdb_max_write_buffers,
        },
    )
    names = [
        settings.inbound_topic,
        settings.outbound_topic,
        settings.provider_topic,
        settings.suppressed_topic,
        settings.deadletter_topic,
        settings.consent_topic,
        settings.review_topic,
    ]
    topics: dict[str, faust.TopicT] = {name: app.topic(name) for name in names}
    topics[settings.routed_topic] = app.topic(settings.routed_topic, partitions=settings.partitions, internal=True)
    stats = Stats()
    pipeline = Pipeline(
        settings=settings,
        app=app,
        table=table,
        topics=topics,
        router=Router(settings, stats),
        decider=Decider(settings, stats, load_policy(settings.keywords_file)),
        stats=stats,
    )
    from app.agents import register_agents
    from app.web import register_views

    register_agents(pipeline)
    register_views(pipeline)
    return pipeline
