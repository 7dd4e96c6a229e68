"""The compliance figures kept in the partitions' state (app/stream/figures.py), counted by the
processor from the outputs: they equal what is on the output topics, survive a restart
(with the state kept or wiped: recovered from the changelog), and a kill at any step of
the checkpoint neither loses nor doubles a count under exactly-once."""

from __future__ import annotations

from collections import Counter

import pytest

from app.engine.checkpoint import STEPS
from app.engine.driver import Driver, Killed
from app.engine.state import PartitionState
from app.reports import stats_answer

NUMBERS = [f"+1415555{n:04d}" for n in range(100, 130)]


def traffic(d: Driver, round_: int) -> None:
    for i, number in enumerate(NUMBERS):
        d.send(f"s{round_}-{i}", number, partition=i % 2, account_id=f"acct{i % 3}")
        if i % 5 == 0:
            d.reply(f"r{round_}-{i}", number, ("STOP", "START", "HELP", "Stop texting me")[(i // 5 + round_) % 4],
                    partition=i % 2)
    d.send(f"nophone-{round_}", None, partition=0)  # suppressed while routed: no_phone
    d.send(f"bad-{round_}", "12", partition=1)  # invalid_number
    d.pipe(d.settings.outbound_topic, b"not json", partition=round_ % 2)  # dead-lettered while routed
    d.reply(f"q{round_}", NUMBERS[-1], "we have got to stop this bill", partition=0)  # review


def merged(d: Driver) -> dict:
    out = stats_answer.empty()
    for p, store in d.stores.stores.items():
        out = stats_answer.merge(out, stats_answer.read(PartitionState(p, store), d.clock.ms()))
    return stats_answer.render(out, d.clock.ms())


def from_topics(d: Driver) -> dict:
    s = d.settings
    provider = d.read(s.provider_topic)
    suppressed = Counter(r["reason"] for r in d.read(s.suppressed_topic))
    consent = d.read(s.consent_topic)
    prevented = Counter(r["message"].get("account_id", "default") for r in d.read(s.suppressed_topic)
                        if r["reason"] == "opted_out")
    return {
        "forwarded": sum(1 for r in provider if r.get("category") != "compliance"),
        "confirmations": Counter(r["message_id"].rsplit(":", 1)[1] for r in provider if r.get("category") == "compliance"),
        "suppressed": dict(suppressed),
        "dead": len(d.read(s.deadletter_topic)),
        "opt_outs": sum(1 for r in consent if r["intent"] == "opt_out" and r["verdict"] == "applied"),
        "opt_ins": sum(1 for r in consent if r["intent"] == "opt_in" and r["verdict"] == "applied"),
        "consent": len(consent),
        "review": len(d.read(s.review_topic)),
        "prevented": dict(prevented),
    }


def check(d: Driver) -> dict:
    got, want = merged(d), from_topics(d)
    t = got["totals"]
    assert t["forwarded"] == want["forwarded"]
    assert t["suppressed_by_reason"] == want["suppressed"]
    assert t["dead_lettered"] == want["dead"]
    assert t["opt_outs"] == want["opt_outs"] and t["opt_ins"] == want["opt_ins"]
    assert sum(e["count"] for e in got["consent_events"]) == want["consent"]
    assert t["review_queued"] == want["review"]
    assert t["confirmations"] == dict(want["confirmations"])
    assert got["time_to_honour"]["count"] == want["opt_outs"]
    assert got["confirmation_delay"]["count"] == want["confirmations"].get("opt-out", 0)
    prevented = Counter()
    for day in got["prevented_sends"]:
        prevented.update(day["by_account"])
    assert dict(prevented) == want["prevented"]
    minutes = got["series"]["per_minute"]
    assert sum(b["forwarded"] for b in minutes) == want["forwarded"]
    assert sum(b["opt_outs"] for b in minutes) == want["opt_outs"]
    return got


async def test_figures_equal_the_output_topics_and_survive_restarts() -> None:
    d = Driver()
    traffic(d, 0)
    await d.run()
    first = check(d)
    assert first["totals"]["suppressed_by_reason"]["no_phone"] == 1
    assert first["totals"]["dead_lettered_by_reason"] == {"not_json": 1}
    assert first["totals"]["opt_outs"] > 0 and first["review_queue"]["pending"] == 1
    d.kill()
    traffic(d, 1)
    await d.run()
    second = check(d)
    assert second["totals"]["forwarded"] > first["totals"]["forwarded"]
    d.kill(wipe_state=True)  # recovered from the changelog
    await d.run()
    again = merged(d)
    assert again["review_queue"]["pending"] == second["review_queue"]["pending"]
    assert {k: v for k, v in again.items() if k != "review_queue"} == {
        k: v for k, v in second.items() if k != "review_queue"}
    traffic(d, 2)
    await d.run()
    check(d)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("wipe", [False, True], ids=["kept", "wiped"])
async def test_a_kill_at_any_checkpoint_step_counts_everything_once_under_exactly_once(step: str,
                                                                                        wipe: bool) -> None:
    d = Driver(exactly_once=True)
    traffic(d, 0)
    await d.run()
    traffic(d, 1)
    d.kill_at_step = step
    with pytest.raises(Killed):
        await d.run()
    d.kill(wipe_state=wipe)
    await d.run()
    check(d)


async def test_a_kill_while_handing_records_over_counts_everything_once_under_exactly_once() -> None:
    for after in (3, 10, 25, 60):
        d = Driver(exactly_once=True)
        traffic(d, 0)
        d.outputs.kill_after = after
        with pytest.raises(Killed):
            await d.run()
        d.kill()
        await d.run()
        check(d)
