"""GET /stats on a real broker with two workers: the totals cover every partition whichever
worker is asked, equal what is on the output topics, and survive a worker's hard kill and
restart (kept in the table partitions' state, counted once)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from tests.integration.harness import Collector, Worker, produce
from tests.integration.test_pipeline import reply, send

pytestmark = pytest.mark.integration

STOPPED = [f"+1718555{n:04d}" for n in range(3000, 3010)]
ALLOWED = [f"+1718555{n:04d}" for n in range(4000, 4010)]


def expected_from(out: Collector, topology) -> dict:
    provider = out.records[topology.provider]
    consent = out.records[topology.consent]
    suppressed = out.records[topology.suppressed]
    return {
        "forwarded": sum(1 for r in provider if r.get("category") != "compliance"),
        "suppressed_by_reason": dict(Counter(r["reason"] for r in suppressed)),
        "dead_lettered": len(out.records[topology.deadletter]),
        "opt_outs": sum(1 for r in consent if r["intent"] == "opt_out" and r["verdict"] == "applied"),
        "confirmations": dict(Counter(r["message_id"].rsplit(":", 1)[1] for r in provider
                                      if r.get("category") == "compliance")),
        "consent_events": len(consent),
        "prevented": dict(Counter(r["message"].get("account_id", "default") for r in suppressed
                                  if r["reason"] == "opted_out")),
    }


def figures_of(body: dict) -> dict:
    t = body["totals"]
    prevented: Counter = Counter()
    for day in body["prevented_sends"]:
        prevented.update(day["by_account"])
    return {
        "forwarded": t["forwarded"],
        "suppressed_by_reason": t["suppressed_by_reason"],
        "dead_lettered": t["dead_lettered"],
        "opt_outs": t["opt_outs"],
        "confirmations": t["confirmations"],
        "consent_events": sum(e["count"] for e in body["consent_events"]),
        "prevented": dict(prevented),
    }


async def stats_equal(workers: list[Worker], expected: dict, partitions: int, timeout_s: float = 90) -> None:
    seen: list = []
    for _ in range(int(timeout_s * 4)):
        seen = []
        for worker in workers:
            status, body = worker.get("/stats")
            seen.append((worker.url, status, figures_of(body) if status == 200 else body))
        if all(status == 200 and got == expected for _, status, got in seen):
            for worker in workers:
                _, body = worker.get("/stats")
                assert body["partitions"] == {"covered": list(range(partitions)), "count": partitions}
                assert body["time_to_honour"]["count"] == expected["opt_outs"]
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"expected {json.dumps(expected)}\nseen {json.dumps(seen)}")


async def test_stats_are_complete_whichever_worker_is_asked_and_survive_a_restart(topology, workers, tmp_path):
    first = Worker(topology, tmp_path / "a", extra_env={"OPTOUT_GROUP_INSTANCE_ID": "stats-a"})
    workers.append(first.start())
    second = Worker(topology, tmp_path / "b", extra_env={"OPTOUT_GROUP_INSTANCE_ID": "stats-b"})
    workers.append(second.start())
    first.wait_healthy()

    replies = [reply(f"r-{n}", n, "STOP", account_id="acme") for n in STOPPED] + [reply("h-1", ALLOWED[0], "HELP")]
    await produce(topology.bootstrap, topology.inbound, replies)
    async with Collector(topology.bootstrap, [topology.consent]) as consent:
        await consent.until(lambda c: len(c.records[topology.consent]) >= len(replies))
    sends = [send(f"s-{n}-{i}", n, account_id="acme") for n in STOPPED + ALLOWED for i in range(2)]
    sends += [send("nophone-1", None), send("nophone-2", ""), send("invalid-1", "12")]
    await produce(topology.bootstrap, topology.outbound, sends)
    await produce(topology.bootstrap, topology.outbound, [b"not json", b"[1, 2]"])

    topics = [topology.provider, topology.suppressed, topology.deadletter, topology.consent]
    async with Collector(topology.bootstrap, topics) as out:
        await out.until(lambda c: len(c.records[topology.suppressed]) + len(c.records[topology.deadletter])
                        + sum(1 for r in c.records[topology.provider] if r.get("category") != "compliance")
                        >= len(sends) + 2)
        await out.settle(1.0)
        expected = expected_from(out, topology)
    assert expected["forwarded"] == 2 * len(ALLOWED) and expected["opt_outs"] == len(STOPPED)
    assert expected["suppressed_by_reason"] == {"opted_out": 2 * len(STOPPED), "no_phone": 2, "invalid_number": 1}
    assert expected["dead_lettered"] == 2 and expected["prevented"] == {"acme": 2 * len(STOPPED)}
    await stats_equal([first, second], expected, topology.partitions)

    # a hard kill of one worker and its restart: the same totals, nothing lost, nothing twice
    first.kill()
    first.start()
    second.wait_healthy()
    await stats_equal([first, second], expected, topology.partitions)

    # and the figures go on from there
    await produce(topology.bootstrap, topology.outbound, [send(f"more-{n}", n, account_id="acme") for n in ALLOWED])
    await stats_equal([second, first], {**expected, "forwarded": expected["forwarded"] + len(ALLOWED)},
                      topology.partitions)
