"""Three workers in one group (`make cluster N=3`): partitions spread, any worker answers any
lookup, and after one is SIGKILLed the other two take its partitions over and decide its sends.

The takeover time (from the kill to the first send on the dead worker's partitions decided)
is printed with and without standby replicas; it is a figure, not an assertion (the bound
asserted is the test's patience).
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request

import pytest

from app.stream.partitioner import partition_for
from tests.integration.harness import (
    Collector,
    Worker,
    eventually,
    outbound_ids,
    produce,
    routed_partitions,
    routed_spread,
)
from tests.integration.test_pipeline import reply, send

pytestmark = pytest.mark.integration

NUMBERS = [f"+1929555{n:04d}" for n in range(1000, 1024)]
@pytest.mark.parametrize("standbys", [0, 1])
async def test_three_workers_share_the_partitions_answer_every_lookup_and_take_over(topology, workers, tmp_path,
                                                                                     standbys):
    routed = f"{topology.id}-routed"
    fleet = [Worker(topology, tmp_path / f"w{i}", extra_env={"OPTOUT_GROUP_INSTANCE_ID": f"w{i}",
                                                             "OPTOUT_STANDBY_REPLICAS": str(standbys)})
             for i in (1, 2, 3)]
    for worker in fleet:
        workers.append(worker.start())

    owned = await eventually(lambda: routed_spread(fleet, topology),
                             "every routed partition assigned once, every worker holding some")

    await produce(topology.bootstrap, topology.inbound, [reply(f"r-{n}", n, "STOP") for n in NUMBERS[:12]])

    def all_answer():
        for worker in fleet:
            for number in NUMBERS[:12]:
                status, body = worker.get(f"/optouts/{urllib.parse.quote(number)}")
                if status != 200 or body.get("opted_out") is not True:
                    return None
        return True

    await eventually(all_answer, "every worker answers every lookup (forwarding to the owner)")

    # SIGKILL the first worker; its partitions' sends are decided by the other two
    victim, survivors = fleet[0], fleet[1:]
    theirs = [n for n in NUMBERS if partition_for(n, topology.partitions) in owned[0]]
    assert theirs, "the victim holds numbers of the test"
    victim.kill()
    killed_at = time.monotonic()
    sends = [send(f"s-{standbys}-{n}", n) for n in theirs]
    await produce(topology.bootstrap, topology.outbound, sends)
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: len(outbound_ids(c, topology)) >= 1, timeout=120)
        first_decided = time.monotonic() - killed_at
        await out.until(lambda c: len(outbound_ids(c, topology)) >= len(sends), timeout=120)
        all_decided = time.monotonic() - killed_at
        await out.settle(1.0)
        ids = outbound_ids(out, topology)
    for s in sends:
        expected = ["suppressed:opted_out"] if s["to"] in NUMBERS[:12] else ["provider"]
        assert ids[s["message_id"]] == expected, s
    await eventually(lambda: set().union(*(routed_partitions(w, routed) for w in survivors))
                     == set(range(topology.partitions)), "the survivors hold every partition")
    for number in NUMBERS[:12]:
        status, body = survivors[1].get(f"/optouts/{urllib.parse.quote(number)}")
        assert status == 200 and body["opted_out"] is True, (number, body)
    print(f"\ntakeover with {standbys} standby replica(s): first send on the dead worker's partitions decided "
          f"{first_decided:.1f} s after the SIGKILL, all {len(sends)} after {all_decided:.1f} s")
