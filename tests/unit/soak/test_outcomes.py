"""The soak's reader of the output topics: each record counted against its send (no broker)."""

from __future__ import annotations

import base64
import json

from soak.accounting import Ledger, account
from soak.outcomes import LedgerCollector


def collector(sends: int) -> tuple[LedgerCollector, Ledger]:
    ledger = Ledger()
    for _ in range(sends):
        ledger.acked(ledger.new_send())
    topics = {"provider": "p", "suppressed": "s", "deadletter": "d", "consent": "c"}
    return LedgerCollector("127.0.0.1:1", topics, ledger), ledger


def test_each_kind_of_output_is_counted_against_its_send() -> None:
    c, ledger = collector(4)
    c.handle("provider", json.dumps({"message_id": "s-0", "to": "+16175550000"}).encode())
    c.handle("suppressed", json.dumps({"message": {"message_id": "s-1"}, "reason": "opted_out"}).encode())
    original = json.dumps({"message_id": "s-2", "to": "x"}).encode()
    c.handle("deadletter", json.dumps({"payload": base64.b64encode(original).decode(),
                                       "payload_encoding": "base64"}).encode())
    c.handle("provider", json.dumps({"message_id": "r-9:opt-out", "category": "compliance"}).encode())
    c.handle("consent", json.dumps({"message_id": "r-9"}).encode())
    c.handle("provider", b"not json")
    result = account(ledger)
    assert (result["delivered"], result["suppressed"], result["deadlettered"], result["lost"]) == (1, 1, 1, 1)
    assert c.compliance == 1 and c.undecodable == 1
    assert c.totals == {"provider": 3, "suppressed": 1, "deadletter": 1, "consent": 1}


def test_a_dead_lettered_reply_is_not_a_send() -> None:
    c, ledger = collector(1)
    c.handle("deadletter", json.dumps({"payload": json.dumps({"message_id": "r-3", "from": "x"})}).encode())
    assert c.replies_deadlettered == 1 and ledger.unknown == 0 and ledger.accounted == 0
