"""A real Kafka broker for the integration tests.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` if set; else testcontainers' Kafka when a
Docker daemon answers; else the project's local KRaft broker
(``scripts/kafka.sh``), started here and stopped at the end if we started it.
Never a skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import REPO, Topology, Worker

pytestmark = pytest.mark.integration


def _docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _start_container():
    """testcontainers' Kafka (KRaft); None, with a warning, if it cannot start."""
    import warnings

    try:
        from testcontainers.kafka import KafkaContainer

        return KafkaContainer(os.environ.get("KAFKA_TEST_IMAGE", "confluentinc/cp-kafka:7.9.0")).with_kraft().start()
    except Exception as exc:  # fall back to the local broker, never skip
        warnings.warn(f"testcontainers Kafka did not start ({exc!r}); using the local broker", stacklevel=1)
        return None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    if _docker_available():
        container = _start_container()
        if container is not None:
            try:
                yield container.get_bootstrap_server()
            finally:
                container.stop()
            return
    port = os.environ.get("KAFKA_PORT", "9092")
    script = REPO / "scripts" / "kafka.sh"
    env = {**os.environ, "KAFKA_PORT": port}
    was_running = subprocess.run(["bash", str(script), "status"], env=env, capture_output=True).returncode == 0
    if not was_running:
        subprocess.run(["bash", str(script), "start"], env=env, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        if not was_running:
            subprocess.run(["bash", str(script), "stop"], env=env, check=False)


@pytest.fixture
def topology(kafka_bootstrap: str) -> Topology:
    return Topology(kafka_bootstrap)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    """Every worker a test starts is stopped at the end, and its log shown on failure."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()
