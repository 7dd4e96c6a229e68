"""Integration harness: a real broker, real worker processes, aiokafka clients."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.domain.masking import mask

VIEWER_TOKEN = "integration-viewer-token"  # every test worker has it (GET /optouts/... needs a token)
CLUSTER_SECRET = "integration-cluster-secret"  # the workers of a test trust each other through it
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def topology_id() -> str:
    """A random id for a test's topics that the log masker leaves whole: a hex id with a run of
    seven digits reads as a phone number and is masked in logs (about one id in twelve), and
    tests find their topics' names in what the worker prints."""
    while True:
        candidate = f"t{uuid.uuid4().hex[:10]}"
        if mask(candidate) == candidate:
            return candidate


class Topology:
    """A unique app id and topic set, so tests never see each other's records."""

    def __init__(self, bootstrap: str, partitions: int = 4, input_partitions: int = 3) -> None:
        self.bootstrap = bootstrap
        self.id = topology_id()
        self.partitions = partitions
        self.input_partitions = input_partitions
        self.inbound = f"{self.id}.inbound"
        self.outbound = f"{self.id}.outbound"
        self.provider = f"{self.id}.provider"
        self.suppressed = f"{self.id}.suppressed"
        self.deadletter = f"{self.id}.deadletter"
        self.status = f"{self.id}.status"
        self.consent = f"{self.id}.consent"
        self.review = f"{self.id}.review"

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "OPTOUT_APP_ID": self.id,
            "OPTOUT_INBOUND_TOPIC": self.inbound,
            "OPTOUT_OUTBOUND_TOPIC": self.outbound,
            "OPTOUT_PROVIDER_TOPIC": self.provider,
            "OPTOUT_SUPPRESSED_TOPIC": self.suppressed,
            "OPTOUT_DEADLETTER_TOPIC": self.deadletter,
            "OPTOUT_STATUS_TOPIC": self.status,
            "OPTOUT_CONSENT_TOPIC": self.consent,
            "OPTOUT_REVIEW_TOPIC": self.review,
            "OPTOUT_PARTITIONS": str(self.partitions),
            "OPTOUT_INPUT_PARTITIONS": str(self.input_partitions),
        }

    @property
    def outputs(self) -> list[str]:
        return [self.provider, self.suppressed, self.deadletter]

    def create_topics(self) -> None:
        run_app(["create-topics"], self.env())


def run_app(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class Worker:
    """One `python -m app worker` process, with a viewer token (``VIEWER_TOKEN``) that its
    requests carry unless they bring their own ``Authorization``."""

    def __init__(self, topology: Topology, data_dir: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.topology = topology
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir / f"worker-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout: float = 90.0) -> Worker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.topology.env(),
            "OPTOUT_DATA_DIR": str(self.data_dir),
            "OPTOUT_WEB_PORT": str(self.port),
            "OPTOUT_LOG_LEVEL": "info",
            "OPTOUT_VIEWER_TOKEN": VIEWER_TOKEN,
            "OPTOUT_CLUSTER_SECRET": CLUSTER_SECRET,
            **self.extra_env,
        }
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"], cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        if wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            status, _ = self.get("/health")
            if status == 200:
                return
            time.sleep(0.25)
        raise TimeoutError(f"worker not healthy after {timeout}s:\n{self.log_tail()}")

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
                ) -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Authorization": f"Bearer {VIEWER_TOKEN}", **(headers or {})}  # {"Authorization": None}: none
        headers = {k: v for k, v in headers.items() if v is not None}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body)
            except ValueError:
                return err.code, body.decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return 0, None

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self._log.close()
            self.proc = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------- clients


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[Any],
    *,
    key: Callable[[Any], bytes | None] | None = None,
    partition: Callable[[Any], int | None] | None = None,
) -> int:
    """Produce records (dicts are JSON-encoded, bytes sent as they are)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        futures = []
        for record in records:
            value = record if isinstance(record, bytes) or record is None else json.dumps(record).encode()
            futures.append(
                await producer.send(
                    topic,
                    value=value,
                    key=key(record) if key else None,
                    partition=partition(record) if partition else None,
                )
            )
            count += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count


class Collector:
    """Reads output topics from the beginning; keeps every record it saw."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.records: dict[str, list[dict]] = {t: [] for t in topics}
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Collector:
        self._consumer = AIOKafkaConsumer(  # what a downstream reader sees: committed records only
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", group_id=None,
            isolation_level="read_committed",
        )
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

    async def __aexit__(self, *exc: Any) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def poll(self, timeout: float = 0.5) -> int:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=10000)
        n = 0
        for tp, messages in batch.items():
            for message in messages:
                record = json.loads(message.value)
                self.records[tp.topic].append(record)
                n += 1
        return n

    def total(self) -> int:
        return sum(len(v) for v in self.records.values())

    async def until(self, predicate: Callable[[Collector], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                counts = {t: len(v) for t, v in self.records.items()}
                raise TimeoutError(f"condition not met after {timeout}s; seen {counts}")
            await self.poll()

    async def settle(self, quiet: float = 2.0) -> None:
        """Keep reading until nothing new arrives for ``quiet`` seconds (catches extras)."""
        deadline = time.monotonic() + quiet
        while time.monotonic() < deadline:
            if await self.poll(0.5):
                deadline = time.monotonic() + quiet


def outbound_ids(collector: Collector, topology: Topology) -> dict[str, list[str]]:
    """message_id of every send request seen on each output topic."""
    ids: dict[str, list[str]] = {}
    for record in collector.records[topology.provider]:
        if record.get("category") == "compliance":
            continue  # our own confirmations / help texts, not send requests
        ids.setdefault(record["message_id"], []).append("provider")
    for record in collector.records[topology.suppressed]:
        ids.setdefault(record["message"]["message_id"], []).append("suppressed:" + record["reason"])
    for record in collector.records[topology.deadletter]:
        try:
            mid = json.loads(record["payload"])["message_id"]
        except (TypeError, ValueError, KeyError):
            mid = f"deadletter@{record['source_topic']}:{record['partition']}:{record['offset']}"
        ids.setdefault(str(mid), []).append("deadletter")
    return ids


LAG = re.compile(r'^sms_optout_consumer_lag_records\{partition="(\d+)",topic="([^"]+)"\}', re.M)


def routed_partitions(worker: Worker, routed_topic: str) -> set[int]:
    """The routed partitions assigned to ``worker``, from its /metrics (public, no numbers)."""
    with urllib.request.urlopen(f"{worker.url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {int(p) for p, topic in LAG.findall(text) if topic == routed_topic}


async def eventually(check, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: {last}")


def routed_spread(fleet: list[Worker], topology: Topology) -> list[set[int]] | None:
    """Each worker's routed partitions when every one is assigned once and every worker holds
    some (a group that has settled after its members joined); None until then."""
    routed = f"{topology.id}-routed"
    owned = [routed_partitions(w, routed) for w in fleet]
    everything = set().union(*owned)
    disjoint = sum(len(o) for o in owned) == len(everything)
    return owned if everything == set(range(topology.partitions)) and disjoint and all(owned) else None
