"""Consent semantics on a real broker: replies, log, ordering, operator and provider opt-outs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Collector, Topology, Worker, outbound_ids, produce
from tests.integration.test_pipeline import reply, send, wait_opted_out

pytestmark = pytest.mark.integration

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Worker]]:
    topology = Topology(kafka_bootstrap)
    keywords = Path(tmp_path_factory.mktemp("cfg")) / "keywords.toml"
    keywords.write_text('[accounts.acme]\nopt_out = ["basta"]\nopt_out_confirmation = "Acme: you are out."\n')
    worker = Worker(topology, Path(tmp_path_factory.mktemp("consent")),
                    extra_env={"OPTOUT_ADMIN_TOKEN": TOKEN, "OPTOUT_KEYWORDS_FILE": str(keywords)})
    worker.start()
    try:
        yield topology, worker
    finally:
        worker.stop()


def outputs(topology: Topology) -> list[str]:
    return [*topology.outputs, topology.consent, topology.review]


def compliance(collector: Collector, topology: Topology, number: str) -> list[dict]:
    return [r for r in collector.records[topology.provider] if r.get("category") == "compliance" and r["to"] == number]


def log_for(collector: Collector, topology: Topology, number: str) -> list[dict]:
    return [r for r in collector.records[topology.consent] if r["number"] == number]


async def test_exactly_one_confirmation_however_many_stops(live):
    topology, worker = live
    number = "+14155550201"
    stops = [reply(f"r-conf-{i}", number, body, received_at=f"2026-11-20T10:0{i}:00+00:00")
             for i, body in enumerate(["STOP", "stop", "Stop!", "STOP"])]
    same_partition = {"key": lambda r: number.encode()}  # upstream order is kept only within a partition
    await produce(topology.bootstrap, topology.inbound, stops, **same_partition)
    await produce(topology.bootstrap, topology.inbound, [stops[0]], **same_partition)  # an exact replay too
    async with Collector(topology.bootstrap, outputs(topology)) as out:
        await out.until(lambda c: len(log_for(c, topology, number)) >= 4)
        await out.settle(2.0)
        confirmations = compliance(out, topology, number)
        assert len(confirmations) == 1
        assert confirmations[0]["in_reply_to"] == "r-conf-0" and confirmations[0]["from"] == "+14155550000"
        logs = log_for(out, topology, number)
        assert [r["verdict"] for r in logs] == ["applied", "unchanged", "unchanged", "unchanged"]  # replay: not logged
        first = logs[0]
        assert first["intent"] == "opt_out" and first["source"] == "keyword" and first["matched"] == "stop"
        assert first["body"] == "STOP" and first["event_time"].startswith("2026-11-20T10:00:00")
        assert first["previous_state"] is None and first["new_state"] == "opted_out" and first["processed_at"]


async def test_help_after_opt_out_and_review_and_opt_in(live):
    topology, worker = live
    number = "+14155550202"
    await produce(topology.bootstrap, topology.inbound, [reply("r-h-1", number, "STOP",
                                                               received_at="2026-11-20T10:00:00+00:00")])
    await wait_opted_out(worker, number)
    await produce(topology.bootstrap, topology.inbound, [
        reply("r-h-2", number, "HELP", received_at="2026-11-20T10:01:00+00:00"),
        reply("r-h-3", number, "can you stop by tomorrow?", received_at="2026-11-20T10:02:00+00:00"),
    ], key=lambda r: number.encode())
    await produce(topology.bootstrap, topology.outbound, [send("s-h-1", number)])
    async with Collector(topology.bootstrap, outputs(topology)) as out:
        await out.until(lambda c: len(compliance(c, topology, number)) >= 2 and c.records[topology.review]
                        and "s-h-1" in outbound_ids(c, topology))
        help_text = [r for r in compliance(out, topology, number) if r["in_reply_to"] == "r-h-2"]
        assert len(help_text) == 1 and "STOP" in help_text[0]["body"]
        assert outbound_ids(out, topology)["s-h-1"] == ["suppressed:opted_out"]  # help does not opt back in
        (item,) = [r for r in out.records[topology.review] if r["number"] == number]
        assert item["message_id"] == "r-h-3" and item["deadline"].startswith("2026-12-04T10:02:00")
        await produce(topology.bootstrap, topology.inbound, [reply("r-h-4", number, "UNSTOP",
                                                                   received_at="2026-11-20T10:03:00+00:00")])
        await wait_opted_out(worker, number, expected=False)
        await out.until(lambda c: len(compliance(c, topology, number)) >= 3)
        assert "resubscribed" in compliance(out, topology, number)[-1]["body"]
        intents = [r["intent"] for r in log_for(out, topology, number)]
        assert intents == ["opt_out", "help", "review", "opt_in"]


async def test_per_account_scope_and_configured_keywords(live):
    topology, worker = live
    number = "+14155550203"
    await produce(topology.bootstrap, topology.inbound, [reply("r-s-1", number, "basta", account_id="acme")])
    body = await wait_opted_out(worker, number, account="acme")
    assert body["matched"] == "basta"
    await produce(topology.bootstrap, topology.outbound, [
        send("s-s-1", number, account_id="acme"), send("s-s-2", number, account_id="other-tenant"),
    ])
    async with Collector(topology.bootstrap, outputs(topology)) as out:
        await out.until(lambda c: {"s-s-1", "s-s-2"} <= set(outbound_ids(c, topology)))
        ids = outbound_ids(out, topology)
        assert ids["s-s-1"] == ["suppressed:opted_out"] and ids["s-s-2"] == ["provider"]
        assert compliance(out, topology, number)[0]["body"] == "Acme: you are out."


async def test_out_of_order_events_resolve_by_event_time(live):
    topology, worker = live
    number = "+14155550204"
    # START at 10:05 arrives first, then an older STOP from 10:00: the STOP must not win
    await produce(topology.bootstrap, topology.inbound, [
        reply("r-o-2", number, "START", received_at="2026-11-20T10:05:00+00:00"),
        reply("r-o-1", number, "STOP", received_at="2026-11-20T10:00:00+00:00"),
    ], key=lambda r: number.encode())
    async with Collector(topology.bootstrap, outputs(topology)) as out:
        await out.until(lambda c: len(log_for(c, topology, number)) >= 2)
        assert [r["verdict"] for r in log_for(out, topology, number)] == ["unchanged", "stale"]
        assert compliance(out, topology, number) == []
    status, body = worker.get(f"/optouts/{number}")
    assert status == 200 and body["opted_out"] is False


async def test_operator_opt_out_and_no_operator_opt_in(live):
    topology, worker = live
    number = "+14155550205"
    payload = {"number": "(415) 555-0205", "account_id": "default", "reason": "asked by phone",
               "requested_by": "agent@example.com"}
    assert worker.request("POST", "/optouts", payload, {"Content-Type": "application/json", "Authorization": None}
                          )[0] == 401
    assert worker.request("POST", "/optouts", payload)[0] == 403  # the viewer token reads, never acts
    assert worker.request("POST", "/optouts", payload, {"Authorization": "Bearer wrong"})[0] == 401
    status, error = worker.request("POST", "/optouts", {**payload, "number": "nope"}, AUTH)
    assert status == 400 and error["error"] == "invalid_number"
    status, error = worker.request("POST", "/optouts", {**payload, "opted_out": False}, AUTH)
    assert status == 400 and error["error"] == "invalid_request"
    status, error = worker.request("POST", "/optouts", b"{not json", AUTH)
    assert status == 400
    status, accepted = worker.request("POST", "/optouts", payload, AUTH)
    assert status == 202 and accepted["number"] == number and accepted["event_id"].startswith("operator-")
    state = await wait_opted_out(worker, number)
    assert state["source"] == "operator"

    # nothing an operator can call clears an opt-out
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        for path in (f"/optouts/{number}", f"/optouts/{number}?account=default"):
            status, error = worker.request(method, path, {"opted_out": False}, AUTH)
            assert status == 405 and error["error"] == "method_not_allowed", (method, path, status)
    for method in ("DELETE", "PUT", "PATCH"):
        status, error = worker.request(method, "/optouts", payload, AUTH)
        assert status == 405, (method, status)
    assert (await wait_opted_out(worker, number))["opted_out"] is True

    async with Collector(topology.bootstrap, outputs(topology)) as out:
        await out.until(lambda c: log_for(c, topology, number))
        (log,) = log_for(out, topology, number)
        assert log["source"] == "operator" and log["requested_by"] == "agent@example.com"
        assert log["reason"] == "asked by phone" and log["body"] is None
        assert compliance(out, topology, number) == []


async def test_provider_error_codes_are_opt_out_evidence(live):
    topology, worker = live
    receipts = [
        {"message_id": "p-1", "to": "+14155550206", "provider": "twilio", "status": "failed", "error_code": 21610},
        {"message_id": "p-2", "to": "+14155550207", "provider": "aws", "status": "failed",
         "error_code": "DESTINATION_PHONE_NUMBER_OPTED_OUT"},
        {"message_id": "p-3", "to": "+14155550208", "provider": "twilio", "status": "delivered", "error_code": None},
        {"message_id": "p-4", "to": "+14155550209", "provider": "twilio", "status": "failed", "error_code": 30003},
    ]
    await produce(topology.bootstrap, topology.status, receipts + [b"not json"])
    for number in ("+14155550206", "+14155550207"):
        assert (await wait_opted_out(worker, number))["source"] == "provider"
    for number in ("+14155550208", "+14155550209"):
        assert worker.get(f"/optouts/{number}")[1]["opted_out"] is False
    async with Collector(topology.bootstrap, outputs(topology)) as out:
        await out.until(lambda c: any(r["source_topic"] == topology.status for r in c.records[topology.deadletter]))
        log = log_for(out, topology, "+14155550206")
        assert log[0]["rule"] == "twilio:21610" and log[0]["provider"] == "twilio"


def test_operator_endpoint_is_forbidden_without_a_configured_token(topology, workers, tmp_path):
    worker = Worker(topology, tmp_path / "w")
    workers.append(worker.start())
    status, error = worker.request("POST", "/optouts", {"number": "+14155550210", "reason": "x", "requested_by": "y"},
                                   AUTH)
    assert status == 403 and "OPTOUT_ADMIN_TOKEN" in error["detail"]


async def test_global_scope_one_stop_silences_every_account(topology, workers, tmp_path):
    worker = Worker(topology, tmp_path / "w", extra_env={"OPTOUT_SCOPE": "global"})
    workers.append(worker.start())
    number = "+14155550211"
    await produce(topology.bootstrap, topology.inbound, [reply("r-g-1", number, "STOP", account_id="tenant-a")])
    await wait_opted_out(worker, number, account="tenant-b")
    await produce(topology.bootstrap, topology.outbound,
                  [send("s-g-1", number, account_id="tenant-a"), send("s-g-2", number, account_id="tenant-b")])
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: {"s-g-1", "s-g-2"} <= set(outbound_ids(c, topology)))
        ids = outbound_ids(out, topology)
        assert ids["s-g-1"] == ids["s-g-2"] == ["suppressed:opted_out"]
