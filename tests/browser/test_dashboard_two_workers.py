"""The dashboard's data with two workers on a real broker (no browser): whichever worker is
asked, it shows both workers with their partitions, every review item, the recent events of
every partition, and the timeline of a number the other worker holds."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.integration.harness import VIEWER_TOKEN, Topology, Worker, produce
from tests.integration.test_pipeline import reply

pytestmark = pytest.mark.integration

STOPPED = [f"+1718555{n:04d}" for n in range(3000, 3012)]
REVIEWED = [f"+1718555{n:04d}" for n in range(3100, 3104)]


def page(worker: Worker, path: str) -> tuple[int, str]:
    req = urllib.request.Request(worker.url + path, headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def complete(data: dict, partitions: int) -> bool:
    items = data["workers"]["items"]
    held = [p for w in items for p in w["partitions"]]
    return (len(items) == 2 and all(w["ready"] for w in items) and sorted(held) == list(range(partitions))
            and data["reviews"]["available"] and len(data["reviews"]["items"]) == len(REVIEWED)
            and data["recent"]["available"]
            and sum(e["intent"] == "opt_out" and e["verdict"] == "applied" for e in data["recent"]["events"])
            >= len(STOPPED))


async def test_either_worker_shows_the_whole_cluster(kafka_bootstrap, workers, tmp_path):
    topology = Topology(kafka_bootstrap)
    first = Worker(topology, tmp_path / "a")
    workers.append(first.start())
    second = Worker(topology, tmp_path / "b")
    workers.append(second.start())
    await produce(topology.bootstrap, topology.inbound,
                  [reply(f"d-stop-{n}", n, "STOP") for n in STOPPED]
                  + [reply(f"d-review-{n}", n, "we have got to stop this bill") for n in REVIEWED])

    for worker in (first, second):
        data: dict = {}
        for _ in range(240):
            status, data = worker.get("/dashboard/data")
            if status == 200 and complete(data, topology.partitions):
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"{worker.url} never showed the whole cluster: {data}")
        shown = str(data)
        assert not any(n in shown for n in STOPPED + REVIEWED), "a number in the dashboard's data unmasked"
        assert {w["url"] for w in data["workers"]["items"]} == {first.url, second.url}
        assert {i["number"][-4:] for i in data["reviews"]["items"]} == {n[-4:] for n in REVIEWED}

    for number in STOPPED:
        for worker in (first, second):
            status, text = page(worker, f"/numbers/{urllib.parse.quote(number)}")
            assert status == 200 and number in text, (worker.url, number, status)
            assert 'class="intent-opt_out"' in text and "STOP" in text, (worker.url, number)
