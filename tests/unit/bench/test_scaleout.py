"""bench/scaleout.py and its knob: BENCH_SCALE, reading a worker's /metrics, the settled
group, the per-core prediction and the scale-out table of latest.md (no broker)."""

from __future__ import annotations

import pytest

from bench.config import Config, parse_scale
from bench.report import markdown
from bench.scaleout import markdown_lines, parse_metrics, prediction, spread


@pytest.mark.parametrize(("raw", "quick", "counts"), [
    (None, False, (1, 2, 3)),
    (None, True, ()),
    ("", False, ()),
    ("0", False, ()),
    (" 0 ", True, ()),
    ("1,2", True, (1, 2)),
    ("3, 1,2,2,", False, (1, 2, 3)),
    ("4", False, (4,)),
])
def test_the_knob(raw, quick, counts):
    assert parse_scale(raw, quick) == counts


@pytest.mark.parametrize("raw", ["two", "1,-1", "0,1", "1.5"])
def test_the_knob_refuses_what_is_not_a_worker_count(raw):
    with pytest.raises(SystemExit, match="BENCH_SCALE"):
        parse_scale(raw, False)


def test_the_knob_from_the_environment(monkeypatch):
    monkeypatch.delenv("BENCH_SCALE", raising=False)
    monkeypatch.delenv("BENCH_QUICK", raising=False)
    assert Config.from_env().scale == (1, 2, 3)
    monkeypatch.setenv("BENCH_QUICK", "1")
    assert Config.from_env().scale == ()
    monkeypatch.setenv("BENCH_SCALE", "2,1")
    assert Config.from_env().scale == (1, 2)
    monkeypatch.setenv("BENCH_SCALE", "0")
    monkeypatch.delenv("BENCH_QUICK")
    assert Config.from_env().scale == ()


METRICS = """\
# HELP sms_optout_ready 1 when the worker is assigned, recovered and processing (GET /health).
# TYPE sms_optout_ready gauge
sms_optout_ready 1.0
sms_optout_consumer_lag_records{partition="0",topic="t.outbound"} 0.0
sms_optout_consumer_lag_records{partition="2",topic="t.outbound"} 5.0
sms_optout_consumer_lag_records{topic="t-routed",partition="1"} 0.0
sms_optout_consumer_lag_records{partition="3",topic="t-routed"} 0.0
sms_optout_recovering_partitions 0.0
"""


def test_a_workers_metrics():
    got = parse_metrics(METRICS)
    assert got == {"ready": True, "recovering": 0.0, "assigned": {"t.outbound": {0, 2}, "t-routed": {1, 3}}}
    assert parse_metrics(METRICS.replace("sms_optout_ready 1.0", "sms_optout_ready 0.0"))["ready"] is False
    assert parse_metrics("")["ready"] is False


def test_a_settled_group_holds_every_partition_once_and_every_worker_some():
    assert spread([{0, 1, 2, 3}, {4, 5, 6, 7}], 8)
    assert spread([{0, 1, 2}, {3, 4, 5}, {6, 7}], 8)
    assert not spread([{0, 1, 2, 3, 4, 5, 6, 7}, set()], 8)  # the second has not joined yet
    assert not spread([{0, 1, 2, 3, 4}, {4, 5, 6, 7}], 8)  # 4 twice: mid-rebalance
    assert not spread([{0, 1, 2}, {4, 5, 6, 7}], 8)  # 3 nowhere
    assert spread([{0}, {1}, set()], 2)  # more workers than partitions: someone idles


