"""Two workers in one group: lookups are answered by either, sends stay correct."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest

from tests.integration.harness import Collector, Worker, outbound_ids, produce
from tests.integration.test_pipeline import reply, send

pytestmark = pytest.mark.integration

STOPPED = [f"+1718555{n:04d}" for n in range(1000, 1016)]
ALLOWED = [f"+1718555{n:04d}" for n in range(2000, 2016)]


async def test_lookup_is_answered_by_either_worker_and_sends_are_decided_right(topology, workers, tmp_path):
    first = Worker(topology, tmp_path / "a")
    workers.append(first.start())
    second = Worker(topology, tmp_path / "b")
    workers.append(second.start())
    await produce(topology.bootstrap, topology.inbound, [reply(f"r-{n}", n, "STOP") for n in STOPPED])

    async def both_say_opted_out(number: str) -> None:
        path = f"/optouts/{urllib.parse.quote(number)}"
        for _ in range(240):
            answers = [w.get(path) for w in (first, second)]
            if all(status == 200 and body["opted_out"] for status, body in answers):
                return
            await asyncio.sleep(0.25)
        raise AssertionError(f"{number}: {answers}")

    for number in STOPPED:
        await both_say_opted_out(number)
    for number in ALLOWED[:4]:
        for worker in (first, second):
            status, body = worker.get(f"/optouts/{urllib.parse.quote(number)}")
            assert status == 200 and body["opted_out"] is False

    sends = [send(f"s-{n}-{i}", n) for n in STOPPED + ALLOWED for i in range(3)]
    await produce(topology.bootstrap, topology.outbound, sends)
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: len(outbound_ids(c, topology)) >= len(sends))
        await out.settle(1.0)
        ids = outbound_ids(out, topology)
    for s in sends:
        expected = ["suppressed:opted_out"] if s["to"] in STOPPED else ["provider"]
        assert ids[s["message_id"]] == expected, s
