"""Sizes of a chaos run and the knobs of each scenario (flags and env vars in ``__main__``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "chaos" / "results"
WORK_DIR = REPO / ".run" / "chaos"
GUARANTEES = ("at_least_once", "exactly_once")


@dataclass(frozen=True)
class Scale:
    name: str
    numbers: int  # distinct contact numbers sent to
    replying: int  # of them, numbers that reply STOP/START (a few times each)
    rate: float  # send requests per second (probes not included)
    duration_s: float  # how long the generator produces
    partitions: int = 4  # routed topic / table partitions (OPTOUT_PARTITIONS)
    # public topics (OPTOUT_INPUT_PARTITIONS): as many as the routed topic, as the defaults are, so that
    # exactly-once decides the sends keyed by their number in place (the others are routed)
    input_partitions: int = 4
    probe_interval_s: float = 0.25  # one probe send per routed partition this often
    kills: int = 3  # faults per scenario (kills, or broker restarts)
    warmup_s: float = 5.0  # load before the first fault
    down_s: float = 2.0  # a killed single worker (or the broker) stays down this long
    takeover_cap_s: float = 30.0  # multi-worker: wait at most this long for a takeover before restarting
    settle_s: float = 3.0  # after every fault is repaired, load before the next fault
    quiet_s: float = 3.0  # all accounted for: read this long more, for late duplicates
    stall_s: float = 45.0  # nothing new on any output for this long: stop reading (stalled)
    drain_timeout_s: float = 240.0  # at most this long reading after the generator stopped
    table_sample: int | None = None  # numbers checked by GET /optouts (None: every number)
    start_timeout_s: float = 120.0  # worker /health after (re)start
    reply_share: float = 0.5  # share of sends addressed to replying numbers
    # clocks: each send's CreateTime is its producer's clock, one of these seconds off the real time
    # (chosen per send); worker i's clock is worker_skews_ms[i % len] off (OPTOUT_CLOCK_SKEW_MS)
    send_stamp_skews_s: tuple[int, ...] = (-60, 0, 60)
    worker_skews_ms: tuple[int, ...] = (5_000, -5_000, 0)

    @property
    def sends(self) -> int:
        return int(self.rate * self.duration_s)

    def replace(self, **changes: object) -> Scale:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


SCALES = {
    # tests/integration/test_chaos.py: a few thousand sends, a couple of kills
    "small": Scale(
        name="small", numbers=400, replying=60, rate=250.0, duration_s=12.0, kills=2, warmup_s=3.0,
        down_s=1.0, takeover_cap_s=15.0, settle_s=2.0, quiet_s=2.0, stall_s=25.0, drain_timeout_s=60.0,
        table_sample=150,
    ),
    # make chaos: tens of thousands of sends per scenario, thousands of numbers
    "full": Scale(
        name="full", numbers=2000, replying=300, rate=1000.0, duration_s=60.0, kills=3, warmup_s=6.0,
        down_s=2.0, takeover_cap_s=30.0, settle_s=4.0, quiet_s=3.0, stall_s=45.0, drain_timeout_s=240.0,
        table_sample=None,
    ),
}


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    letter: str
    title: str
    workers: int
    fault: str  # "kill" or "broker"
    wipe_state: bool = False
    extra_env: tuple[tuple[str, str], ...] = ()
    own_broker: bool = False


SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec("kill-restart", "a", "one worker, SIGKILL mid-stream and restart, state dir kept", 1, "kill"),
        ScenarioSpec("kill-wipe", "b", "one worker, SIGKILL mid-stream, state dir wiped, restart", 1, "kill",
                     wipe_state=True),
        ScenarioSpec("takeover", "c", "two workers, SIGKILL one (alternating) mid-stream, takeover, restart", 2,
                     "kill"),
        ScenarioSpec("standby", "d", "three workers with OPTOUT_STANDBY_REPLICAS=1, SIGKILL one, restart", 3, "kill",
                     extra_env=(("OPTOUT_STANDBY_REPLICAS", "1"),)),
        ScenarioSpec("broker-restart", "e", "one worker, its own broker stopped and restarted mid-stream", 1,
                     "broker", own_broker=True),
    )
}


def scenario_by_name(name: str) -> ScenarioSpec:
    for spec in SCENARIOS.values():
        if name in (spec.name, spec.letter):
            return spec
    raise KeyError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)} (or a-e)")
