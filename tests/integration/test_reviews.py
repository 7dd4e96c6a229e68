"""The review queue on a real broker: decisions (opt out, dismiss), no opt-in path, and the
deadline (OPTOUT_REVIEW_BUSINESS_DAYS=0 stands in for ten business days passing)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Collector, Topology, Worker, outbound_ids, produce
from tests.integration.test_pipeline import reply, send, wait_opted_out

pytestmark = pytest.mark.integration

TOKEN = "review-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
SENTENCE = "we have got to stop this bill"


def start_worker(kafka_bootstrap: str, tmp: Path, **env: str) -> tuple[Topology, Worker]:
    topology = Topology(kafka_bootstrap)
    worker = Worker(topology, tmp, extra_env={"OPTOUT_ADMIN_TOKEN": TOKEN, **env})
    worker.start()
    return topology, worker


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Worker]]:
    topology, worker = start_worker(kafka_bootstrap, tmp_path_factory.mktemp("reviews"))
    try:
        yield topology, worker
    finally:
        worker.stop()


async def pending(worker: Worker, number: str, present: bool = True) -> dict | None:
    for _ in range(240):
        status, body = worker.request("GET", "/reviews?limit=1000", headers=AUTH)
        assert status in (200, 503), (status, body)
        if status == 200:
            found = [i for i in body["items"] if i["number"] == number]
            if bool(found) is present:
                return found[0] if found else None
        await asyncio.sleep(0.25)
    raise AssertionError(f"review item for {number} never {'appeared' if present else 'left'}")


def consent_for(collector: Collector, topology: Topology, number: str) -> list[dict]:
    return [r for r in collector.records[topology.consent] if r["number"] == number]


async def test_an_opt_out_decision_opts_the_number_out_once(live):
    topology, worker = live
    number = "+14155550301"
    await produce(topology.bootstrap, topology.inbound, [reply("r-rv-1", number, SENTENCE)])
    item = await pending(worker, number)
    assert item["body"] == SENTENCE and item["state"] == "pending"
    rid = item["review_id"]
    status, body = worker.request("POST", f"/reviews/{rid}", {"decision": "opt_in", "decided_by": "x"}, AUTH)
    assert status == 400  # there is no way to opt anyone in
    status, body = worker.request("POST", f"/reviews/{rid}",
                                  {"decision": "opt_out", "decided_by": "agent-7", "note": "wants out"}, AUTH)
    assert status == 202 and body["status"] == "accepted", body
    await wait_opted_out(worker, number)
    await pending(worker, number, present=False)
    status, body = worker.request("POST", f"/reviews/{rid}", {"decision": "dismiss", "decided_by": "b"}, AUTH)
    assert status == 200 and body["status"] == "already_decided" and body["decision"] == "opt_out"
    await produce(topology.bootstrap, topology.outbound, [send("s-rv-1", number)])
    async with Collector(topology.bootstrap, [*topology.outputs, topology.consent]) as out:
        await out.until(lambda c: "s-rv-1" in outbound_ids(c, topology))
        await out.settle(1.5)
        assert outbound_ids(out, topology)["s-rv-1"] == ["suppressed:opted_out"]
        decided = [r for r in consent_for(out, topology, number) if r["source"] == "review"]
        assert len(decided) == 1  # decided once, whatever was asked after
        record = decided[0]
        assert (record["intent"], record["verdict"], record["decided_by"]) == ("opt_out", "applied", "agent-7")
        assert record["body"] == SENTENCE and record["message_id"] == "r-rv-1" and record["review_id"] == rid


async def test_dismiss_is_recorded_and_changes_nothing(live):
    topology, worker = live
    number = "+14155550302"
    await produce(topology.bootstrap, topology.inbound, [reply("r-rv-2", number, SENTENCE)])
    item = await pending(worker, number)
    status, _ = worker.request("POST", f"/reviews/{item['review_id']}", {"decision": "dismiss", "decided_by": "a"},
                               AUTH)
    assert status == 202
    await pending(worker, number, present=False)
    await produce(topology.bootstrap, topology.outbound, [send("s-rv-2", number)])
    async with Collector(topology.bootstrap, [*topology.outputs, topology.consent]) as out:
        await out.until(lambda c: "s-rv-2" in outbound_ids(c, topology)
                        and any(r["verdict"] == "dismissed" for r in consent_for(c, topology, number)))
        assert outbound_ids(out, topology)["s-rv-2"] == ["provider"]


async def test_an_item_nobody_decides_is_opted_out_at_its_deadline(kafka_bootstrap, tmp_path):
    topology, worker = start_worker(kafka_bootstrap, tmp_path, OPTOUT_REVIEW_BUSINESS_DAYS="0",
                                    OPTOUT_REVIEW_SCAN_INTERVAL_MS="300")
    try:
        number = "+14155550303"
        await produce(topology.bootstrap, topology.inbound, [reply("r-rv-3", number, SENTENCE)])
        await wait_opted_out(worker, number)
        async with Collector(topology.bootstrap, [topology.consent]) as out:
            await out.until(lambda c: any(r["source"] == "review_deadline" for r in consent_for(c, topology, number)))
            (record,) = [r for r in consent_for(out, topology, number) if r["source"] == "review_deadline"]
            assert record["decided_by"] == "deadline" and record["body"] == SENTENCE
        status, body = worker.request("GET", "/reviews", headers=AUTH)
        assert status == 200 and not [i for i in body["items"] if i["number"] == number]
    finally:
        worker.stop()
