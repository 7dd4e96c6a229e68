"""State and accounting across worker restarts and backlogs."""

from __future__ import annotations

import asyncio
import random
import shutil

import pytest

from tests.integration.harness import Collector, Worker, outbound_ids, produce
from tests.integration.test_pipeline import reply, send, wait_opted_out

pytestmark = pytest.mark.integration

STOPPED = [f"+1617555{n:04d}" for n in range(1000, 1012)]
ALLOWED = [f"+1617555{n:04d}" for n in range(2000, 2012)]


def assert_accounted(ids: dict[str, list[str]], sends: list[dict], stopped: set[str]) -> None:
    for s in sends:
        outcome = ids.get(s["message_id"])
        assert outcome is not None, f"send {s['message_id']} is on no output topic"
        assert len(outcome) == 1, f"send {s['message_id']} has {outcome}"
        if s["to"] in stopped:
            assert outcome == ["suppressed:opted_out"], s
        else:
            assert outcome == ["provider"], s


async def test_restart_keeps_the_table_locally_and_from_the_changelog(topology, workers, tmp_path):
    data = tmp_path / "worker-a"
    first = Worker(topology, data)
    workers.append(first.start())
    await produce(topology.bootstrap, topology.inbound, [reply(f"r-{n}", n, "STOP") for n in STOPPED])
    for number in STOPPED:
        await wait_opted_out(first, number)
    first.stop()

    # same data dir: RocksDB on disk
    again = Worker(topology, data)
    workers.append(again.start())
    for number in STOPPED:
        status, body = again.get(f"/optouts/{number}")
        assert status == 200 and body["opted_out"] is True, (number, body)
    again.stop()

    # empty data dir: rebuilt from the compacted changelog
    shutil.rmtree(data)
    fresh = Worker(topology, tmp_path / "worker-b")
    workers.append(fresh.start())
    for number in STOPPED:
        status, body = fresh.get(f"/optouts/{number}")
        assert status == 200 and body["opted_out"] is True, (number, body)
    sends = [send(f"s-{n}", n) for n in STOPPED + ALLOWED]
    await produce(topology.bootstrap, topology.outbound, sends)
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: len(outbound_ids(c, topology)) >= len(sends))
        await out.settle(1.0)
        assert_accounted(outbound_ids(out, topology), sends, set(STOPPED))


async def test_backlog_that_arrived_while_the_worker_was_down(topology, workers, tmp_path):
    worker = Worker(topology, tmp_path / "w")
    workers.append(worker.start())
    await produce(topology.bootstrap, topology.inbound, [reply(f"r-{n}", n, "STOP") for n in STOPPED[:6]])
    for number in STOPPED[:6]:
        await wait_opted_out(worker, number)
    warmup = [send("s-warmup", ALLOWED[0])]
    await produce(topology.bootstrap, topology.outbound, warmup)
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: "s-warmup" in outbound_ids(c, topology))
    worker.stop()

    # while it is down: more STOPs arrive, then sends (to random partitions) that must honour them
    rng = random.Random(3)
    await produce(topology.bootstrap, topology.inbound, [reply(f"r-down-{n}", n, "STOP") for n in STOPPED[6:]],
                  partition=lambda r: rng.randrange(3))
    sends = [send(f"s-backlog-{i}", rng.choice(STOPPED + ALLOWED)) for i in range(1500)]
    await produce(topology.bootstrap, topology.outbound, sends, partition=lambda r: rng.randrange(3))
    await produce(topology.bootstrap, topology.outbound, [b"garbage while down"])

    restarted = Worker(topology, tmp_path / "w")
    workers.append(restarted.start())
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: len(outbound_ids(c, topology)) >= len(sends) + 2, timeout=120)
        await out.settle(2.0)
        ids = outbound_ids(out, topology)
    assert_accounted(ids, warmup + sends, set(STOPPED))
    assert [r["payload"] for r in out.records[topology.deadletter]] == ["garbage while down"]


async def test_fresh_consumer_group_with_a_backlog_already_waiting(topology, workers, tmp_path):
    """No worker has ever run for this app id: STOPs, then sends, are waiting before the group exists."""
    topology.create_topics()
    rng = random.Random(5)
    stops = [reply(f"r-{n}", n, "STOP") for n in STOPPED]
    sends = [send(f"s-fresh-{i}", rng.choice(STOPPED + ALLOWED)) for i in range(3000)]
    await produce(topology.bootstrap, topology.inbound, stops, partition=lambda r: rng.randrange(3))
    await produce(topology.bootstrap, topology.outbound, sends, partition=lambda r: rng.randrange(3))

    worker = Worker(topology, tmp_path / "w")
    workers.append(worker.start())
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: len(outbound_ids(c, topology)) >= len(sends), timeout=120)
        await out.settle(2.0)
        ids = outbound_ids(out, topology)
    # every send accounted for exactly once, and replies were applied before the waiting sends
    assert_accounted(ids, sends, set(STOPPED))


async def test_a_stop_in_the_middle_of_replies_loses_no_consent_output(topology, workers, tmp_path):
    """SIGTERM while STOPs are being processed: after restart, every STOP has its
    consent-log record and its confirmation (at least once), and every number is out."""
    numbers = [f"+1646555{n:04d}" for n in range(1000, 4000)]
    worker = Worker(topology, tmp_path / "w")
    workers.append(worker.start())
    await produce(topology.bootstrap, topology.inbound, [reply(f"r-{n}", n, "STOP") for n in numbers])
    for _ in range(400):  # stop it part-way through
        status, stats = worker.get("/stats?scope=worker")
        if status == 200 and stats["opt_outs"] >= 300:
            break
        await asyncio.sleep(0.02)
    worker.stop()
    restarted = Worker(topology, tmp_path / "w")
    workers.append(restarted.start())
    topics = [topology.consent, topology.provider]
    async with Collector(topology.bootstrap, topics) as out:
        def logged(c):
            return {r["number"] for r in c.records[topology.consent]}

        await out.until(lambda c: logged(c) >= set(numbers), timeout=120)
        await out.settle(1.0)
        confirmed = {r["to"] for r in out.records[topology.provider] if r.get("category") == "compliance"}
    assert confirmed >= set(numbers), f"{len(set(numbers) - confirmed)} numbers got no confirmation"
    for number in numbers[::300]:
        await wait_opted_out(restarted, number)
