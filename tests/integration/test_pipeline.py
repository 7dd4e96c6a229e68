"""End to end on a real broker and a real worker: the decisions and the accounting."""

from __future__ import annotations

import json
import random
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Collector, Topology, Worker, outbound_ids, produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Worker]]:
    """One worker shared by this module's tests; each test uses its own numbers."""
    topology = Topology(kafka_bootstrap)
    worker = Worker(topology, Path(tmp_path_factory.mktemp("live")))
    worker.start()
    try:
        yield topology, worker
    finally:
        worker.stop()


def reply(mid: str, number: str, body: str, **extra) -> dict:
    return {"message_id": mid, "from": number, "to": "+14155550000", "body": body, **extra}


def send(mid: str, number: str | None, body: str = "Your order shipped", **extra) -> dict:
    return {"message_id": mid, "to": number, "from": "+14155550000", "body": body, **extra}


async def wait_opted_out(worker: Worker, number: str, expected: bool = True, account: str = "default") -> dict:
    """Poll the lookup endpoint until the number's state is what we expect."""
    import asyncio

    path = f"/optouts/{urllib.parse.quote(number)}?account={account}"
    for _ in range(240):
        status, body = worker.get(path)
        if status == 200 and body["opted_out"] is expected:
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"{number} never became opted_out={expected}: last {status} {body}")


async def test_stop_then_send_is_suppressed_and_start_delivers_again(live):
    topology, worker = live
    number = "+14155550101"
    await produce(topology.bootstrap, topology.inbound, [reply("r-stop-1", number, "STOP")])
    state = await wait_opted_out(worker, number)
    assert state["number"] == number and state["changed_at"]

    await produce(topology.bootstrap, topology.outbound, [send("s-after-stop-1", number)])
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: "s-after-stop-1" in outbound_ids(c, topology))
        suppressed = [r for r in out.records[topology.suppressed] if r["message"]["message_id"] == "s-after-stop-1"]
        assert len(suppressed) == 1
        assert suppressed[0]["reason"] == "opted_out"
        assert suppressed[0]["opted_out_at"] is not None
        assert suppressed[0]["message"] == send("s-after-stop-1", number)  # untouched

        await produce(topology.bootstrap, topology.inbound, [reply("r-start-1", number, "  start! ")])
        await wait_opted_out(worker, number, expected=False)
        await produce(topology.bootstrap, topology.outbound, [send("s-after-start-1", "(415) 555-0101", campaign="x")])
        await out.until(lambda c: "s-after-start-1" in outbound_ids(c, topology))
        delivered = [r for r in out.records[topology.provider] if r["message_id"] == "s-after-start-1"]
        assert delivered == [send("s-after-start-1", number, campaign="x")]  # `to` in E.164, extras kept


async def test_national_format_matches_e164_opt_out(live):
    topology, worker = live
    await produce(topology.bootstrap, topology.inbound, [reply("r-nat-1", "+14155550102", "stop")])
    await wait_opted_out(worker, "(415) 555-0102")
    # and the other way round: a STOP from a national-format sender
    await produce(topology.bootstrap, topology.inbound, [reply("r-nat-2", "415.555.0103", "Unsubscribe")])
    await wait_opted_out(worker, "+14155550103")
    await produce(
        topology.bootstrap,
        topology.outbound,
        [send("s-nat-1", "(415) 555-0102"), send("s-nat-2", "+1 415 555 0103"), send("s-nat-3", "4155550103")],
    )
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: {"s-nat-1", "s-nat-2", "s-nat-3"} <= set(outbound_ids(c, topology)))
        ids = outbound_ids(out, topology)
        assert ids["s-nat-1"] == ids["s-nat-2"] == ids["s-nat-3"] == ["suppressed:opted_out"]


async def test_no_phone_and_invalid_numbers_are_suppressed(live):
    topology, _ = live
    requests = [
        send("s-nophone-null", None),
        send("s-nophone-empty", "   "),
        {"message_id": "s-nophone-missing", "body": "hi"},
        send("s-invalid-short", "12345"),
        send("s-invalid-text", "call me maybe"),
        send("s-invalid-unassigned", "+1 555 000 0000"),
    ]
    await produce(topology.bootstrap, topology.outbound, requests)
    async with Collector(topology.bootstrap, topology.outputs) as out:
        wanted = {r["message_id"] for r in requests}
        await out.until(lambda c: wanted <= set(outbound_ids(c, topology)))
        ids = outbound_ids(out, topology)
    assert ids["s-nophone-null"] == ids["s-nophone-empty"] == ids["s-nophone-missing"] == ["suppressed:no_phone"]
    assert ids["s-invalid-short"] == ids["s-invalid-text"] == ids["s-invalid-unassigned"] == [
        "suppressed:invalid_number"
    ]


