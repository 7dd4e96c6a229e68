"""bench/report.py with the Kafka Streams peer's rows: cold and warm columns, the ratio to
the Kafka Streams row of the same guarantee; results without a peer keep the old table."""

from __future__ import annotations

from bench.report import markdown, ratio_cell, reference_of


def system(label: str, tput: float, cpu: float, warm: tuple[float, float] | None = None) -> dict:
    out = {"label": label, "n_runs": 1, "throughput_msg_s": tput, "cpu_us_per_msg": cpu, "peak_rss_mib": 100.0}
    if warm:
        out["warm_throughput_msg_s"], out["warm_cpu_us_per_msg"] = warm
    return out


def results(systems: dict, **extra) -> dict:
    return {"config": {"sends": 100, "numbers": 10, "optouts": 1, "input_partitions": 4, "loads_msg_s": [1000]},
            "systems": systems, **extra}


PEER = {
    "aiokafka_loop": system("A: aiokafka loop", 60_000, 13.0),
    "kstreams": system("Kafka Streams (at-least-once)", 40_000, 30.0, (80_000, 12.0)),
    "kstreams_eos": system("Kafka Streams (exactly_once_v2)", 30_000, 35.0, (50_000, 15.0)),
    "project": system("this project (at-least-once)", 16_000, 57.0),
    "project_eos": system("this project (exactly-once)", 15_000, 58.0),
}


def test_each_system_is_compared_with_kafka_streams_of_its_guarantee():
    assert reference_of("project") == "kstreams"
    assert reference_of("aiokafka_loop") == "kstreams"
    assert reference_of("project_eos") == "kstreams_eos"
    assert ratio_cell("project", PEER) == "0.20 × (cold 0.40 ×)"
    assert ratio_cell("project_eos", PEER) == "0.30 × (cold 0.50 ×)"
    assert ratio_cell("aiokafka_loop", PEER) == "0.75 × (cold 1.50 ×)"
    assert ratio_cell("kstreams", PEER) == "reference"


def test_without_the_reference_row_the_ratio_is_a_dash():
    only_alo = {k: v for k, v in PEER.items() if k != "kstreams_eos"}
    assert ratio_cell("project_eos", only_alo) == "–"


def test_the_table_has_cold_warm_and_ratio_columns_with_a_peer():
    decisions = {"digests": {"kstreams": ["abc"], "project": ["abc"]}, "identical": True}
    text = markdown(results(PEER, decisions=decisions,
                            machine={"java": "17.0.15", "kafka_streams": "4.1.1", "libphonenumber": "9.0.19"}))
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    assert "warm msg/s" in header and "× reference" in header and "CPU µs/msg warm" in header
    row = next(line for line in text.splitlines() if line.startswith("| Kafka Streams (at-least-once)"))
    assert row.split(" | ")[1:6] == ["40,000 (1 run)", "80,000", "reference", "30.0", "12.0"]
    row = next(line for line in text.splitlines() if line.startswith("| this project (at-least-once)"))
    assert row.split(" | ")[1:6] == ["16,000 (1 run)", "–", "0.20 × (cold 0.40 ×)", "57.0", "–"]
    assert "Kafka Streams 4.1.1 on Java 17.0.15" in text
    assert "**identical** to those of this project (at-least-once), send by send (digest abc)" in text


def test_different_decisions_are_said_plainly():
    decisions = {"digests": {"kstreams": ["abc"], "project": ["abd"]}, "identical": False}
    assert "**NOT identical**" in markdown(results(PEER, decisions=decisions))


def test_results_without_a_peer_keep_the_old_table():
    text = markdown(results({"project": system("this project (at-least-once)", 16_000, 57.0)}))
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    assert header.startswith("| system | throughput msg/s (median of runs) | CPU µs/msg | latency")
    assert "Kafka Streams" not in text


def test_the_in_place_row_is_compared_with_the_routed_one_end_to_end():
    """The outputs' first-last window flatters a routed pipeline: the end-to-end line takes
    process start → last output and the whole process's CPU, for both exactly-once rows."""
    from bench.report import in_place_line

    def run(wall_s: float, cpu: float, first_s: float, in_place: int | None = None) -> dict:
        out = {"wall_s": wall_s, "cpu_us_per_msg_whole_process": cpu, "startup_to_first_output_s": first_s}
        if in_place is not None:
            out["decided_in_place"] = in_place
        return out

    systems = {
        "project_eos": {**system("this project (exactly-once)", 30_000, 27.0), "runs": [run(10.0, 57.0, 3.3)]},
        "project_in_place_eos": {**system("… decided in place", 27_000, 35.0),
                                 "runs": [run(8.0, 46.0, 1.4, 200_000)]},
    }
    line = in_place_line(systems, 200_000)
    assert line is not None
    assert "**25,000 msg/s** decided in place against 20,000 routed (1.25 ×)" in line
    assert "46.0 against 57.0 µs" in line and "per run: 200,000 (the throughput pass's 200,000" in line
    assert in_place_line({"project_eos": systems["project_eos"]}, 200_000) is None
    assert "Decided in place" in markdown(results(systems))


def test_the_gap_to_kafka_streams_is_taken_apart_into_cores_and_cpu_per_message():
    """throughput = cores busy ÷ CPU per message: the ratio to Kafka Streams is the cores' ratio
    times the inverse of the CPU per message's (the project's runs against the JVM's warm passes)."""
    from bench.report import gap_line

    systems = {
        "passthrough": system("B: passthrough (aiokafka)", 60_000, 15.0),
        "kstreams": {**system("Kafka Streams (at-least-once)", 40_000, 40.0, (50_000, 30.0)),
                     "runs": [{"cpu_cores_busy": 1.2, "warm": {"cpu_cores_busy": b}} for b in (1.4, 1.5, 1.6)]},
        "project": {**system("this project (at-least-once)", 25_000, 36.0),
                    "runs": [{"cpu_cores_busy": b} for b in (0.8, 0.9, 1.0)]},
    }
    line = gap_line(systems)
    assert line is not None
    assert ("at-least-once: 0.90 core(s) busy at 36.0 µs a message, against Kafka Streams (at-least-once): "
            "1.50 at 30.0 µs; 0.60 × the cores × 0.83 × the messages per CPU second ≈ 0.50 × (measured 0.50 ×)") in line
    assert "on one core a message could cost 20.0 µs of CPU" in line and "spends 15.0 µs" in line
    assert "exactly-once" not in line  # no exactly-once rows in these results
    assert "taken apart" in markdown(results(systems))
    # no cores measured (older results): no line
    assert gap_line({**systems, "project": system("this project (at-least-once)", 25_000, 36.0)}) is None
    assert gap_line({k: v for k, v in systems.items() if k != "kstreams"}) is None
