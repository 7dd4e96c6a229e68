"""The secured broker of tests/integration/test_secured.py, and the harness's clients with its settings.

``KAFKA_SECURED_BOOTSTRAP_SERVERS`` and the ``OPTOUT_KAFKA_*`` security variables given: that
cluster. Else the local secured broker (``scripts/kafka_secured.sh``: SASL_SSL with
SCRAM-SHA-512 and OAUTHBEARER, and a mutual-TLS listener), started here if it is not running
and stopped at the end if it was started here. Its client settings are the ``*.env`` files the
script writes into its run dir.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.runtime.kafka_security import kafka_client_options
from app.settings import Settings
from tests.integration.harness import REPO, Collector

SCRIPT = REPO / "scripts" / "kafka_secured.sh"
SECURITY_PREFIX = "OPTOUT_KAFKA_S"  # OPTOUT_KAFKA_SECURITY_PROTOCOL, OPTOUT_KAFKA_SASL_*, OPTOUT_KAFKA_SSL_*


@dataclass(frozen=True)
class Listener:
    """``KAFKA_BOOTSTRAP_SERVERS`` and the ``OPTOUT_KAFKA_*`` security variables of one listener."""

    env: dict[str, str]

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]

    def settings(self, **changes: str) -> Settings:
        env = {**self.env, **changes}
        fields = {name.removeprefix("OPTOUT_").lower(): value for name, value in env.items()
                  if name.startswith(SECURITY_PREFIX)}
        return Settings(kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], **fields)

    def client_options(self) -> dict[str, Any]:
        return kafka_client_options(self.settings())


@dataclass(frozen=True)
class SecuredBroker:
    sasl: Listener  # SASL_SSL with a user name and a password (or the given cluster's settings)
    mtls: Listener | None  # SSL with a client certificate (the local broker only)
    oauth: Listener | None  # SASL_SSL, OAUTHBEARER (the local broker only)
    run_dir: Path | None  # the local broker's


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.startswith("#"):
            env[name.strip()] = value.strip()
    return env


def _script(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=300)


def _run_dir() -> Path:
    port = os.environ.get("KAFKA_SECURED_PORT", "19093")
    return Path(os.environ.get("KAFKA_SECURED_RUN_DIR", REPO / ".run" / f"kafka-secured-{port}"))


@contextmanager
def secured_broker() -> Iterator[SecuredBroker]:
    given = os.environ.get("KAFKA_SECURED_BOOTSTRAP_SERVERS")
    if given:
        env = {name: value for name, value in os.environ.items() if name.startswith(SECURITY_PREFIX)}
        yield SecuredBroker(Listener({"KAFKA_BOOTSTRAP_SERVERS": given, **env}), None, None, None)
        return
    was_running = _script("status").returncode == 0
    if not was_running:
        started = _script("start")
        assert started.returncode == 0, f"scripts/kafka_secured.sh start failed:\n{started.stdout}{started.stderr}"
    run_dir = _run_dir()
    try:
        yield SecuredBroker(*(Listener(read_env_file(run_dir / f"{name}.env")) for name in ("sasl", "mtls", "oauth")),
                            run_dir)
    finally:
        if not was_running:
            _script("stop")


# ---------------------------------------------------------------- the harness's clients, secured


async def produce(listener: Listener, topic: str, records: Iterable[Any], *,
                  key: Callable[[Any], bytes | None] | None = None) -> int:
    """``harness.produce`` through ``listener`` (dicts are JSON-encoded)."""
    producer = AIOKafkaProducer(**listener.client_options(), acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        futures = []
        for record in records:
            value = record if isinstance(record, bytes) or record is None else json.dumps(record).encode()
            futures.append(await producer.send(topic, value=value, key=key(record) if key else None))
            count += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count


class SecuredCollector(Collector):
    """``harness.Collector`` through ``listener``: reads the topics from the beginning, committed records only."""

    def __init__(self, listener: Listener, topics: list[str]) -> None:
        super().__init__(listener.bootstrap, topics)
        self.listener = listener

    async def __aenter__(self) -> SecuredCollector:
        self._consumer = AIOKafkaConsumer(**self.listener.client_options(), enable_auto_commit=False,
                                          auto_offset_reset="earliest", group_id=None,
                                          isolation_level="read_committed")
        await self._consumer.start()
        tps = []
        for topic in self.topics:
            parts = None
            for _ in range(50):
                cluster = await self._consumer._client.fetch_all_metadata()
                parts = cluster.partitions_for_topic(topic)
                if parts:
                    break
                await asyncio.sleep(0.2)
            assert parts, f"topic {topic} does not exist"
            tps += [TopicPartition(topic, p) for p in parts]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        return self
