"""Results: bench/results/<UTC stamp>.json, latest.json, latest.md, latest.png."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from bench.scaleout import markdown_lines as scale_out_lines


def _num(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{digits}f}"


def _ms(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def latency_cell(phase: dict | None) -> str:
    if not phase:
        return "–"
    if "skipped" in phase:
        return f"not run ({phase['skipped']})"
    cell = f"{_ms(phase['p50_ms'])} / {_ms(phase['p99_ms'])} / {_ms(phase['max_ms'])}"
    if not phase["kept_up"]:
        cell = f"**cannot keep up**: {_num(phase['achieved_msg_s'])} msg/s achieved" + (
            "" if phase["drained"] else f", {phase['received']:,}/{phase['sent']:,} out in time") + f" ({cell})"
    return cell


PEERS = ("kstreams", "kstreams_eos")  # the reference rows (bench/kstreams.py)


def reference_of(name: str) -> str:
    """The Kafka Streams row a system's ratio is taken against: the same guarantee."""
    return "kstreams_eos" if name.endswith("_eos") else "kstreams"


def ratio_cell(name: str, systems: dict) -> str:
    """throughput ÷ the reference's warm throughput (and ÷ its cold throughput)."""
    if name in PEERS:
        return "reference"
    ref = systems.get(reference_of(name))
    if not ref or not ref.get("warm_throughput_msg_s") or not ref.get("throughput_msg_s"):
        return "–"
    mine = systems[name]["throughput_msg_s"]
    return f"{mine / ref['warm_throughput_msg_s']:.2f} × (cold {mine / ref['throughput_msg_s']:.2f} ×)"


