"""No STOP bypassed when clocks disagree or the broker misbehaves: one regression test per
hole found from outside (``shared/repro/engine/``), each failing on the clock-based gate.

The rule each checks: a send produced after its number's STOP was acknowledged never
reaches the provider, whatever the clocks, the seeks, the changelog reads or the owners do.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.engine.driver import Driver, Killed, MemoryChangelog, MemoryOutputs
from app.engine.inputs import TP
from app.engine.loop import FENCED_LIVENESS_MS
from app.records import dumps
from app.settings import Settings
from app.stream.partitioner import partition_for
from app.stream.router import Router
from tests.unit.app.engine.scenario import outcomes

A = "+14155550101"
B = "+14155550103"
GUARANTEES = pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])


def sends(d: Driver) -> dict[str, int]:
    return dict(outcomes(d)["sends"])


# ---------------------------------------------------------------- 1. gate_clock


@pytest.mark.parametrize(("worker_skew_ms", "create_time_ms"), [
    (5_000, 0), (-5_000, 0), (3_600_000, 0), (0, -60_000), (0, 60_000), (-5_000, -60_000),
], ids=["worker-5s-ahead", "worker-5s-behind", "worker-1h-ahead", "send-stamped-60s-past",
        "send-stamped-60s-future", "both"])
async def test_gate_clock_no_clock_opens_the_gate(worker_skew_ms: int, create_time_ms: int) -> None:
    """The reply router lags a little; the STOP is acknowledged, then a send is produced with
    a CreateTime its producer chose; the worker's clock is skewed. The send is held until the
    STOP is routed, then suppressed."""
    d = Driver()
    await d.start()
    skewed = lambda: d.clock.ms() + worker_skew_ms  # noqa: E731
    d.processor.clock_ms = skewed
    d.processor.router.clock_ms = skewed
    d.loop.clock_ms = skewed
    await d.run()
    inbound0 = TP(d.settings.inbound_topic, 0)
    d.source.pause({inbound0})  # the router of sms.inbound[0] is a few ms behind
    d.reply("r1", A, "STOP", partition=0)  # acknowledged
    d.clock.advance(10)
    d.send("s1", A, timestamp_ms=d.clock.ms() + create_time_ms)  # produced 10 ms after the STOP's ack
    await d.steps(20)
    assert sends(d) == {}, "decided while the acknowledged STOP was not routed"
    d.source.resume({inbound0})
    await d.run()
    assert sends(d) == {"s1=opted_out": 1}


# ---------------------------------------------------------------- 2. false_progress_race


async def test_false_progress_race_a_fetch_that_moved_the_position_is_no_progress() -> None:
    """A reply partition just (re)assigned; its fetched batch (holding the STOP) waits while a
    progress snapshot is taken: the consumer's position moved, nothing is routed yet."""
    d = Driver()
    await d.start()
    await d.run()
    s = d.settings
    await d.rebalance(set(d.source.assignment()))  # sms.inbound[0] among the partitions (re)assigned
    await d.steps(3)  # the table partitions recovered
    d.reply("r1", A, "STOP", partition=0)
    d.clock.advance(5)
    # another worker routes a send produced 5 ms after the STOP's acknowledgement
    d.send("s1", A, partition=1)
    p = partition_for(A, s.partitions)
    d.broker.append(s.routed_topic, p, A.encode(), dumps({
        "kind": "send", "number": A, "account_id": "default",
        "message": {"message_id": "s1", "to": A, "body": "hello"},
        "requested_at_ms": d.clock.ms(), "origin": [s.outbound_topic, 1, d.broker.end(TP(s.outbound_topic, 1)) - 1]}),
        d.clock.ms())
    d.broker.committed[TP(s.outbound_topic, 1)] = d.broker.end(TP(s.outbound_topic, 1))
    d.source.during_fetch = d.snapshot  # a snapshot while the fetched batch waits
    await d.run()
    assert sends(d) == {"s1=opted_out": 1}
    assert outcomes(d)["consent"] == {"r1=applied": 1}


# ---------------------------------------------------------------- 3. recovery_short_read


class ShortReads(MemoryChangelog):
    """A changelog whose reads come back empty the first ``short`` times (a slow leader:
    KafkaChangelog.read gives up after 4 s of empty polls)."""

    short = 0

    async def read(self, partition: int, start: int, end: int):  # type: ignore[no-untyped-def]
        if ShortReads.short > 0:
            ShortReads.short -= 1
            return [], start
        return await super().read(partition, start, end)