def point(workers: int, tput: float, cpu: float = 20.0, **extra) -> dict:
    out = {"workers": workers, "throughput_msg_s": tput, "cpu_us_per_msg": cpu, "cpu_cores_busy": 0.9,
           "verified": True, "settled": True, "peak_rss_mib_per_worker": [130.0] * workers,
           "partitions": [{"input": [0] * (4 // workers), "routed": [0] * (8 // workers)}] * workers,
           "produce_msg_s": 100_000.0}
    out.update(extra)
    return out


def test_the_prediction_per_added_core_and_the_oversubscribed_point():
    text = prediction([point(1, 10_000), point(2, 18_000), point(3, 17_000)], 2)
    assert "throughput(2)/throughput(1) = 1.80" in text
    assert "each added core adds ≈ 8,000 msg/s (80% of one worker's)" in text
    assert "k cores ≈ 10,000 + (k − 1) × 8,000 msg/s" in text
    assert "3 workers oversubscribe the 2 cores of this machine (throughput(3)/throughput(1) = 1.70)" in text


def test_the_prediction_says_when_the_workers_are_not_the_limit_and_what_their_cpu_allows():
    text = prediction([point(1, 10_000, 20.0, cpu_cores_busy=0.7), point(2, 9_000, 25.0, cpu_cores_busy=0.8)], 2)
    assert "kept 0.70 core(s) busy with 1 worker and 0.80 with 2 of 2: they are not what limits here" in text
    assert "(20.0 µs with 1 worker, 25.0 µs summed over 2, +25%)" in text
    assert "≈ 50,000 msg/s with 1 worker and ≈ 80,000 with 2: ≈ 30,000 msg/s per added core" in text
    busy = prediction([point(1, 10_000, cpu_cores_busy=1.0), point(2, 19_000, cpu_cores_busy=1.9)], 2)
    assert "busy with 1 worker and 1.90 with 2;" in busy and "not what limits" not in busy


def test_the_prediction_takes_the_largest_count_within_the_cores():
    text = prediction([point(1, 10_000), point(2, 18_000), point(3, 24_000)], 4)
    assert "throughput(3)/throughput(1) = 2.40" in text and "adds ≈ 7,000 msg/s" in text
    assert "oversubscribe" not in text


def test_the_prediction_without_a_gain_or_without_points():
    assert "added no throughput" in prediction([point(1, 10_000), point(2, 9_000)], 2)
    assert prediction([point(2, 9_000)], 2) == "no 1-worker point: no prediction."
    assert prediction([point(1, 10_000)], 2).startswith("no point with 2..2 workers")
    assert prediction([point(1, 10_000), point(2, 15_000)], 1).startswith("no point with 2..1 workers")


def results(**extra) -> dict:
    project = {"label": "this project (at-least-once)", "n_runs": 1, "throughput_msg_s": 16_000.0,
               "cpu_us_per_msg": 57.0, "peak_rss_mib": 150.0}
    return {"config": {"sends": 100, "numbers": 10, "optouts": 1, "input_partitions": 4, "loads_msg_s": [1000]},
            "systems": {"project": project}, **extra}


def test_the_report_without_scale_out_data_has_no_such_section():
    assert "Scale-out" not in markdown(results())
    assert "Scale-out" not in markdown(results(scale_out={"nproc": 2, "points": [], "skipped": [1, 2, 3]}))
    assert markdown_lines({}) == []


def test_the_report_with_scale_out_data():
    scale = {"nproc": 2, "points": [point(1, 16_000, 55.0), point(2, 24_000, 60.5, peak_rss_mib_per_worker=[128.4, 131.0])],
             "skipped": [3], "skipped_why": "time budget"}
    text = markdown(results(scale_out=scale))
    assert "### Scale-out (this project, at-least-once)" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| workers"))
    assert "CPU µs/msg (all workers)" in header and "peak RSS MiB per worker" in header
    one = next(line for line in lines if line.startswith("| 1 |"))
    assert one.split(" | ")[1:4] == ["16,000", "1.00 ×", "55.0"]
    two = next(line for line in lines if line.startswith("| 2 |"))
    assert two.split(" | ")[1:8] == ["24,000", "1.50 ×", "60.5", "0.90", "128, 131", "2 / 4, 2 / 4", "verified |"]
    assert "- **Per added core**: throughput(2)/throughput(1) = 1.50" in text
    assert "- 3 worker(s): not run (time budget)." in text
    assert "producer's limit" not in text
    # the main table is unchanged
    assert next(line for line in lines if line.startswith("| this project")).split(" | ")[1] == "16,000 (1 run)"


def test_the_report_flags_a_point_the_producer_may_have_limited_or_that_had_not_settled():
    scale = {"nproc": 2, "points": [point(1, 16_000), point(2, 30_000, produce_msg_s=32_000.0, settled=False)]}
    text = "\n".join(markdown_lines(scale))
    assert "with 2 worker(s) the sends were produced at less than 1.2 × the throughput" in text
    assert "group had not settled" in text


def test_no_session_is_started_that_the_time_budget_has_no_room_for():
    from types import SimpleNamespace

    from bench.scaleout import measure

    bench = SimpleNamespace(left=lambda: 50.0, cfg=SimpleNamespace(budget_s=780.0), results={"notes": []})
    out = measure(bench, (1, 2, 3), 60.0)  # type: ignore[arg-type]
    assert out["points"] == [] and out["skipped"] == [1, 2, 3]
    assert bench.results["notes"] == ["scale-out: 1, 2, 3 worker(s) not run (another session would take ~69s; "
                                      "50s of the 780s budget (BENCH_BUDGET_S) left)"]
