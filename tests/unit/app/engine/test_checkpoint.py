"""Kill the worker at every step of the checkpoint, and in the middle of handing
outputs over; restart it (state kept, or wiped); the replay must re-create every
output and changelog record that was missing, exactly once, and decide the same."""

from __future__ import annotations

from collections import Counter

import pytest

from app.engine.checkpoint import STEPS
from app.engine.driver import Driver, Killed
from app.engine.inputs import TP
from tests.unit.app.engine.scenario import feed, final_states, in_place_settings, outcomes

# records per partition and fetch: part two of the workload then spans several checkpoints
# (a kill at the 3rd checkpoint, or between the 8th and 9th task commit, is reached)
BATCH = 5


async def reference(in_place: bool = False) -> tuple[dict[str, Counter], dict]:
    # same outcome under either guarantee (at-least-once: every send routed)
    d = Driver(in_place_settings()) if in_place else Driver()
    feed(d, 0, in_place)
    await d.run()
    feed(d, 1, in_place)
    await d.run()
    return outcomes(d), final_states(d)


def changelog_latest(d: Driver, committed_only: bool = False) -> dict[tuple[int, bytes], bytes]:
    latest: dict[tuple[int, bytes], bytes] = {}
    for p in range(d.settings.partitions):
        for r in d.broker.logs[TP(d.settings.changelog_topic, p)]:
            if r.status == "committed":
                latest[(p, r.key)] = r.value
    return latest


async def run_with_kill(*, step: str | None = None, nth: int = 1, after_records: int | None = None,
                        after_commits: int | None = None, wipe: bool, exactly_once: bool = False,
                        in_place: bool = False) -> tuple[Driver, dict[str, Counter], dict[str, Counter]]:
    d = Driver(in_place_settings() if in_place else None, exactly_once=exactly_once, max_records=BATCH)
    feed(d, 0, in_place)
    await d.run()
    feed(d, 1, in_place)
    seen = 0

    def on_step(name: str) -> None:
        nonlocal seen
        if name == step:
            seen += 1
            if seen == nth:
                raise Killed(name)

    d.loop.checkpoint.on_step = on_step
    d.outputs.kill_after = after_records
    d.outputs.kill_after_commits = after_commits
    with pytest.raises(Killed):
        await d.run()
    before = outcomes(d)
    d.kill(wipe_state=wipe)
    await d.run()
    return d, before, outcomes(d)


def check(d: Driver, before: dict[str, Counter], after: dict[str, Counter], ref: dict[str, Counter],
          ref_states: dict) -> None:
    exactly_once = d.outputs.transactional
    for kind, expected in ref.items():
        got = after[kind]
        assert set(got) == set(expected), (kind, set(expected) ^ set(got))
        for identity in expected:
            if exactly_once:
                assert got[identity] == 1, f"exactly-once: {kind} {identity} is there {got[identity]} times"
            elif before[kind][identity] == 0:
                assert got[identity] == 1, f"{kind} {identity} missing at the kill, {got[identity]} after replay"
    assert final_states(d) == ref_states
    # every key's latest changelog record is what the store holds (a takeover would see the same)
    latest = changelog_latest(d, committed_only=exactly_once)
    for p, store in d.stores.stores.items():
        for key, value in store.data.items():
            assert latest.get((p, key)) == value, key


GUARANTEES = pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
WIPE = pytest.mark.parametrize("wipe", [False, True], ids=["state-kept", "state-wiped"])


@GUARANTEES
@WIPE
@pytest.mark.parametrize("nth", [1, 2, 3])
@pytest.mark.parametrize("step", STEPS)
async def test_kill_after_each_checkpoint_step(step, nth, wipe, exactly_once):
    ref, ref_states = await reference()
    d, before, after = await run_with_kill(step=step, nth=nth, wipe=wipe, exactly_once=exactly_once)
    check(d, before, after, ref, ref_states)


@WIPE
@pytest.mark.parametrize("after_commits", [0, 1, 2, 3, 5, 8])
async def test_exactly_once_kill_between_task_commits(after_commits, wipe):
    ref, ref_states = await reference()
    d, before, after = await run_with_kill(after_commits=after_commits, wipe=wipe, exactly_once=True)
    check(d, before, after, ref, ref_states)


