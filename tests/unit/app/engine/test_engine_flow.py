"""The engine on the in-memory driver: ordering, holding, health."""

from __future__ import annotations

from app.engine.driver import Driver
from app.engine.inputs import TP
from tests.unit.app.engine.scenario import NUMBERS, feed, final_states, outcomes

A, B = NUMBERS[0], NUMBERS[1]


async def test_stop_then_send_is_suppressed_and_others_delivered():
    d = Driver()
    d.reply("r1", A, "STOP")
    d.send("s1", A)
    d.send("s2", B)
    await d.run()
    out = outcomes(d)
    assert out["sends"] == {"s1=opted_out": 1, "s2=provider": 1}
    assert out["compliance"] == {"r1:opt-out": 1}
    assert out["consent"] == {"r1=applied": 1}
    assert d.state(A)["opted_out"] is True


async def test_a_send_waits_for_a_reply_partition_nobody_routes_and_then_is_suppressed():
    """Replies before sends across workers: a reply partition that is not routed holds sends."""
    d = Driver()
    await d.start()
    inbound1 = TP(d.settings.inbound_topic, 1)
    d.source.pause({inbound1})  # the router of sms.inbound[1] is stalled (another worker, dead)
    d.reply("r1", A, "STOP", partition=1)
    d.send("s1", A)
    d.send("s2", B)
    for _ in range(50):
        await d.steps(1)
        d.clock.advance(5)
    assert outcomes(d)["sends"] == {}  # nothing decided: fail closed
    assert d.processor.held_count() == 2
    d.clock.advance(d.settings.stall_ms + 1)
    health = d.loop.health()
    assert not health["ready"] and "held" in " ".join(health["problems"])
    d.source.resume({inbound1})
    await d.run()
    assert outcomes(d)["sends"] == {"s1=opted_out": 1, "s2=provider": 1}
    assert d.loop.health()["ready"]


async def test_the_offset_committed_never_passes_a_held_send():
    d = Driver()
    await d.start()
    d.source.pause({TP(d.settings.inbound_topic, 1)})
    d.reply("r-other", B, "STOP", partition=1)  # waiting, not routed: every send is held
    d.send("s1", A)
    await d.steps(30)
    held = d.processor.held
    (partition,) = [p for p, h in held.items() if h]
    routed = TP(d.settings.routed_topic, partition)
    assert d.broker.committed.get(routed, 0) == held[partition][0].offset


async def test_fail_closed_both_ways_a_send_requested_while_opted_out():
    d = Driver()
    d.reply("r1", A, "STOP")
    await d.run()
    d.send("s1", A)  # requested while opted out ...
    d.source.pause({TP(d.settings.outbound_topic, 0)})
    d.reply("r2", A, "START")
    await d.steps(20)  # ... the START is applied before the send is decided
    d.source.resume({TP(d.settings.outbound_topic, 0)})
    d.send("s2", A)
    await d.run()
    assert outcomes(d)["sends"] == {"s1=opted_out": 1, "s2=provider": 1}


async def test_workload_reference_outcome():
    d = Driver()
    feed(d, 0)
    await d.run()
    feed(d, 1)
    await d.run()
    out = outcomes(d)
    assert sum(out["sends"].values()) == 3 * len(NUMBERS)
    assert all(v == 1 for counter in out.values() for v in counter.values())
    assert final_states(d)[NUMBERS[0]] is False and final_states(d)[NUMBERS[2]] is True
    assert not out["dead"]


async def test_a_refused_output_is_never_committed_past_and_is_retried():
    d = Driver()
    await d.run()
    d.outputs.refuse = RuntimeError("MessageSizeTooLarge")
    d.reply("r1", A, "STOP")
    d.send("s1", A)
    await d.steps(20)
    assert d.broker.committed.get(TP(d.settings.inbound_topic, 0), 0) == 0
    assert not d.loop.health()["ready"]
    d.outputs.refuse = None
    await d.run()
    out = outcomes(d)
    assert out["sends"] == {"s1=opted_out": 1} and out["consent"] == {"r1=applied": 1}
    assert d.loop.health()["ready"]


async def test_a_rebalance_while_a_batch_is_fetched_loses_and_repeats_nothing():
    """The batch in flight was fetched across a seek to the committed offsets: its records
    must be neither processed twice nor skipped (the consumer's position is past them)."""
    from tests.unit.app.engine.scenario import feed

    for exactly_once in (False, True):
        for hook in ("before_fetch", "during_fetch"):  # records fetched after the seek, or before it
            d = Driver(exactly_once=exactly_once)
            feed(d, 0)
            await d.run()
            feed(d, 1)
            d.pipe(d.settings.outbound_topic, b"garbage")  # dead-lettered by the router: no replay detection
            assigned = set(d.source.assignment())
            loop = d.loop

            async def rebalance(loop=loop, assigned=assigned):
                await loop.on_revoked(assigned)
                await loop.on_assigned(assigned)

            setattr(d.source, hook, rebalance)
            await d.run()
            out = outcomes(d)
            assert sum(out["sends"].values()) == 3 * len(NUMBERS), (hook, out["sends"])
            assert all(v == 1 for counter in out.values() for v in counter.values()), (hook, out)
