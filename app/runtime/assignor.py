"""Group assignment: co-partitioned, stable, and telling everyone who owns what.

Members are ordered by their static instance id (else member id), so a worker
that comes back gets the partitions it had (and the state it kept). Routed
partition p goes to member ``p % n``, and so does partition p of the send topic
(its sends on their number's partition are decided in place, with routed partition
p); other input partitions are spread the same way, each topic shifted so one
member does not take every partition 0. Every
member learns the owner (web URL) of every routed partition, for lookups.

The URLs are what each member says in its metadata: anything that can join the group can
advertise one, so a URL is never trusted for being here. A worker records only a URL of
the form ``http(s)://host[:port]`` (:func:`worker_url`; anything else, the partition has no
known owner: a 503 for its numbers), sends it no client token, and takes no answer from it
that is not signed with the cluster's key (:mod:`app.runtime.web.workers`).
"""

from __future__ import annotations

import collections
import urllib.parse

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

from app.records import dumps, loads

MAX_URL_CHARS = 255


def worker_url(value: object) -> str | None:
    """``value`` if it is a worker's web URL as workers advertise theirs (``http(s)://host[:port]``:
    no user info, path, query or fragment); else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_CHARS or not value.isascii():
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None \
            or parts.password is not None or parts.path or parts.query or parts.fragment \
            or any(c.isspace() or c in "\\<>\"'`" for c in value):
        return None
    return value


class Ownership:
    """What this worker learned at its last assignment."""

    def __init__(self) -> None:
        self.owners: dict[int, str] = {}  # routed partition -> owner's web URL
        self.standbys: set[int] = set()  # routed partitions this worker keeps a warm copy of
        self.generation = 0


def make_assignor(url: str, instance: str, routed_topic: str, ownership: Ownership, standby_replicas: int = 0,
                  with_routed: tuple[str, ...] = ()) -> type:
    """``with_routed``: topics whose partition p goes with routed partition p (the send topic: its
    sends on their number's partition are decided in place, in the routed partition's task)."""
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
                    k = p if topic == routed_topic or topic in with_routed else p + shift
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
                ownership.owners = {p: owner for owner, parts in data.get("owners", {}).items()
                                    if worker_url(owner) is not None for p in parts if type(p) is int}
                ownership.standbys = {p for p in data.get("standbys", {}).get(url, ()) if type(p) is int}
            except (ValueError, AttributeError, TypeError):
                ownership.owners = {}
                ownership.standbys = set()
            ownership.generation += 1

    return CoPartitionedAssignor