@GUARANTEES
@pytest.mark.parametrize("wipe", [False, True], ids=["store-kept", "store-wiped"])
async def test_recovery_short_read_never_opens_a_partition_short(exactly_once: bool, wipe: bool) -> None:
    d = Driver(exactly_once=exactly_once)
    await d.start()
    await d.run()
    d.reply("r1", A, "STOP")
    await d.loop.step()  # routed
    d.kill_at_step = "offsets_committed"
    with pytest.raises(Killed):
        for _ in range(5):
            await d.loop.step()  # decided: outputs, changelog, offsets ... killed before the store
    d.kill(wipe_state=wipe)
    d.changelog_type = ShortReads
    ShortReads.short = 30  # empty reads for a while
    await d.start()
    await d.steps(10)
    partition = partition_for(A, d.settings.partitions)
    assert partition in d.loop.recovering, "opened short"
    problems = " ".join(d.loop.health()["problems"])
    assert f"partition {partition} stays closed until its changelog is read to the end" in problems
    d.clock.advance(1000)
    d.send("s1", A)  # held while the partition is closed
    await d.steps(5)
    assert sends(d) == {}
    await d.run()
    assert sends(d) == {"s1=opted_out": 1} and d.state(A)["opted_out"] is True
    assert not d.loop.recovery_problems


# ---------------------------------------------------------------- 4. rewind_stale_batch


@GUARANTEES
async def test_rewind_stale_batch_is_never_processed_after_a_failed_seek(exactly_once: bool) -> None:
    d = Driver(exactly_once=exactly_once)
    await d.start()
    await d.run()
    real_seek = d.source.seek_to_committed
    failures = {"left": 0}

    async def seek(tps):  # type: ignore[no-untyped-def]
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("coordinator not available")
        await real_seek(tps)

    d.source.seek_to_committed = seek  # type: ignore[method-assign]
    d.reply("r1", A, "STOP", partition=0)  # sms.inbound[0]@0
    d.outputs.refuse = RuntimeError("broker refuses the produce")
    failures["left"] = 1
    await d.loop.step()  # the STOP fetched, its output refused, the rewind's seek fails
    assert d.loop.dirty
    d.outputs.refuse = None
    d.reply("r2", A, "HELP", partition=0)  # sms.inbound[0]@1: fetched from the stale position
    await d.loop.step()
    await d.run()
    d.clock.advance(1000)
    d.send("s1", A)
    await d.run()
    out = outcomes(d)
    assert out["consent"] == {"r1=applied": 1, "r2=logged": 1}
    assert sends(d) == {"s1=opted_out": 1} and d.stats.counts.get("replays_skipped", 0) == 0


# ---------------------------------------------------------------- 5. new_partition


async def test_new_partition_a_reply_partition_added_while_running_holds_sends() -> None:
    d = Driver()
    await d.start()
    await d.run()
    s = d.settings
    d.broker.create(s.inbound_topic, 3)  # an operator adds sms.inbound[2]
    new = TP(s.inbound_topic, 2)
    d.source.assigned.add(new)  # the rebalance gives it to a router ...
    d.source.pause({new})  # ... that has not routed it yet
    d.reply("r1", A, "STOP", partition=2)
    d.clock.advance(1000)
    d.send("s1", A, partition=0)  # produced 1 s after the STOP's acknowledgement
    await d.steps(20)
    assert sends(d) == {} and d.processor.held_count() == 1
    d.clock.advance(d.settings.stall_ms + 1)  # held past the stall limit: health names the partition
    assert "sms.inbound[2] (1 record(s) not routed)" in " ".join(d.loop.health()["problems"])
    d.source.resume({new})
    await d.run()
    assert sends(d) == {"s1=opted_out": 1}


async def test_a_partition_nobody_is_assigned_yet_holds_sends_too() -> None:
    """From the moment it exists: before any rebalance hands it to a router."""
    d = Driver()
    await d.start()
    await d.run()
    d.broker.create(d.settings.inbound_topic, 3)
    d.reply("r1", A, "STOP", partition=2)
    d.send("s1", A, partition=0)
    await d.steps(20)
    assert sends(d) == {} and d.processor.held_count() == 1
    d.source.assigned.add(TP(d.settings.inbound_topic, 2))
    await d.run()
    assert sends(d) == {"s1=opted_out": 1}


