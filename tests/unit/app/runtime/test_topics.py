"""Start-up checks of the topics' policies and of the broker's transaction support."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from app.runtime.topics import TopologyError, _check_policies
from app.settings import Settings


class FakeAdmin:
    def __init__(self, brokers: int, changelog: str = "compact", consent: str = "delete", txn_rf: str = "1") -> None:
        self.brokers, self.changelog, self.consent, self.txn_rf = brokers, changelog, consent, txn_rf

    async def describe_cluster(self):
        return {"brokers": [{"node_id": i + 1} for i in range(self.brokers)]}

    async def describe_configs(self, resources):
        rows = []
        for r in resources:
            kind = r.resource_type.value
            if r.name.endswith("changelog"):
                entries = [("cleanup.policy", self.changelog)]
            elif r.name.endswith("consent"):
                entries = [("cleanup.policy", self.consent)]
            else:
                entries = [("transaction.state.log.replication.factor", self.txn_rf),
                           ("transaction.state.log.min.isr", "1")]
            rows.append((0, "", kind, r.name, entries))
        return [SimpleNamespace(resources=rows)]


def check(admin: FakeAdmin, **kw) -> None:
    asyncio.run(_check_policies(admin, Settings(kafka_bootstrap_servers="unused:1", **kw)))


def test_a_healthy_cluster_passes():
    check(FakeAdmin(1))
    check(FakeAdmin(3, txn_rf="3"))


@pytest.mark.parametrize(("admin", "says"), [
    (FakeAdmin(1, changelog="delete"), "must be compact"),
    (FakeAdmin(1, consent="compact"), "must not be compacted"),
    (FakeAdmin(1, consent="compact,delete"), "must not be compacted"),
    (FakeAdmin(1, txn_rf="3"), "exactly-once needs transactions"),
])
def test_what_would_break_correctness_is_refused(admin, says):
    with pytest.raises(TopologyError, match=says):
        check(admin)


def test_at_least_once_needs_no_transaction_log():
    check(FakeAdmin(1, txn_rf="3"), processing_guarantee="at_least_once")
