"""Partition counts are checked at start-up with a clear error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.harness import REPO

pytestmark = pytest.mark.integration


def test_partition_mismatch_stops_the_worker_with_a_clear_error(topology):
    topology.create_topics()
    env = {**os.environ, **topology.env(), "OPTOUT_PARTITIONS": str(topology.partitions + 2)}
    result = subprocess.run(
        [sys.executable, "-m", "app", "worker"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "partition count mismatch" in result.stderr
    assert f"{topology.id}-routed" in result.stderr and "OPTOUT_PARTITIONS" in result.stderr


async def _create(bootstrap: str, name: str, partitions: int, config: dict[str, str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()


@pytest.mark.parametrize(("which", "policy", "says"), [
    ("consent", "compact", "must not be compacted"),
    ("changelog", "delete", "must be compact"),
])
async def test_a_cleanup_policy_that_breaks_correctness_stops_the_worker(topology, which, policy, says):
    name = topology.consent if which == "consent" else f"{topology.id}-optouts-changelog"
    partitions = topology.input_partitions if which == "consent" else topology.partitions
    await _create(topology.bootstrap, name, partitions, {"cleanup.policy": policy})
    env = {**os.environ, **topology.env()}
    result = subprocess.run(
        [sys.executable, "-m", "app", "worker"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert says in result.stderr and name in result.stderr