async def test_lookups_do_not_depend_on_upstream_keys_or_partitions(live):
    """STOPs and sends produced unkeyed, mis-keyed and to random partitions."""
    topology, worker = live
    rng = random.Random(7)
    stopped = [f"+1212555{n:04d}" for n in range(1000, 1030)]
    allowed = [f"+1212555{n:04d}" for n in range(2000, 2010)]
    styles = [
        {},  # unkeyed
        {"key": lambda r: b"not-the-number-" + str(rng.random()).encode()},  # mis-keyed
        {"partition": lambda r: rng.randrange(topology.input_partitions)},  # explicit random partition
    ]
    for i, style in enumerate(styles):
        group = stopped[i::3]
        await produce(topology.bootstrap, topology.inbound, [reply(f"r-key-{n}", n, "STOP") for n in group], **style)
    for number in stopped:
        await wait_opted_out(worker, number)
    sends = [send(f"s-key-{n}-{i}", n) for n in stopped + allowed for i in range(2)]
    for i, style in enumerate(styles):
        # sends keyed by a *national* format of the number, which is not what the table holds
        await produce(topology.bootstrap, topology.outbound, sends[i::3], **style)
    await produce(
        topology.bootstrap,
        topology.outbound,
        [send("s-key-national", "(212) 555-1000")],
        key=lambda r: b"(212) 555-1000",
    )
    async with Collector(topology.bootstrap, topology.outputs) as out:
        wanted = {s["message_id"] for s in sends} | {"s-key-national"}
        await out.until(lambda c: wanted <= set(outbound_ids(c, topology)))
        await out.settle(1.0)
        ids = outbound_ids(out, topology)
    for s in sends:
        expected = ["suppressed:opted_out"] if s["to"] in stopped else ["provider"]
        assert ids[s["message_id"]] == expected, s
    assert ids["s-key-national"] == ["suppressed:opted_out"]


