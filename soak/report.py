"""The run's results: ``soak/results/latest.{json,md,png}`` (and a timestamped copy of the JSON)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.report import commit, runtime_fingerprint  # noqa: F401 - re-exported for __main__


def commit_of(checkout: Path) -> str | None:
    """The commit a checkout (e.g. a git worktree the worker runs from) is at, marked when app/ is modified."""
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True)
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--", "app"], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return None
    return head.stdout.strip() + (" (app/ modified)" if dirty else "") if head.returncode == 0 else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(doc: dict[str, Any]) -> str:
    c, r, a, m = doc["config"], doc["rss"], doc["accounting"], doc["meta"]
    load = doc["load"]
    lines = [
        "# Soak: one worker under steady load",
        "",
        f"{'**OK**' if doc['ok'] else '**FAILED**: ' + '; '.join(doc['failures'])}",
        "",
        f"Run {m['started_at']} → {m['finished_at']}, commit {m.get('commit')}, guarantee {c['guarantee']}, "
        f"{m['machine']['cpus']} CPUs, Python {m['machine']['python']}"
        + (", traced worker (soak.traced_worker)" if c["traced"] else "") + ".",
        "",
        f"Load: {c['rate']:,.0f} records/s for {c['duration_s'] / 60:,.1f} min ({load['produced']:,} records: "
        f"{a['sends']:,} send requests, {load['replies']:,} replies {load['reply_kinds']}) to "
        f"{c['numbers']:,} distinct numbers; {c['partitions']} routed partitions, {c['input_partitions']} input "
        f"partitions; producer max lag {load['lag_max_s']:.1f} s.",
        "",
        "| RSS slope after warm-up | target | RSS at start | after warm-up | at end | max | samples |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| **{_f(r['slope_mib_per_min'], 3)} MiB/min** | ≤ {r['target_mib_per_min']} "
        f"| {_f(r['rss_start_mib'], 1)} MiB "
        f"| {_f(r['rss_after_warmup_mib'], 1)} MiB | {_f(r['rss_end_mib'], 1)} MiB | {_f(r['rss_max_mib'], 1)} MiB "
        f"| {r['slope_samples']} every {c['sample_interval_s']:.0f} s after {c['warmup_s']:.0f} s |",
        "",
    ]
    halves = r.get("slope_halves_mib_per_min") or {}
    if halves:
        lines += [f"Slope of the first / second half of the window: {_f(halves.get('first_half'), 3)} / "
                  f"{_f(halves.get('second_half'), 3)} MiB/min.", ""]
    lines += [
        "Every send request on exactly one output (read `read_committed`):",
        "",
        "| sends | acked | delivered | suppressed | dead-lettered | lost | duplicated | delivered+suppressed "
        "| produce failed/unconfirmed | unknown outputs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {a['sends']:,} | {a['acked']:,} | {a['delivered']:,} | {a['suppressed']:,} | {a['deadlettered']:,} "
        f"| {a['lost']:,} | {a['duplicated']:,} | {a['delivered_and_suppressed']:,} "
        f"| {a['produce_failed']:,}/{a['produce_unconfirmed']:,} | {a['unknown_outputs']:,} |",
        "",
        f"Drain: {doc['drain']}. Outputs read: {doc['outputs']}.",
        "",
    ]
    if doc.get("png"):
        lines += [f"![RSS over time]({Path(doc['png']).name})", ""]
    for note in doc.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines).rstrip() + "\n"


def plot(doc: dict[str, Any], path: Path) -> str | None:
    """RSS over time; None (and a note) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    samples = doc["samples"]
    c, r = doc["config"], doc["rss"]
    t = [s["t_s"] / 60 for s in samples]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(t, [s["rss_mib"] for s in samples], label="RSS", color="tab:blue")
    ax.plot(t, [s.get("rss_anon_mib") for s in samples], label="RSS anonymous", color="tab:blue", alpha=0.4,
            linestyle="--")
    ax.axvline(c["warmup_s"] / 60, color="grey", linestyle=":", label="end of warm-up")
    ax.axvline(c["duration_s"] / 60, color="grey", linestyle="-.", label="end of load")
    window = [s for s in samples if c["warmup_s"] <= s["t_s"] <= c["duration_s"]]
    if r["slope_mib_per_min"] is not None and window:
        n = len(window)
        mt = sum(s["t_s"] for s in window) / n / 60
        mv = sum(s["rss_mib"] for s in window) / n
        xs = [window[0]["t_s"] / 60, window[-1]["t_s"] / 60]
        ax.plot(xs, [mv + r["slope_mib_per_min"] * (x - mt) for x in xs], color="tab:red",
                label=f"least squares: {r['slope_mib_per_min']:.3f} MiB/min")
    ax.set_xlabel("minutes since the load started")
    ax.set_ylabel("MiB")
    ax.set_title(f"Worker RSS, {c['rate']:,.0f} records/s to {c['numbers']:,} numbers ({c['guarantee']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def write(doc: dict[str, Any], out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    png = plot(doc, out / "latest.png")
    if png is None:
        doc.setdefault("notes", []).append("no PNG: matplotlib is not installed (make .venv/.bench-installed)")
    doc["png"] = png
    stamp = doc["meta"]["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    for name in ("latest.json", f"{stamp}.json"):
        (out / name).write_text(json.dumps(doc, indent=1) + "\n")
    (out / "latest.md").write_text(markdown(doc))
    paths["json"], paths["md"] = str(out / "latest.json"), str(out / "latest.md")
    if png:
        paths["png"] = png
    return paths
