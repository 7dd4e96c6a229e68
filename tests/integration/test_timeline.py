"""The consent timeline on a real broker: GET /optouts/{number}/history lists every consent
event with its coordinates in sms.consent, and the records read back at those coordinates
are those events (also after a worker is killed with SIGKILL in the middle of a burst);
the evidence packet of a number holds them."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.integration.harness import VIEWER_TOKEN, Collector, Worker, outbound_ids, produce
from tests.integration.test_pipeline import reply, send, wait_opted_out

pytestmark = pytest.mark.integration


async def consent_log(bootstrap: str, topic: str) -> dict[tuple[int, int], dict]:
    """Every committed record of ``topic`` by (partition, offset)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        for _ in range(50):
            if parts:
                break
            await asyncio.sleep(0.2)
            parts = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[tuple[int, int], dict] = {}
        for _ in range(120):
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            for tp, messages in batch.items():
                for m in messages:
                    out[(tp.partition, m.offset)] = json.loads(m.value)
            if not batch and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                break
        return out
    finally:
        await consumer.stop()


def history(worker: Worker, number: str, account: str = "default", as_of: str | None = None) -> dict:
    query = {"account": account, **({"as_of": as_of} if as_of else {})}
    status, body = worker.get(f"/optouts/{urllib.parse.quote(number)}/history?{urllib.parse.urlencode(query)}")
    assert status == 200, (status, body)
    return body


async def wait_events(worker: Worker, number: str, count: int) -> dict:
    for _ in range(240):
        body = history(worker, number)
        if len(body["events"]) >= count:
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"{number}: {len(body['events'])} events, not {count}")


def check_against_log(body: dict, log: dict[tuple[int, int], dict]) -> None:
    for event in body["events"]:
        where = (event["consent"]["partition"], event["consent"]["offset"])
        assert where in log, f"no committed sms.consent record at {where} for {event['message_id']}"
        record = log[where]
        assert record["number"] == body["number"]
        for name in ("message_id", "body", "verdict", "intent", "source", "event_time", "processed_at"):
            assert record.get(name) == event.get(name), (name, record, event)


async def test_the_timeline_lists_every_consent_event_where_it_is_in_the_log(topology, workers, tmp_path):
    worker = Worker(topology, tmp_path / "w")
    workers.append(worker.start())
    number = "+14155550911"
    await produce(topology.bootstrap, topology.inbound, [reply("tl-1", number, "STOP")])
    await wait_opted_out(worker, number)
    await produce(topology.bootstrap, topology.outbound, [send("tl-s1", number), send("tl-s2", number)])
    await produce(topology.bootstrap, topology.inbound, [reply("tl-2", number, "HELP")])
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: {"tl-s1", "tl-s2"} <= set(outbound_ids(c, topology)))
    await produce(topology.bootstrap, topology.inbound, [reply("tl-3", number, "START")])
    await wait_opted_out(worker, number, expected=False)
    await produce(topology.bootstrap, topology.inbound, [reply("tl-4", number, "Please stop texting me")])
    await wait_opted_out(worker, number)
    await produce(topology.bootstrap, topology.outbound, [send("tl-s3", number)])
    async with Collector(topology.bootstrap, topology.outputs) as out:
        await out.until(lambda c: "tl-s3" in outbound_ids(c, topology))
        assert outbound_ids(out, topology)["tl-s3"] == ["suppressed:opted_out"]

    body = await wait_events(worker, number, 4)
    for _ in range(40):  # the counter is stored with the checkpoint after the send
        if body["suppressed_since_opt_out"] == 1:
            break
        await asyncio.sleep(0.25)
        body = history(worker, number)
    assert body["suppressed_since_opt_out"] == 1  # tl-s3; tl-s1 and tl-s2 were before the latest opt-out
    events = body["events"]
    assert [(e["message_id"], e["intent"], e["verdict"]) for e in events] == [
        ("tl-1", "opt_out", "applied"), ("tl-2", "help", "logged"), ("tl-3", "opt_in", "applied"),
        ("tl-4", "opt_out", "applied")]
    assert [e["confirmation_message_id"] for e in events] == ["tl-1:opt-out", "tl-2:help", "tl-3:opt-in",
                                                             "tl-4:opt-out"]
    assert events[3]["source"] == "phrase" and events[3]["body"] == "Please stop texting me"
    assert events[0]["to"] == "+14155550000" and events[0]["keywords_id"].startswith("kw-")
    assert body["state"]["opted_out"] is True and body["state"]["message_id"] == "tl-4"
    check_against_log(body, await consent_log(topology.bootstrap, topology.consent))

    # as_of: between the first STOP and the START, the number was opted out
    between = datetime.fromisoformat(events[0]["event_time"]) + timedelta(milliseconds=1)
    then = history(worker, number, as_of=between.isoformat())
    assert then["state"]["opted_out"] is True and then["state"]["message_id"] == "tl-1"
    assert [e["message_id"] for e in then["events"]] == ["tl-1"]

    # the evidence packet of the number holds the same events
    req = urllib.request.Request(f"{worker.url}/evidence?number={urllib.parse.quote(number)}",
                                 headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(resp.read()))
    packed = json.loads(archive.read("evidence/timeline.json"))["timelines"][0]
    assert [e["consent"] for e in packed["events"]] == [e["consent"] for e in events]
    keywords = json.loads(archive.read("evidence/keywords.json"))["keyword_lists"]
    assert all(v["known"] for v in keywords.values()) and events[0]["keywords_id"] in keywords


