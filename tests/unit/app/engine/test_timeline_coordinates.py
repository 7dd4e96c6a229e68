"""The consent timeline's coordinates under kills: every entry the stores hold points to
the very ``sms.consent`` record it describes, acknowledged (and committed, under
exactly-once), whatever step of the checkpoint the worker died after, with its state
kept or wiped; no entry is stored without its coordinates."""

from __future__ import annotations

import pytest

from app.engine.checkpoint import STEPS
from app.engine.driver import Driver, Killed
from app.engine.inputs import TP
from app.records import loads
from app.settings import Settings
from app.stream import timeline
from tests.unit.app.engine.scenario import NUMBERS, feed
from tests.unit.app.engine.test_checkpoint import run_with_kill


def histories(d: Driver) -> dict[bytes, dict]:
    """Every stored timeline (what the stores hold, not the engine's overlay)."""
    found = {}
    for store in d.stores.stores.values():
        def get(key: bytes, data: dict = store.data) -> object:
            raw = data.get(key)
            return None if raw is None else loads(raw)

        for key in store.data:
            if key.endswith(b"|history"):
                number, account = key.decode().split("|")[:2]
                found[key] = timeline.read_history(get, number, account)
    return found


def check_coordinates_of(d: Driver, entries: list[dict]) -> list[dict]:
    """Each entry points to the committed consent record it describes (those records)."""
    records = []
    for entry in entries:
        where = entry["consent"]
        assert where["partition"] is not None and where["offset"] is not None, entry
        stored = d.broker.logs[TP(d.settings.consent_topic, where["partition"])][where["offset"]]
        assert stored.status == "committed", (entry, stored.status)
        record = loads(stored.value)
        for name in ("message_id", "verdict", "intent", "body", "event_time", "processed_at"):
            assert record.get(name) == entry.get(name), (name, record, entry)
        records.append(record)
    return records


def check_coordinates(d: Driver) -> int:
    """Every entry points to its record; every consent record of a number is in its timeline."""
    topic = d.settings.consent_topic
    checked = 0
    in_timelines = set()
    for key, history in histories(d).items():
        number = key.decode().split("|")[0]
        for record in check_coordinates_of(d, history["events"]):
            assert record["number"] == number
            in_timelines.add((record["number"], record["message_id"], record["verdict"]))
            checked += 1
    logged = {(r["number"], r["message_id"], r["verdict"]) for r in d.read(topic)}
    assert logged == in_timelines
    return checked


async def test_a_clean_run_keeps_every_consent_record_in_the_timelines():
    d = Driver()
    feed(d, 0)
    await d.run()
    feed(d, 1)
    await d.run()
    assert check_coordinates(d) >= len(NUMBERS)


GUARANTEES = pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
WIPE = pytest.mark.parametrize("wipe", [False, True], ids=["state-kept", "state-wiped"])


@GUARANTEES
@WIPE
@pytest.mark.parametrize("nth", [1, 2])
@pytest.mark.parametrize("step", STEPS)
async def test_kill_after_each_checkpoint_step(step, nth, wipe, exactly_once):
    d, _, _ = await run_with_kill(step=step, nth=nth, wipe=wipe, exactly_once=exactly_once)
    assert check_coordinates(d) > 0


@GUARANTEES
@pytest.mark.parametrize("after_records", [0, 2, 5, 9, 14, 20, 27])
async def test_kill_while_handing_over_records(after_records, exactly_once):
    d, _, _ = await run_with_kill(after_records=after_records, wipe=False, exactly_once=exactly_once)
    assert check_coordinates(d) > 0


@GUARANTEES
@pytest.mark.parametrize("after_records", [1, 3, 7, 12, 18, 25, 33])
async def test_a_full_timeline_killed_while_handing_over_records_shows_each_event_once_in_order(
        after_records, exactly_once):
    """Timelines whose ring went round (20 events kept of 60): a kill part-way through the
    records of a checkpoint, the restart replays; every shown entry is its own committed
    record, each once, in processing order, the latest kept."""
    settings = Settings(kafka_bootstrap_servers="memory:0", partitions=4, input_partitions=2, commit_interval_ms=1,
                        progress_interval_ms=1, timeline_max_events=20)
    d = Driver(settings, exactly_once=exactly_once)
    number = NUMBERS[0]
    for i in range(40):
        d.reply(f"h-{i:03d}", number, "HELP")
    await d.run()
    for i in range(40, 60):
        d.reply(f"h-{i:03d}", number, "HELP")
    d.outputs.kill_after = after_records
    with pytest.raises(Killed):
        await d.run()
    d.kill()
    await d.run()
    (history,) = histories(d).values()
    ids = [e["message_id"] for e in history["events"]]
    assert len(ids) == 20 and ids == sorted(set(ids)) and ids[-1] == "h-059", ids
    assert history["left_out"] >= 40
    check_coordinates_of(d, history["events"])
