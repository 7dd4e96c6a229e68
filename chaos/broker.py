"""Brokers for the chaos runs, through ``scripts/kafka.sh`` (as the integration suite does).

- The shared broker (scenarios a-d): ``KAFKA_BOOTSTRAP_SERVERS`` if set; else the local
  broker on ``KAFKA_PORT`` (default 9092), started if it is not running and then stopped
  again at the end (the logic of ``tests/integration/conftest.py``, without Docker).
- The scenario-owned broker (broker-restart): its own port (``CHAOS_KAFKA_PORT``, default
  29192, below Linux's ephemeral range 32768-60999 so no client socket or worker web port
  holds it when the broker comes back) and run dir (``.run/chaos-kafka-<port>``), so
  stopping it never touches the shared one; wiped at the end unless ``CHAOS_KEEP_BROKER=1``.
"""

from __future__ import annotations

import os
import subprocess
import time

from chaos.config import REPO

KAFKA_SH = REPO / "scripts" / "kafka.sh"


class LocalBroker:
    def __init__(self, port: int, run_dir: str | None = None) -> None:
        self.port = port
        self.run_dir = run_dir
        self.started_here = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "KAFKA_PORT": str(self.port)}
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CONTROLLER_PORT", "KAFKA_RUN_DIR"):
            env.pop(name, None)
        if self.run_dir:
            env["KAFKA_RUN_DIR"] = self.run_dir
        return env

    def _run(self, action: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(KAFKA_SH), action], env=self._env(), capture_output=True, text=True,
                              check=check, timeout=300)

    def running(self) -> bool:
        return self._run("status", check=False).returncode == 0

    def start(self) -> float:
        """Start it (no-op when up); seconds it took."""
        t0 = time.monotonic()
        if not self.running():
            result = self._run("start", check=False)
            if result.returncode != 0:
                raise RuntimeError(f"kafka.sh start (port {self.port}) failed:\n{result.stdout}\n{result.stderr}")
            self.started_here = True
        return round(time.monotonic() - t0, 2)

    def stop(self) -> float:
        t0 = time.monotonic()
        self._run("stop", check=False)
        return round(time.monotonic() - t0, 2)

    def wipe(self) -> None:
        self._run("wipe", check=False)


def shared_broker() -> tuple[str, LocalBroker | None]:
    """(bootstrap, the broker we started or None). Caller stops it with ``release``."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        return given, None
    broker = LocalBroker(int(os.environ.get("KAFKA_PORT", "9092")))
    broker.start()
    return broker.bootstrap, broker if broker.started_here else None


def release(broker: LocalBroker | None) -> None:
    if broker is not None and broker.started_here:
        broker.stop()


def own_broker() -> LocalBroker:
    port = int(os.environ.get("CHAOS_KAFKA_PORT", "29192"))
    return LocalBroker(port, str(REPO / ".run" / f"chaos-kafka-{port}"))
