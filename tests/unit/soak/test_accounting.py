"""The soak's accounting: every send on exactly one of provider / suppressed / deadletter."""

from __future__ import annotations

from soak.accounting import Ledger, account, send_id, send_index


def ledger_with(n: int) -> Ledger:
    ledger = Ledger()
    for _ in range(n):
        ledger.acked(ledger.new_send())
    return ledger


def test_send_ids_round_trip() -> None:
    assert send_index(send_id(0)) == 0
    assert send_index(send_id(1234567)) == 1234567
    for other in (None, "", "r-12", "s-", "s-12x", "p-1", "s--1"):
        assert send_index(other) is None


def test_every_send_on_exactly_one_output_is_ok() -> None:
    ledger = ledger_with(4)
    ledger.outcome("provider", "s-0")
    ledger.outcome("suppressed", "s-1")
    ledger.outcome("deadletter", "s-2")
    ledger.outcome("provider", "s-3")
    result = account(ledger)
    assert result["ok"], result["failures"]
    assert (result["sends"], result["acked"], result["delivered"], result["suppressed"], result["deadlettered"]) == (
        4, 4, 2, 1, 1)
    assert result["lost"] == result["duplicated"] == result["delivered_and_suppressed"] == 0
    assert ledger.accounted == 4


def test_lost_duplicated_and_both_are_failures() -> None:
    ledger = ledger_with(4)
    ledger.outcome("provider", "s-0")
    ledger.outcome("provider", "s-0")  # duplicated
    ledger.outcome("provider", "s-1")
    ledger.outcome("suppressed", "s-1")  # delivered and suppressed
    ledger.outcome("suppressed", "s-2")
    # s-3: lost
    result = account(ledger)
    assert not result["ok"]
    assert result["lost"] == 1 and result["lost_examples"] == ["s-3"]
    assert result["duplicated"] == 2 and result["duplicate_records"] == 2
    assert result["delivered_and_suppressed"] == 1
    assert ledger.accounted == 3
    assert any("lost" in f for f in result["failures"]) and any("more than one" in f for f in result["failures"])


def test_a_send_whose_produce_failed_is_not_lost_but_fails_the_run() -> None:
    ledger = ledger_with(1)
    ledger.failed(ledger.new_send())
    ledger.new_send()  # never confirmed either way
    ledger.outcome("provider", "s-0")
    result = account(ledger)
    assert result["lost"] == 0
    assert result["produce_failed"] == 1 and result["produce_unconfirmed"] == 1 and result["acked"] == 1
    assert not result["ok"]


def test_outputs_of_unknown_sends_are_counted_apart() -> None:
    ledger = ledger_with(1)
    ledger.outcome("provider", "s-0")
    ledger.outcome("provider", "s-99")  # not one of ours
    ledger.outcome("suppressed", "someone-else")
    result = account(ledger)
    assert result["ok"]
    assert result["unknown_outputs"] == 2 and result["unknown_output_examples"] == ["provider:s-99",
                                                                                    "suppressed:someone-else"]


def test_counters_saturate() -> None:
    ledger = ledger_with(1)
    for _ in range(300):
        ledger.outcome("provider", "s-0")
    result = account(ledger)
    assert result["duplicated"] == 1 and result["duplicate_records"] == 254


def test_no_send_fails() -> None:
    assert not account(Ledger())["ok"]
