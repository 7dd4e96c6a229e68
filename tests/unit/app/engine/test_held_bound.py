"""Sends held for their replies are bounded in memory: at ``max_held_sends`` the worker stops
reading its send partitions, and reads them again at half of it; nothing is lost, nothing is
decided before its replies, and a send partition paused this way is not called stalled.
(Found in the bench with 8 partitions and random keys: 648 MiB holding a 200,000-send backlog.)"""

from __future__ import annotations

import pytest

from app.engine.driver import Driver
from app.engine.inputs import TP
from app.records import loads
from app.settings import Settings
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from tests.unit.app.engine.scenario import outcomes

LIMIT = 100
NUMBERS = [f"+1415556{n:04d}" for n in range(1000, 1060)]
LAYOUTS = pytest.mark.parametrize(("exactly_once", "in_place"), [(False, False), (True, False), (True, True)],
                                  ids=["at-least-once", "exactly-once-routed", "exactly-once-in-place"])


def driver(exactly_once: bool, in_place: bool) -> Driver:
    # in place: the send topic partitioned as the table (4 and 4), sends keyed on their number's partition
    settings = Settings(kafka_bootstrap_servers="memory:0", partitions=4, input_partitions=4 if in_place else 2,
                        commit_interval_ms=1, progress_interval_ms=1, max_held_sends=LIMIT)
    return Driver(settings, exactly_once=exactly_once)


def routed_sends(d: Driver) -> int:
    s = d.settings
    return sum(1 for p in range(s.partitions) for r in d.broker.logs[TP(s.routed_topic, p)]
               if r.value is not None and loads(r.value).get("kind") == Kind.SEND)


@pytest.mark.parametrize("kill", [None, "state-kept", "state-wiped"])
@LAYOUTS
async def test_a_stalled_reply_partition_holds_at_most_the_bound_and_loses_nothing(exactly_once, in_place,
                                                                                  kill) -> None:
    d = driver(exactly_once, in_place)
    await d.start()
    await d.run()
    s = d.settings
    stalled = TP(s.inbound_topic, 1)
    d.source.pause({stalled})  # its router does not route it: every later send is held (fail closed)
    d.reply("r0", NUMBERS[0], "STOP", partition=1)
    parts = s.input_partitions
    for i in range(1000):
        number = NUMBERS[i % len(NUMBERS)]
        d.send(f"s{i}", number, partition=partition_for(number, parts) if in_place else i % parts)
    most = 0
    for _ in range(60):
        await d.steps(1)
        most = max(most, d.processor.in_memory_count())
    sent = outcomes(d)["sends"]
    assert not sent, "a send was decided before the STOP on the stalled partition was routed"
    # at most one fetch past the bound (this driver: 50 records a partition and fetch)
    assert LIMIT <= most <= LIMIT + d.max_records * parts
    assert d.loop.held_back and {TP(s.outbound_topic, p) for p in range(parts)} <= d.source.paused
    d.clock.advance(s.stall_ms + 1)
    problems = " ".join(d.loop.health()["problems"])
    assert "held" in problems and s.inbound_topic + "[1]" in problems  # said once, by the held sends' line
    assert s.outbound_topic not in problems  # paused on purpose: not "records waiting that do not move"

    if kill:
        # killed while its send partitions are paused: the next start reads again what was routed
        # (the routed partitions are always read) and pauses again. (What it routes while its
        # table partitions recover, before it reads any of them, is not bounded by this.)
        d.kill(wipe_state=kill == "state-wiped")
        await d.start()
        d.source.pause({stalled})
        most = 0
        for _ in range(60):
            await d.steps(1)
            most = max(most, d.processor.in_memory_count())
        assert not outcomes(d)["sends"] and d.loop.held_back
        assert LIMIT <= most <= routed_sends(d) + d.max_records * parts
        assert d.processor.in_memory_count() == most  # and stays there: nothing more is read

    d.source.resume({stalled})
    await d.run()
    sent = dict(outcomes(d)["sends"])
    opted_out = {f"s{i}" for i in range(0, 1000, len(NUMBERS))}
    assert set(sent) == {f"s{i}={'opted_out' if f's{i}' in opted_out else 'provider'}" for i in range(1000)}
    if exactly_once:
        assert set(sent.values()) == {1}  # every send decided once
    assert not d.loop.held_back and not (d.source.paused & {TP(s.outbound_topic, p) for p in range(parts)})
    assert d.processor.in_memory_count() == 0