def markdown(results: dict) -> str:
    cfg = results["config"]
    data = results.get("data", {})
    loads = [str(x) for x in cfg["loads_msg_s"]]
    systems = results.get("systems", {})
    # a JVM peer ran: cold and warm columns, and the ratio to it (older results: the old table)
    peer = any("warm_throughput_msg_s" in s for s in systems.values())
    if peer:
        head = ["system", "throughput msg/s (median of runs; JVM: cold pass)", "warm msg/s (JVM: 2nd pass)",
                "× reference (Kafka Streams warm, same guarantee)", "CPU µs/msg", "CPU µs/msg warm"]
    else:
        head = ["system", "throughput msg/s (median of runs)", "CPU µs/msg"]
    head += [f"latency @ {int(x):,} msg/s p50 / p99 / max ms" for x in loads]
    head += ["peak RSS MiB"]
    lines = [
        "# Benchmark results",
        "",
        f"{data.get('sends', cfg['sends']):,} send requests to {data.get('distinct_numbers', cfg['numbers']):,} "
        f"distinct US numbers, {data.get('opted_out', cfg['optouts']):,} opted out "
        f"({data.get('expected_provider', 0):,} to provider, {data.get('expected_suppressed', 0):,} suppressed), "
        f"{cfg['input_partitions']} input partitions; same data for every system. "
        f"Every figure below comes from runs whose outputs were verified "
        f"(exact counts, no duplicates, no misroutes). Method: `bench/README.md`."
        + (" **Quick mode (small N): not comparable to full runs.**" if cfg.get("quick") else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    for name, s in systems.items():
        runs = s["n_runs"]
        row = [s["label"], f"{_num(s['throughput_msg_s'])} ({runs} run{'s' if runs != 1 else ''})"]
        if peer:
            row += [_num(s.get("warm_throughput_msg_s")), ratio_cell(name, systems)]
        row += [_num(s["cpu_us_per_msg"], 1)]
        if peer:
            row += [_num(s.get("warm_cpu_us_per_msg"), 1)]
        lat = s.get("latency", {})
        row += [latency_cell(lat.get(x)) for x in loads]
        row += [_num(s["peak_rss_mib"])]
        lines.append("| " + " | ".join(row) + " |")
    floor = results.get("floor")
    if floor:
        row = ["harness floor (no system: producer → broker → collector)", "–", "–"] + ["–"] * (3 if peer else 0)
        row += [latency_cell(floor.get(x)) for x in loads] + ["–"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    rec = results.get("recovery")
    if rec:
        lines.append(
            f"- **Table recovery (this project)**: {rec['records']:,} opt-outs in the changelog "
            f"({rec['partitions']} partitions), empty data dir: **{_num(rec['recovery_records_s'])} records/s** "
            f"(process start to `/health` 200: {rec['startup_with_records_s']:.1f} s, minus "
            f"{rec['startup_empty_s']:.1f} s for a worker with an empty changelog = {rec['recovery_s']:.1f} s); "
            f"peak RSS {_num(rec['peak_rss_with_records_mib'])} MiB with {rec['records']:,} numbers "
            f"({_num(rec['peak_rss_empty_mib'])} MiB empty); {rec['verified_lookups']} lookups verified after recovery."
        )
    prop = (results.get("systems", {}).get("project") or {}).get("propagation")
    if prop:
        lines.append(
            f"- **Opt-out propagation (this project)**: STOP produced at t0, then a send to that number every "
            f"{prop['send_interval_ms']:.0f} ms until one comes back suppressed; {prop['rounds']} rounds: "
            f"p50 **{prop['p50_ms']:,.1f} ms**, p99 {prop['p99_ms']:,.1f} ms, max {prop['max_ms']:,.1f} ms "
            f"(resolution: the {prop['send_interval_ms']:.0f} ms send interval; every send before the first "
            f"suppressed one was delivered, every one after it suppressed). STOP produced → first suppressed "
            f"output seen by the collector: p50 {prop['observed_p50_ms']:,.1f} ms, p99 {prop['observed_p99_ms']:,.1f} ms, "
            f"max {prop['observed_max_ms']:,.1f} ms."
        )
    in_place = in_place_line(results.get("systems", {}), data.get("sends", cfg["sends"]))
    if in_place:
        lines.append(in_place)
    m = results.get("machine", {})
    if peer:
        lines.append(peer_line(results))
        gap = gap_line(systems)
        if gap:
            lines.append(gap)
    if m:
        lines.append(
            f"- **Machine**: nproc {m.get('nproc')} ({m.get('cpu') or 'unknown CPU'}), {m.get('memory_gib')} GiB; "
            f"Python {m.get('python')}; Apache Kafka {m.get('kafka')} (single local KRaft node); "
            f"faust-streaming {m.get('faust_streaming')}, aiokafka {m.get('aiokafka')}"
            + (f", quixstreams {m.get('quixstreams')} (confluent-kafka {m.get('quix_confluent_kafka')})"
               if m.get("quixstreams") else "")
            + f"; bench driver: librdkafka {m.get('bench_driver_librdkafka')}; "
            f"load average at start {m.get('loadavg_at_start')}, at end {m.get('loadavg_at_end')}."
        )
    if "total_s" in results:
        code = results.get("code") or {}
        version = f"commit {code.get('commit')}" + (
            f" + uncommitted changes (digest {code['uncommitted']})" if code.get("uncommitted") else "")
        lines.append(f"- **Run**: {results['started_at']}, {results['total_s']:.0f} s in all; project code: {version}.")
    for note in results.get("notes", []):
        lines.append(f"- Note: {note}")
    lines += scale_out_lines(results.get("scale_out") or {})
    return "\n".join(lines) + "\n"


def in_place_line(systems: dict, sends: int) -> str | None:
    """The exactly-once rows routed and decided in place, end to end: the table's throughput is
    taken over the outputs' first-last window, which a routed pipeline shortens (its first hop
    works through the backlog before the first output), so also process start → last output
    and the CPU of the whole process (medians of the runs)."""
    routed, here = systems.get("project_eos"), systems.get("project_in_place_eos")
    if not routed or not here:
        return None

    def end_to_end(s: dict) -> tuple[float, float, float]:
        runs = s["runs"]
        return (statistics.median(sends / r["wall_s"] for r in runs),
                statistics.median(r["cpu_us_per_msg_whole_process"] for r in runs),
                statistics.median(r["startup_to_first_output_s"] for r in runs))

    (r_tput, r_cpu, r_first), (h_tput, h_cpu, h_first) = end_to_end(routed), end_to_end(here)
    counted = [r.get("decided_in_place") for r in here["runs"] if r.get("decided_in_place") is not None]
    return (f"- **Decided in place (this project, exactly-once), end to end**: from the worker's start to its "
            f"last output (start-up included), **{_num(h_tput)} msg/s** decided in place against "
            f"{_num(r_tput)} routed ({h_tput / r_tput:.2f} ×); CPU of the whole process {h_cpu:.1f} against "
            f"{r_cpu:.1f} µs a send; first output {h_first:.1f} s against {r_first:.1f} s after the start "
            f"(the table's throughput is the outputs' first-last window, which the routed hop shortens: it "
            f"works through the backlog before its first output)"
            + (f"; the worker's count of sends decided in place, per run: {', '.join(f'{n:,}' for n in counted)} "
               f"(the throughput pass's {sends:,}, and in the run with the latency figure its sends too)."
               if counted else "."))


def _cores(s: dict, warm: bool) -> float | None:
    """The median of the runs' CPU cores kept busy (warm: the JVM's second pass)."""
    busy = [(r.get("warm") or {}).get("cpu_cores_busy") if warm else r.get("cpu_cores_busy")
            for r in s.get("runs") or []]
    busy = [b for b in busy if b]
    return statistics.median(busy) if busy else None


GAP_ROWS = (("project", "at-least-once"), ("project_eos", "exactly-once, routed"),
            ("project_in_place_eos", "exactly-once, decided in place"))


def gap_line(systems: dict) -> str | None:
    """Each project row's throughput against Kafka Streams' warm one of the same guarantee, taken
    apart: throughput = cores kept busy ÷ CPU per message, so the ratio is the ratio of the cores
    busy times the inverse ratio of the CPU per message (medians: the product is near the ratio)."""
    parts = []
    for name, label in GAP_ROWS:
        s, ref = systems.get(name), systems.get(reference_of(name))
        if not s or not ref or not ref.get("warm_throughput_msg_s") or not ref.get("warm_cpu_us_per_msg"):
            continue
        cores, ref_cores = _cores(s, False), _cores(ref, True)
        if not cores or not ref_cores or not s.get("cpu_us_per_msg"):
            continue
        cpu, ref_cpu = s["cpu_us_per_msg"], ref["warm_cpu_us_per_msg"]
        parts.append(f"{label}: {cores:.2f} core(s) busy at {cpu:.1f} µs a message, against {ref['label']}: "
                     f"{ref_cores:.2f} at {ref_cpu:.1f} µs; {cores / ref_cores:.2f} × the cores × "
                     f"{ref_cpu / cpu:.2f} × the messages per CPU second ≈ {cores / ref_cores * ref_cpu / cpu:.2f} × "
                     f"(measured {s['throughput_msg_s'] / ref['warm_throughput_msg_s']:.2f} ×)")
    if not parts:
        return None
    alo = systems.get("kstreams") or {}
    per_core = 1e6 / alo["warm_throughput_msg_s"] if alo.get("warm_throughput_msg_s") else None
    passthrough = (systems.get("passthrough") or {}).get("cpu_us_per_msg")
    return ("- **The gap to Kafka Streams, taken apart** (throughput = CPU cores kept busy ÷ CPU per message; "
            "medians of the runs; Kafka Streams warm): " + "; ".join(parts) + ". The worker processes on one "
            "Python thread, so it keeps at most about one core busy; Kafka Streams' one stream thread has its "
            "clients' network threads, RocksDB's and the JVM's beside it."
            + (f" To carry Kafka Streams' at-least-once throughput on one core a message could cost {per_core:.1f} µs "
               "of CPU" if per_core else "")
            + (f"; the aiokafka passthrough spends {passthrough:.1f} µs moving a record through Python once, and a "
               "routed send goes through twice." if per_core and passthrough else "." if per_core else ""))


def peer_line(results: dict) -> str:
    m = results.get("machine", {})
    decisions = results.get("decisions") or {}
    digests = decisions.get("digests") or {}
    labels = {name: s["label"] for name, s in results.get("systems", {}).items()}
    others = [labels.get(n, n) for n in digests if n not in PEERS]
    if not decisions:
        same = "not compared"
    elif not decisions.get("identical"):
        same = "**NOT identical** to the other systems' (see `decisions` in the JSON)"
    elif others:
        same = "**identical** to those of " + ", ".join(others) + ", send by send"
    else:
        same = "as expected for every send (no other filtering system in this run)"
    digest = next(iter(next(iter(digests.values()), [])), None)
    return (f"- **Kafka Streams peer** (`bench/systems/kstreams/`): Kafka Streams {m.get('kafka_streams', '?')} "
            f"on Java {m.get('java', '?')}, libphonenumber {m.get('libphonenumber', '?')}, one stream thread; "
            f"opt-out KTable (RocksDB) from the baselines' opted-out list, sends re-keyed by number and account "
            f"through a repartition topic. Cold = the first pass of a fresh JVM; warm = the same sends again, "
            f"in the same JVM, by a second instance; latency figures are the warm instance's. Decisions: {same}"
            + (f" (digest {digest})." if digest and decisions.get("identical") else "."))


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = results.get("systems", {})
    names = list(systems)
    labels = [systems[n]["label"].replace(" (", "\n(") for n in names]
    loads = [str(x) for x in results["config"]["loads_msg_s"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    tput = [systems[n]["throughput_msg_s"] for n in names]
    bars = ax1.bar(range(len(names)), tput, color="#4C72B0")
    for i, (bar, n) in enumerate(zip(bars, names, strict=False)):
        s = systems[n]
        text = f"{bar.get_height():,.0f}\n{s['cpu_us_per_msg']:.0f} µs CPU/msg"
        top = bar.get_height()
        warm = s.get("warm_throughput_msg_s")
        if warm:  # a JVM: the cold pass filled, the warm pass as a dashed outline
            ax1.bar(i, warm, fill=False, edgecolor="#4C72B0", linestyle="--")
            text = (f"cold {bar.get_height():,.0f}, {s['cpu_us_per_msg']:.0f} µs\n"
                    f"warm {warm:,.0f}, {s.get('warm_cpu_us_per_msg', 0):.0f} µs")
            top = max(top, warm)
        ax1.annotate(text, (bar.get_x() + bar.get_width() / 2, top), ha="center", va="bottom", fontsize=8)
    ax1.set_xticks(range(len(names)), labels, fontsize=8)
    ax1.set_ylabel("msg/s (median of runs)")
    ax1.set_title("Throughput (backlog of pre-produced sends)")
    ax1.margins(y=0.2)
    width = 0.8 / max(1, len(names))
    colors = ["#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974"]
    for i, n in enumerate(names):
        lat = systems[n].get("latency", {})
        xs, ys, sat = [], [], []
        for j, load in enumerate(loads):
            phase = lat.get(load) or {}
            if "p99_ms" in phase and phase["p99_ms"] == phase["p99_ms"]:
                xs.append(j + (i - (len(names) - 1) / 2) * width)
                ys.append(phase["p99_ms"])
                sat.append(not phase["kept_up"])
        drawn = ax2.bar(xs, ys, width, label=systems[n]["label"], color=colors[i % len(colors)])
        for bar, s in zip(drawn, sat, strict=False):
            if s:
                bar.set_hatch("//")
                ax2.annotate("can't\nkeep up", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                             ha="center", va="bottom", fontsize=7)
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(loads)), [f"{int(x):,} msg/s" for x in loads])
    ax2.set_ylabel("p99 end-to-end latency, ms (log)")
    ax2.set_title("Latency p99 at fixed offered load (hatched: cannot keep up)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, results_dir: Path, stamp: str) -> list[Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    paths = []
    for name in (f"{stamp}.json", "latest.json"):
        path = results_dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.rename(path)
        paths.append(path)
    md = results_dir / "latest.md"
    md.write_text(markdown(results))
    paths.append(md)
    png = results_dir / "latest.png"
    chart(results, png)
    paths.append(png)
    return paths