MALFORMED: list[tuple[bytes | None, str]] = [
    (b"STOP", "not valid JSON"),
    (b'["a", "list"]', "expected a JSON object"),
    (b'{"message_id": "m-nobody", "from": "+14155550104"}', "body"),
    (b'{"message_id": "m-nofrom", "body": "STOP"}', "from"),
    (b'{"message_id": "m-badfrom", "from": "not a number", "body": "STOP"}', "from"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
]
# replies whose metadata is malformed are not lost: processed, the coercion in the consent record (issue 8)
COERCED: list[bytes] = [
    b'{"message_id": 17, "from": "+14155550171", "body": "STOP"}',
    b'{"message_id": "m-badtime", "from": "+14155550171", "body": "STOP", "received_at": "yesterday"}',
    json.dumps({"message_id": "m-long", "from": "+14155550171", "body": "stop " + "x" * 5000}).encode(),
]


async def test_malformed_records_are_dead_lettered_with_original_bytes(live):
    topology, worker = live
    await produce(topology.bootstrap, topology.inbound, [payload for payload, _ in MALFORMED] + COERCED)
    bad_sends = [
        b"{not json",
        b'{"message_id": "m-s-notext", "to": "+14155550105", "body": 42}',
        b'{"message_id": "m-s-badto", "to": 14155550105, "body": "hi"}',
        b'{"to": "+14155550105", "body": "no id"}',
        b"",
    ]
    await produce(topology.bootstrap, topology.outbound, bad_sends)
    # the worker keeps going: a good record after the bad ones is processed
    await produce(topology.bootstrap, topology.outbound, [send("s-after-garbage", "+14155550106")])
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(
            lambda c: "s-after-garbage" in outbound_ids(c, topology)
            and len(c.records[topology.deadletter]) >= len(MALFORMED) + len(bad_sends)
        )
        dead = out.records[topology.deadletter]
    by_payload = {}
    for record in dead:
        raw = (
            record["payload"].encode()
            if record["payload_encoding"] == "utf-8"
            else __import__("base64").b64decode(record["payload"])
        )
        by_payload[raw] = record
    for payload, reason in MALFORMED:
        record = by_payload[payload]
        assert record["source_topic"] == topology.inbound
        assert reason in record["error"], (reason, record["error"])
        assert isinstance(record["offset"], int) and isinstance(record["partition"], int) and record["at"]
    assert by_payload[b"\xff\xfe\x00garbage"]["payload_encoding"] == "base64"
    assert not [payload for payload in COERCED if payload in by_payload]
    await wait_opted_out(worker, "+14155550171")
    for payload in bad_sends:
        assert by_payload[payload]["source_topic"] == topology.outbound
    assert worker.get("/health")[0] == 200


async def test_every_send_is_accounted_for_exactly_once(live):
    topology, worker = live
    rng = random.Random(11)
    stopped = [f"+1312555{n:04d}" for n in range(1000, 1020)]
    await produce(topology.bootstrap, topology.inbound, [reply(f"r-acc-{n}", n, "QUIT") for n in stopped])
    for number in stopped:
        await wait_opted_out(worker, number)
    pool = stopped + [f"+1312555{n:04d}" for n in range(3000, 3040)] + [None, "", "555", "+999 1"]
    sends = [send(f"s-acc-{i}", rng.choice(pool)) for i in range(600)]
    sends += [f"garbage-{i}".encode() for i in range(5)]
    rng.shuffle(sends)
    await produce(topology.bootstrap, topology.outbound, sends, partition=lambda r: rng.randrange(3))
    async with Collector(topology.bootstrap, topology.outputs) as out:
        want = {s["message_id"] for s in sends if isinstance(s, dict)}
        await out.until(
            lambda c: want <= set(outbound_ids(c, topology))
            and sum(1 for r in c.records[topology.deadletter] if r["payload"].startswith("garbage-")) >= 5
        )
        await out.settle(2.0)
        ids = outbound_ids(out, topology)
    for s in sends:
        if isinstance(s, bytes):  # not JSON: dead-lettered exactly once, with its bytes
            letters = [r for r in out.records[topology.deadletter] if r["payload"] == s.decode()]
            assert len(letters) == 1 and letters[0]["source_topic"] == topology.outbound, (s, letters)
            assert letters[0]["error"].startswith("not valid JSON"), letters[0]
            continue
        outcome = ids[s["message_id"]]
        assert len(outcome) == 1, (s, outcome)
        if s["to"] in stopped:
            assert outcome == ["suppressed:opted_out"]
        elif s["to"] in (None, ""):
            assert outcome == ["suppressed:no_phone"]
        elif s["to"] in ("555", "+999 1"):
            assert outcome == ["suppressed:invalid_number"]
        else:
            assert outcome == ["provider"]
    garbage = [r for r in out.records[topology.deadletter] if r["payload"].startswith("garbage-")]
    assert sorted(r["payload"] for r in garbage) == sorted(s.decode() for s in sends if isinstance(s, bytes))


async def test_web_lookup_stats_and_no_table_endpoint(live):
    topology, worker = live
    await produce(topology.bootstrap, topology.inbound, [reply("r-web-1", "+14155550107", "End.")])
    body = await wait_opted_out(worker, "4155550107")
    assert body["number"] == "+14155550107" and body["account_id"] == "default"
    assert body["source"] == "keyword" and body["matched"] == "end" and body["message_id"] == "r-web-1"
    status, other = worker.get("/optouts/%2B14155550107?account=another-tenant")
    assert status == 200 and other["opted_out"] is False and other["changed_at"] is None
    status, error = worker.get("/optouts/not-a-number")
    assert status == 400 and error["error"] == "invalid_number"
    status, stats = worker.get("/stats?scope=worker")
    assert status == 200
    assert stats["opt_outs"] >= 1 and set(stats["suppressed"]) == {"opted_out", "no_phone", "invalid_number"}
    assert {"forwarded", "dead_lettered", "opt_ins"} <= set(stats)
    status, error = worker.get("/table/optouts/")
    assert status == 404 and error["error"] == "not_found"  # Faust's table endpoint is off; errors are JSON


async def test_dead_letters_of_near_limit_records_fit_and_nothing_stalls(live):
    """0.9 MiB of control bytes, or of binary: the dead letter keeps a prefix, the size and
    the SHA-256 (the original, JSON-escaped, would be over the broker's 1 MiB limit);
    the sends behind them are decided."""
    import hashlib
    import os

    topology, worker = live
    control = b"\x01\x00" * int(0.45 * 1024 * 1024)
    binary = os.urandom(int(0.9 * 1024 * 1024))
    await produce(topology.bootstrap, topology.outbound, [control], partition=lambda r: 0)
    await produce(topology.bootstrap, topology.inbound, [binary], partition=lambda r: 0)
    after = [send("s-after-big", "+13125559000")]
    await produce(topology.bootstrap, topology.outbound, after, partition=lambda r: 0)
    async with Collector(topology.bootstrap, topology.outputs) as out:
        def letters(c):
            return [r for r in c.records[topology.deadletter] if r.get("payload_truncated")]

        await out.until(lambda c: len(letters(c)) >= 2 and "s-after-big" in outbound_ids(c, topology))
        by_hash = {r["payload_sha256"]: r for r in letters(out)}
    for original, topic in ((control, topology.outbound), (binary, topology.inbound)):
        record = by_hash[hashlib.sha256(original).hexdigest()]
        assert record["payload_size"] == len(original) and record["source_topic"] == topic
    assert worker.get("/health")[0] == 200
