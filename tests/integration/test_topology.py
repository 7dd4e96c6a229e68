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
