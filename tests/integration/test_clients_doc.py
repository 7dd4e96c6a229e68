"""docs/clients.md, run: its code blocks produce a valid reply and a valid send, keyed by the number.

Each block after a ``<!-- snippet: NAME -->`` line is taken from the page as it is, with only
the broker address and the two topic names replaced by the test's (a per-test topology), run
against the test broker, and what it produced read back and checked against the contracts
(``schemas/``). The aiokafka block always runs; confluent-kafka's when the package is
installed; the Java one when a JDK and the local broker's kafka-clients jars are there.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from app.stream.partitioner import partition_for
from schemas import InboundReply, OutboundRequest
from tests.integration.harness import REPO, Topology

pytestmark = pytest.mark.integration

DOC = REPO / "docs" / "clients.md"
NUMBER = "+14155550100"
JARS = REPO / ".cache" / "kafka" / "lib"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.DOTALL)


def snippets() -> dict[str, str]:
    return {m.group("name"): m.group("code") for m in SNIPPET.finditer(DOC.read_text())}


def for_test(code: str, topology: Topology) -> str:
    """The block with the test's broker and topics (each must be written in it exactly once)."""
    for written, used in (("localhost:9092", topology.bootstrap), ("sms.inbound", topology.inbound),
                          ("sms.outbound", topology.outbound)):
        assert code.count(f'"{written}"') == 1, f"{written!r} should appear once, quoted"
        code = code.replace(f'"{written}"', json.dumps(used))
    return code


async def produced(topology: Topology, topic: str) -> tuple[list, int]:
    """The records of ``topic``, and its partition count."""
    consumer = AIOKafkaConsumer(bootstrap_servers=topology.bootstrap, group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        records = []
        for _ in range(60):
            if all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                break
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                records += messages
        return records, len(tps)
    finally:
        await consumer.stop()


def check_what_was_produced(topology: Topology) -> None:
    [reply], _ = asyncio.run(produced(topology, topology.inbound))
    [send], partitions = asyncio.run(produced(topology, topology.outbound))
    assert reply.key == NUMBER.encode() and send.key == NUMBER.encode()
    # Kafka's default partitioner: the send is on its number's partition (decided in place)
    assert send.partition == partition_for(NUMBER, partitions), (send.partition, partitions)
    context: dict = {}
    parsed = InboundReply.model_validate(json.loads(reply.value), context=context)
    assert context == {}, context  # nothing the worker would have to coerce
    assert parsed.from_ == NUMBER and parsed.body == "STOP" and parsed.message_id
    request = OutboundRequest.model_validate(json.loads(send.value))
    assert request.to == NUMBER and request.message_id and request.body


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topology:
    topology = Topology(kafka_bootstrap)
    topology.create_topics()
    return topology


def run(args: list[str], cwd: Path, timeout: float = 120) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"


def test_every_language_has_a_snippet():
    assert set(snippets()) == {"python-aiokafka", "python-confluent-kafka", "java", "node-kafkajs", "go-franz-go"}
    for name, code in snippets().items():
        assert '"+14155550100"' in code and '"STOP"' in code, name  # keyed by the number; a reply and a send
        for topic in ("sms.inbound", "sms.outbound", "localhost:9092"):
            assert code.count(f'"{topic}"') == 1, (name, topic)


def test_the_aiokafka_snippet(topics: Topology, tmp_path: Path):
    script = tmp_path / "snippet.py"
    script.write_text(for_test(snippets()["python-aiokafka"], topics))
    run([sys.executable, str(script)], tmp_path)
    check_what_was_produced(topics)


def test_the_confluent_kafka_snippet(topics: Topology, tmp_path: Path):
    pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed (pip install confluent-kafka)")
    script = tmp_path / "snippet.py"
    script.write_text(for_test(snippets()["python-confluent-kafka"], topics))
    run([sys.executable, str(script)], tmp_path)
    check_what_was_produced(topics)


def test_the_java_snippet(topics: Topology, tmp_path: Path):
    java = shutil.which("java")
    if java is None or not list(JARS.glob("kafka-clients-*.jar")) or not list(JARS.glob("jackson-databind-*.jar")):
        pytest.skip("no JDK, or no kafka-clients and Jackson jars in .cache/kafka/lib (scripts/kafka.sh fetch)")
    source = tmp_path / "OptOutClient.java"
    source.write_text(for_test(snippets()["java"], topics))
    run([java, "-cp", f"{JARS}/*", "-Dlog4j2.level=warn", str(source)], tmp_path, timeout=180)
    check_what_was_produced(topics)
