"""The group assignment: co-partitioned, stable per instance id, owners and standbys known to all."""

from __future__ import annotations

from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from app.records import dumps
from app.runtime.assignor import Ownership, make_assignor

ROUTED = "app-routed"
TOPICS = {ROUTED: 8, "sms.inbound": 3, "sms.outbound": 3, "sms.status": 3}


class Cluster:
    def partitions_for_topic(self, topic):
        return set(range(TOPICS[topic]))


def members(*instances: str) -> dict:
    return {f"member-{i}-{name}": ConsumerProtocolMemberMetadata(
        0, sorted(TOPICS), dumps({"url": f"http://{name}", "instance": name})) for i, name in enumerate(instances)}


def assign(instances, standbys=0):
    assignor = make_assignor("http://w1", "w1", ROUTED, Ownership(), standbys)
    return assignor, assignor.assign(Cluster(), members(*instances))


def test_every_partition_once_and_routed_spread_evenly():
    _, result = assign(["w2", "w1", "w3"])
    seen = {}
    for member, assignment in result.items():
        for topic, parts in assignment.assignment:
            for p in parts:
                assert (topic, p) not in seen
                seen[(topic, p)] = member
    assert len(seen) == sum(TOPICS.values())
    routed_counts = sorted(sum(len(ps) for t, ps in a.assignment if t == ROUTED) for a in result.values())
    assert routed_counts == [2, 3, 3]


def test_the_same_instance_gets_the_same_partitions_back_whatever_its_member_id():
    _, first = assign(["w1", "w2"])
    _, again = assign(["w2", "w1"])
    by_instance = lambda res: {m.rsplit("-", 1)[1]: sorted(a.assignment) for m, a in res.items()}  # noqa: E731
    assert by_instance(first) == by_instance(again)


def test_owners_and_standbys_reach_every_member():
    ownership = Ownership()
    assignor = make_assignor("http://w1", "w1", ROUTED, ownership, standby_replicas=1)
    result = assignor.assign(Cluster(), members("w1", "w2", "w3"))
    mine = next(a for m, a in result.items() if m.endswith("w1"))
    assignor.on_assignment(mine)
    assert sorted(ownership.owners) == list(range(8))
    assert ownership.standbys and not ownership.standbys & {p for p, url in ownership.owners.items()
                                                            if url == "http://w1"}