# ---------------------------------------------------------------- 6. zombie_changelog_alo


@GUARANTEES
async def test_zombie_changelog_a_stale_owner_never_writes_over_the_new_owners_state(exactly_once: bool) -> None:
    z = Driver(exactly_once=exactly_once)  # worker Z: it will stall and lose its partitions
    await z.start()
    await z.run()
    z.reply("r1", A, "STOP")
    await z.run()
    z.clock.advance(1000)
    z.reply("r2", A, "START")
    await z.loop.step()  # Z routes the START
    gates: list[asyncio.Future] = []
    real_send = z.outputs.send

    async def slow_send(outputs, task=None):  # type: ignore[no-untyped-def]
        future = await real_send(outputs, task)
        if any(o.topic == z.settings.consent_topic for o in outputs):  # Z's acks come late (a long stall)
            gate = asyncio.get_running_loop().create_future()
            gates.append(gate)

            async def later():  # type: ignore[no-untyped-def]
                await gate
                return future.result()

            return asyncio.ensure_future(later())
        return future

    z.outputs.send = slow_send  # type: ignore[method-assign]
    z.clock.advance(5)
    z_step = asyncio.ensure_future(z.loop.step())  # Z decides the START, waits for its acks
    for _ in range(5):
        await asyncio.sleep(0)
    assert gates and not z_step.done()

    # Z's session times out; N takes every partition over (same broker, its own store)
    n = Driver(exactly_once=exactly_once, broker=z.broker, clock=z.clock, name="n")
    await n.start()
    await n.run()  # N decides the START again
    n.clock.advance(1000)
    n.reply("r3", A, "STOP")
    await n.run()
    assert n.state(A)["opted_out"] is True

    for gate in gates:
        gate.set_result(None)  # Z wakes up and goes on with its checkpoint
    await z_step  # its changelog write is refused (fenced): the step rewinds
    assert z.loop.dirty is False
    z.kill()

    n.kill(wipe_state=True)  # later: N's disk is lost; the table comes back from the changelog
    await n.start()
    await n.run()
    assert n.state(A)["opted_out"] is True
    n.clock.advance(1000)
    n.send("s1", A)
    await n.run()
    assert sends(n) == {"s1=opted_out": 1}


# ---------------------------------------------------------------- 7. eos_task_never_reopened


@GUARANTEES
async def test_eos_task_never_reopened_a_fenced_task_is_opened_again(exactly_once: bool) -> None:
    """The broker ends a task's transaction (its timeout: a leader away > 15 s): the task is
    fenced. The worker asks the group again and goes on; nothing is lost or bypassed."""
    d = Driver(exactly_once=exactly_once)
    await d.start()
    await d.run()
    inbound0 = TP(d.settings.inbound_topic, 0)
    routed = TP(d.settings.routed_topic, partition_for(A, d.settings.partitions))
    d.outputs.fence(inbound0 if exactly_once else routed)
    d.reply("r1", A, "STOP", partition=0)
    await d.run()
    d.clock.advance(1000)
    d.send("s1", A, partition=1)
    await d.run()
    assert sends(d) == {"s1=opted_out": 1}
    consent = outcomes(d)["consent"]
    # at-least-once: the STOP's first checkpoint was refused after its outputs: applied again
    assert consent == {"r1=applied": 1} if exactly_once else set(consent) == {"r1=applied"}
    assert d.loop.live() and d.loop.fenced_since_ms is None


async def test_a_task_that_stays_fenced_fails_liveness_after_the_takeover_bound() -> None:
    d = Driver(exactly_once=True)
    await d.start()
    await d.run()
    inbound0 = TP(d.settings.inbound_topic, 0)
    real_open = d.outputs.open_task

    async def refused(task: TP) -> None:
        if task == inbound0:
            raise ConnectionError("transaction coordinator not available")
        await real_open(task)

    d.outputs.open_task = refused  # type: ignore[method-assign]
    d.outputs.fence(inbound0)
    d.reply("r1", A, "STOP", partition=0)
    for _ in range(40):
        await d.steps(1)
        d.clock.advance(1000)
    assert not d.loop.live() and d.clock.ms() - d.loop.fenced_since_ms > FENCED_LIVENESS_MS
    assert not d.loop.health()["live"]
    d.outputs.open_task = real_open  # type: ignore[method-assign]
    await d.source.rejoin()
    await d.run()
    assert d.loop.live() and outcomes(d)["consent"] == {"r1=applied": 1}


