"""The soak's worker process: ``python -m app worker`` (or, traced, ``python -m soak.traced_worker``),
the integration harness's :class:`~tests.integration.harness.Worker`
with the command and environment of a soak run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from soak.config import REPO, SoakConfig
from tests.integration.harness import Topology, Worker


class SoakWorker(Worker):
    def __init__(self, topology: Topology, data_dir: Path, config: SoakConfig) -> None:
        env = {"OPTOUT_PROCESSING_GUARANTEE": config.guarantee, "OPTOUT_GROUP_INSTANCE_ID": "soak-w1"}
        if config.traced:
            env.update(SOAK_TRACE_DIR=str(data_dir), SOAK_TRACE_INTERVAL=str(config.trace_interval_s))
        super().__init__(topology, data_dir, extra_env=env)
        self.cwd = Path(config.app_dir) if config.app_dir else REPO
        self.command = ([sys.executable, "-m", "soak.traced_worker"] if config.traced
                        else [sys.executable, "-m", "app", "worker"])

    def start(self, *, wait: bool = True, timeout: float = 90.0) -> Worker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.topology.env(), "OPTOUT_DATA_DIR": str(self.data_dir),
               "OPTOUT_WEB_PORT": str(self.port), "OPTOUT_LOG_LEVEL": "info", **self.extra_env}
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy(timeout)
        return self
