"""Group assignment: co-partitioned, stable, and telling everyone who owns what.

Members are ordered by their static instance id (else member id), so a worker
that comes back gets the partitions it had (and the state it kept). Routed
partition p goes to member ``p % n``; input partitions are spread the same
way, each topic shifted so one member does not take every partition 0. Every
member learns the owner (web URL) of every routed partition, for lookups.
"""

from __future__ import annotations

import collections

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

from app.records import dumps, loads


class Ownership:
    """What this worker learned at its last assignment."""

    def __init__(self) -> None:
        self.owners: dict[int, str] = {}  # routed partition -> owner's web URL
        self.standbys: set[int] = set()  # routed partitions this worker keeps a warm copy of
        self.generation = 0


def make_assignor(url: str, instance: str, routed_topic: str, ownership: Ownership, standby_replicas: int = 0) -> type:
    class CoPartitionedAssignor(AbstractPartitionAssignor):
        name = "sms-optout-copartitioned"
        version = 0

        @classmethod
        def metadata(cls, topics):  # type: ignore[no-untyped-def]
            return ConsumerProtocolMemberMetadata(cls.version, sorted(topics),
                                                  dumps({"url": url, "instance": instance}))

        @classmethod
        def assign(cls, cluster, members):  # type: ignore[no-untyped-def]
            infos = {}
            for member_id, meta in members.items():
                try:
                    info = loads(meta.user_data) if meta.user_data else {}
                except ValueError:
                    info = {}
                infos[member_id] = info
            order = sorted(members, key=lambda m: (str(infos[m].get("instance") or ""), m))
            n = len(order)
            topics = sorted({t for meta in members.values() for t in meta.subscription})
            plan: dict[str, dict[str, list[int]]] = {m: collections.defaultdict(list) for m in order}
            owners: dict[str, list[int]] = collections.defaultdict(list)
            for shift, topic in enumerate(topics):
                partitions = sorted(cluster.partitions_for_topic(topic) or ())
                subscribed = [m for m in order if topic in members[m].subscription]
                if not subscribed:
                    continue
                for p in partitions:
                    k = p if topic == routed_topic else p + shift
                    member = subscribed[k % len(subscribed)]
                    plan[member][topic].append(p)
                    if topic == routed_topic:
                        owners[str(infos[member].get("url") or "")].append(p)
            # standby replicas: routed partition p is kept warm by the next member(s) after its owner
            standbys: dict[str, list[int]] = collections.defaultdict(list)
            routed = sorted(cluster.partitions_for_topic(routed_topic) or ())
            routed_members = [m for m in order if routed_topic in members[m].subscription]
            for p in routed:
                for k in range(1, min(standby_replicas, len(routed_members) - 1) + 1):
                    member = routed_members[(p + k) % len(routed_members)]
                    standbys[str(infos[member].get("url") or "")].append(p)
            user_data = dumps({"owners": owners, "standbys": standbys, "members": n})
            return {
                m: ConsumerProtocolMemberAssignment(cls.version, sorted(plan[m].items()), user_data) for m in order
            }

        @classmethod
        def on_assignment(cls, assignment):  # type: ignore[no-untyped-def]
            try:
                data = loads(assignment.user_data) if assignment.user_data else {}
                ownership.owners = {p: owner for owner, parts in data.get("owners", {}).items() for p in parts}
                ownership.standbys = set(data.get("standbys", {}).get(url, ()))
            except (ValueError, AttributeError):
                ownership.owners = {}
                ownership.standbys = set()
            ownership.generation += 1

    return CoPartitionedAssignor