async def test_the_kafka_port_says_fenced_when_a_task_has_no_producer() -> None:
    from app.engine.failures import Fenced
    from app.records import Output
    from app.runtime.kafka_ports import KafkaTransactionalOutputs
    from app.settings import Settings

    s = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    outputs = KafkaTransactionalOutputs(s)
    with pytest.raises(Fenced):
        await outputs.send([Output(s.routed_topic, b"{}", key=b"k", partition=0)], TP(s.inbound_topic, 0))
    await outputs.producer.stop()


# ---------------------------------------------------------------- 8. operator_stale


@pytest.mark.parametrize("skew_s", [-10, 10, -3600])
async def test_operator_stale_an_acknowledged_opt_out_is_never_lost_to_a_clock(skew_s: int) -> None:
    d = Driver()
    await d.start()
    d.reply("r1", A, "STOP")
    await d.run()
    d.clock.advance(60_000)
    d.reply("r2", A, "START")  # the person resubscribes at t
    await d.run()
    d.clock.advance(2_000)  # an operator opts the number out at t + 2 s, on a worker whose clock is off
    web = Router(d.settings, d.stats, clock=lambda: d.clock.dt() + timedelta(seconds=skew_s))
    await (await d.outputs.send([web.operator_opt_out(A, "default", "complaint", "ops@example.com")]))
    await d.run()
    d.clock.advance(1_000)
    d.send("s1", A)
    await d.run()
    verdicts = {k.split("=")[1] for k in outcomes(d)["consent"] if k.startswith("operator-")}
    assert verdicts == {"applied"} and d.state(A)["opted_out"] is True
    assert sends(d) == {"s1=opted_out": 1}


async def test_a_changelog_writer_of_the_previous_owner_is_fenced_in_memory_too() -> None:
    """The in-memory broker fences as Kafka does: a second MemoryOutputs opening the same task."""
    d = Driver()
    other = MemoryOutputs(d.broker, d.clock, routed_topic=d.settings.routed_topic)
    task = TP(d.settings.routed_topic, 0)
    await d.outputs.open_task(task)
    await other.open_task(task)
    from app.engine.failures import Fenced
    from app.records import Output

    with pytest.raises(Fenced):
        await d.outputs.send_changelog(0, [Output(d.settings.changelog_topic, b"1", key=b"k", partition=0)])


# ---------------------------------------------------------------- fail closed both ways, by offsets


@pytest.mark.parametrize("create_time_ms", [0, 60_000, -60_000], ids=["true", "stamped-60s-future", "60s-past"])
async def test_a_send_requested_while_opted_out_stays_suppressed_after_a_later_start(create_time_ms: int) -> None:
    """STOP acknowledged; a send is produced; then a START. The send is routed only after the
    START is applied (its router lags): it was requested while opted out, which the broker's
    offsets tell whatever the send's CreateTime says."""
    d = Driver()
    await d.start()
    d.reply("r1", A, "STOP")
    await d.run()
    outbound = TP(d.settings.outbound_topic, 0)
    d.source.pause({outbound})  # the router of the send lags
    d.send("s1", A, timestamp_ms=d.clock.ms() + create_time_ms)
    await d.steps(3)
    d.reply("r2", A, "START")
    await d.steps(5)
    assert d.state(A)["opted_out"] is False
    d.source.resume({outbound})
    await d.run()
    assert sends(d) == {"s1=opted_out": 1}


async def test_a_send_produced_after_a_start_is_delivered() -> None:
    d = Driver()
    await d.start()
    d.reply("r1", A, "STOP")
    await d.run()
    d.reply("r2", A, "START")
    await d.run()
    d.clock.advance(d.settings.commit_interval_ms)
    await d.steps(2)  # the send partitions' ends read after the START: later sends come after it
    d.send("s1", A, timestamp_ms=d.clock.ms() - 60_000)  # its producer's clock a minute slow
    await d.run()
    # the broker says the send came after the START; the CreateTime (before it) only suppresses
    assert sends(d) == {"s1=opted_out": 1}
    d.send("s2", A)
    await d.run()
    assert sends(d) == {"s1=opted_out": 1, "s2=provider": 1}


# ---------------------------------------------------------------- a replayed send is decided as it was first


def model_settings() -> Settings:
    """The model checker's settings (two partitions of each topic, a checkpoint after each step)."""
    return Settings(kafka_bootstrap_servers="memory:0", partitions=2, input_partitions=2, commit_interval_ms=1,
                    progress_interval_ms=1)