async def test_after_a_sigkill_every_entry_points_to_its_committed_record(topology, workers, tmp_path):
    numbers = [f"+1415555{n:04d}" for n in range(920, 940)]
    worker = Worker(topology, tmp_path / "k")
    workers.append(worker.start())
    replies = [reply(f"kl-{i}-{n}", n, ("STOP", "START")[i % 2]) for i in range(12) for n in numbers]
    await produce(topology.bootstrap, topology.inbound, replies)
    await asyncio.sleep(0.4)
    worker.kill()  # SIGKILL in the middle of the burst
    workers.append(worker.start())
    await produce(topology.bootstrap, topology.inbound, [reply(f"kl-last-{n}", n, "STOP") for n in numbers])
    for number in numbers:
        body = await wait_events(worker, number, 13)
    log = await consent_log(topology.bootstrap, topology.consent)
    logged = defaultdict(set)
    for record in log.values():
        logged[record["number"]].add((record["message_id"], record["verdict"]))
    for number in numbers:
        body = history(worker, number)
        check_against_log(body, log)
        assert {(e["message_id"], e["verdict"]) for e in body["events"]} == logged[number]
        assert body["state"]["opted_out"] is True


ADMIN_TOKEN = "timeline-admin-token-20"


async def test_either_of_two_workers_answers_every_timeline_and_a_period_packet_holds_every_number(
        topology, workers, tmp_path):
    admin = {"OPTOUT_ADMIN_TOKEN": ADMIN_TOKEN}  # a period's packet holds whole numbers: the admin's only
    first = Worker(topology, tmp_path / "a", extra_env=admin)
    workers.append(first.start())
    second = Worker(topology, tmp_path / "b", extra_env=admin)
    workers.append(second.start())
    numbers = [f"+1718555{n:04d}" for n in range(3100, 3116)]
    await produce(topology.bootstrap, topology.inbound, [reply(f"tw-{n}", n, "STOP") for n in numbers])
    for number in numbers:
        await wait_events(first, number, 1)
    log = await consent_log(topology.bootstrap, topology.consent)
    for number in numbers:
        answers = [history(w, number) for w in (first, second)]
        assert answers[0] == answers[1]
        check_against_log(answers[0], log)
        assert [e["message_id"] for e in answers[0]["events"]] == [f"tw-{number}"]
    since = min(datetime.fromisoformat(history(first, n)["events"][0]["event_time"]) for n in numbers)
    query = urllib.parse.urlencode({"since": (since - timedelta(seconds=1)).isoformat(),
                                    "until": (since + timedelta(minutes=10)).isoformat()})
    for worker in (first, second):
        viewer = urllib.request.Request(f"{worker.url}/evidence?{query}",
                                        headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(viewer, timeout=60)
        assert refused.value.code == 403
        req = urllib.request.Request(f"{worker.url}/evidence?{query}",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            archive = zipfile.ZipFile(io.BytesIO(resp.read()))
        packed = json.loads(archive.read("evidence/timeline.json"))["timelines"]
        assert {t["number"] for t in packed} == set(numbers)  # the topology's numbers only: its own topics
        manifest = json.loads(archive.read("evidence/manifest.json"))
        assert manifest["numbers"] == len(numbers)
