"""The group assignment: co-partitioned, stable per instance id, owners and standbys known to all."""

from __future__ import annotations

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

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


def test_only_a_workers_url_is_recorded_as_an_owner():
    """Any member of the group says what its URL is: one that is not ``http(s)://host[:port]``
    (user info to smuggle, a path or query to aim at, another scheme) is no owner; the
    partition then has none known (a 503 for its numbers), and a malformed assignment
    leaves no owner rather than failing the consumer."""
    ownership = Ownership()
    assignor = make_assignor("http://w1:6066", "w1", ROUTED, ownership)
    owners = {"http://w2:6066": [1], "https://w3": [2], "http://evil@w4:6066": [3], "file:///etc/passwd": [4],
              "http://w5:6066/admin": [5], "http://w6:6066?x=1": [6], "": [7], "http://w7:6066#f": [0],
              "http://w8:6066": ["8", None]}
    assignor.on_assignment(ConsumerProtocolMemberAssignment(0, [], dumps({"owners": owners, "standbys": {}})))
    assert ownership.owners == {1: "http://w2:6066", 2: "https://w3"}
    for broken in ({"owners": {"http://w2:6066": 5}}, {"owners": []}, {"owners": {"http://w2:6066": [1]},
                                                                       "standbys": {"http://w1:6066": 3}}):
        assignor.on_assignment(ConsumerProtocolMemberAssignment(0, [], dumps(broken)))
        assert ownership.owners == {} and ownership.standbys == set(), broken


def test_send_partition_p_goes_with_routed_partition_p() -> None:
    """Its sends on their number's partition are decided in place, in routed partition p's task."""
    TOPICS["sms.outbound"] = 8
    try:
        for instances in (["w1"], ["w1", "w2"], ["w2", "w1", "w3"], ["a", "b", "c", "d", "e"]):
            assignor = make_assignor("http://w1", "w1", ROUTED, Ownership(), with_routed=("sms.outbound",))
            result = assignor.assign(Cluster(), members(*instances))
            owner = {(topic, p): member for member, a in result.items() for topic, parts in a.assignment
                     for p in parts}
            assert all(owner[("sms.outbound", p)] == owner[(ROUTED, p)] for p in range(8)), instances
    finally:
        TOPICS["sms.outbound"] = 3