@pytest.mark.parametrize("how", ["fenced", "killed"])
async def test_a_replayed_send_is_decided_as_it_was_first_not_against_a_later_stop(how: str) -> None:
    """At-least-once, found by the model checker (3,000 examples): a send is decided `provider`
    and its checkpoint fails (the routed task fenced; or the worker SIGKILLed before its
    changelog); a STOP is acknowledged after that. The replay must decide the send as before:
    the STOP came after the send (broker offsets), so it is no reason to suppress what may
    already be at the provider: one kind of outcome per send, never provider *and* suppressed."""
    d = Driver(model_settings(), max_records=4)
    await d.start()
    await d.run()
    routed = TP(d.settings.routed_topic, partition_for(B, d.settings.partitions))
    if how == "fenced":
        d.outputs.fence(routed)
    d.send("s1", B, partition=0)
    await d.steps(1)  # routed
    if how == "killed":
        d.kill_at_step = "outputs_acked"
    try:
        await d.steps(1)  # decided (`provider`); its checkpoint fails
    except Killed:
        d.kill()
        await d.start()
    assert sends(d) == {"s1=provider": 1}
    d.reply("r1", B, "STOP", partition=0)  # acknowledged after the send was decided once
    await d.run()
    assert d.state(B)["opted_out"] is True
    assert set(sends(d)) == {"s1=provider"}  # replayed (at-least-once may deliver twice), never suppressed
    d.send("s2", B, partition=1)  # produced after the STOP was acknowledged
    await d.run()
    assert set(sends(d)) == {"s1=provider", "s2=opted_out"}


@pytest.mark.parametrize("kill", [False, True], ids=["runs-on", "killed-while-deferred"])
async def test_a_stop_read_behind_a_held_send_it_came_after_waits_for_that_send(kill: bool) -> None:
    """A send is held (a reply partition below its stamp is not routed yet); a STOP for its
    number, acknowledged after the send was produced, is routed and read behind it. The STOP
    waits among the held sends: the send is decided without it (`provider`, as it would have
    been had it not waited), then the STOP is applied; a send produced after the STOP is
    suppressed. Killed while the STOP waits, the replay decides the same."""
    d = Driver()
    await d.start()
    await d.run()
    inbound1 = TP(d.settings.inbound_topic, 1)
    d.source.pause({inbound1})  # its router lags: replies on it are not routed
    d.reply("h1", A, "HELP", partition=1)  # acknowledged before the send: the send waits for it
    d.send("s1", A, partition=0)
    await d.steps(3)
    assert d.processor.held_count() == 1
    d.reply("r1", A, "STOP", partition=0)  # acknowledged after the send was produced
    await d.steps(3)
    assert d.processor.held_count() == 1 and d.state(A) is None  # the STOP waits behind the send
    assert sum(len(h) for h in d.processor.held.values()) == 2
    if kill:
        d.kill()
        await d.start()
    d.source.resume({inbound1})
    await d.run()
    assert sends(d) == {"s1=provider": 1}
    assert set(outcomes(d)["consent"]) == {"h1=logged", "r1=applied"} and d.state(A)["opted_out"] is True
    d.send("s2", A, partition=1)
    await d.run()
    assert sends(d) == {"s1=provider": 1, "s2=opted_out": 1}


async def test_a_stop_between_two_held_sends_is_applied_between_them() -> None:
    """Two sends held; a STOP acknowledged after the first was produced and before the second
    is read behind both: applied after the first is decided and before the second."""
    d = Driver()
    await d.start()
    await d.run()
    inbound0, inbound1 = TP(d.settings.inbound_topic, 0), TP(d.settings.inbound_topic, 1)
    d.source.pause({inbound1})
    d.reply("h1", A, "HELP", partition=1)  # not routed yet: both sends wait for it
    d.send("s1", A, partition=0)
    await d.steps(3)
    d.source.pause({inbound0})
    d.reply("r1", A, "STOP", partition=0)  # acknowledged after s1, before s2; routed after s2
    d.send("s2", A, partition=1)
    await d.steps(3)
    d.source.resume({inbound0})
    await d.steps(3)
    assert d.processor.held_count() == 2 and d.state(A) is None
    d.source.resume({inbound1})
    await d.run()
    assert sends(d) == {"s1=provider": 1, "s2=opted_out": 1}