async def records_written_in_part_two(in_place: bool = False) -> int:
    d = Driver(in_place_settings() if in_place else None, exactly_once=in_place, max_records=BATCH)
    feed(d, 0, in_place)
    await d.run()
    written = sum(len(log) for log in d.broker.logs.values())
    feed(d, 1, in_place)
    await d.run()
    return sum(len(log) for log in d.broker.logs.values()) - written


@GUARANTEES
@WIPE
async def test_kill_while_handing_over_each_record(wipe, exactly_once):
    """Every point in the stream of records the worker writes (outputs, changelog,
    progress reports): die just before it is stored."""
    ref, ref_states = await reference()
    total = await records_written_in_part_two()
    killed = 0
    for after_records in range(total):
        try:
            d, before, after = await run_with_kill(after_records=after_records, wipe=wipe, exactly_once=exactly_once)
        except pytest.fail.Exception:
            continue  # fewer records this time (progress reports vary): nothing to kill
        killed += 1
        check(d, before, after, ref, ref_states)
    assert killed >= total // 2


async def test_duplicates_under_at_least_once_are_counted_not_lost():
    """A kill between outputs and changelog can duplicate outputs (at-least-once);
    never lose one. This counts them so the figure is visible."""
    ref, _ = await reference()
    d, _, after = await run_with_kill(step="outputs_acked", nth=2, wipe=False)
    extra = sum(after[k][i] - 1 for k in ref for i in ref[k] if after[k][i] > 1)
    assert all(after[k][i] >= 1 for k in ref for i in ref[k])
    assert extra >= 0


@GUARANTEES
@pytest.mark.parametrize("after_records", [0, 1, 3, 7, 15])
async def test_a_stop_in_the_middle_of_a_step_commits_nothing_of_it(after_records, exactly_once):
    """A stop (cancellation) while outputs are handed over: the final checkpoint of a
    clean stop must not commit the offsets of records whose outputs were not sent."""
    import asyncio

    ref, ref_states = await reference()
    d = Driver(exactly_once=exactly_once)
    feed(d, 0)
    await d.run()
    feed(d, 1)
    d.outputs.cancel_after = after_records
    with pytest.raises(asyncio.CancelledError):
        await d.run()
    before = outcomes(d)
    await d.loop.close()  # what Host.stop does after the loop returned
    d.kill()
    await d.run()
    check(d, before, outcomes(d), ref, ref_states)


# ---------------------------------------------------------------- deciding in place (exactly-once)


@WIPE
@pytest.mark.parametrize("nth", [1, 2, 3])
@pytest.mark.parametrize("step", STEPS)
async def test_in_place_kill_after_each_checkpoint_step(step, nth, wipe):
    ref, ref_states = await reference(in_place=True)
    d, before, after = await run_with_kill(step=step, nth=nth, wipe=wipe, exactly_once=True, in_place=True)
    check(d, before, after, ref, ref_states)
    assert routed_sends(d) < sum(ref["sends"].values()), "no send was decided in place"


def routed_sends(d: Driver) -> int:
    s = d.settings
    return sum(1 for p in range(s.partitions) for r in d.broker.logs[TP(s.routed_topic, p)]
               if r.value is not None and b'"kind":"send"' in r.value)


@WIPE
@pytest.mark.parametrize("after_commits", [0, 1, 2, 3, 5, 8])
async def test_in_place_kill_between_task_commits(after_commits, wipe):
    ref, ref_states = await reference(in_place=True)
    d, before, after = await run_with_kill(after_commits=after_commits, wipe=wipe, exactly_once=True, in_place=True)
    check(d, before, after, ref, ref_states)


@WIPE
async def test_in_place_kill_while_handing_over_each_record(wipe):
    ref, ref_states = await reference(in_place=True)
    total = await records_written_in_part_two(in_place=True)
    killed = 0
    for after_records in range(total):
        try:
            d, before, after = await run_with_kill(after_records=after_records, wipe=wipe, exactly_once=True,
                                                   in_place=True)
        except pytest.fail.Exception:
            continue  # fewer records this time: nothing to kill
        killed += 1
        check(d, before, after, ref, ref_states)
    assert killed >= total // 2
