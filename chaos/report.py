"""The run's summary: ``chaos/results/latest.json`` and ``latest.md``."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.config import REPO
from chaos.scenarios import ScenarioResult


def _fmt(values: list[float | None]) -> str:
    if not values:
        return "–"
    return ", ".join("stalled" if v is None else f"{v:.1f}" for v in values)


def commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()
        return out.stdout.strip() + (" (app/ modified)" if dirty else "") if out.returncode == 0 else None
    except OSError:
        return None


def runtime_fingerprint() -> str | None:
    """HEAD plus a hash of the uncommitted changes under app/: two different values mean the
    worker code changed between them (workers (re)started in between may have run either)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
        if head.returncode != 0:
            return None
        diff = subprocess.run(["git", "diff", "HEAD", "--", "app"], cwd=REPO, capture_output=True).stdout
        untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--", "app"], cwd=REPO,
                                   capture_output=True).stdout
        extra = hashlib.sha1(diff + untracked).hexdigest()[:8] if (diff or untracked) else "clean"
        return f"{head.stdout.strip()[:12]}+{extra}"
    except OSError:
        return None


def build(results: list[ScenarioResult], meta: dict[str, Any]) -> dict[str, Any]:
    per_guarantee: dict[str, dict[str, int]] = {}
    for r in results:
        g = per_guarantee.setdefault(r.guarantee, {"scenarios": 0, "duplicated_sends": 0, "duplicate_records": 0,
                                                   "delivered_and_suppressed": 0, "consent_duplicated": 0,
                                                   "confirmations_duplicated": 0})
        g["scenarios"] += 1
        if r.check:
            c = r.check.counts()
            g["duplicated_sends"] += c["duplicated_sends"]
            g["duplicate_records"] += c["duplicate_records"]
            g["delivered_and_suppressed"] += c["delivered_and_suppressed"]
            g["consent_duplicated"] += c["consent_duplicated"]
            g["confirmations_duplicated"] += c["confirmations_duplicated"]
    return {
        **meta,
        "ok": all(r.ok for r in results),
        "duplicates_per_guarantee": per_guarantee,
        "scenarios": [r.to_dict() for r in results],
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "commit": commit(),
        "runtime_at_end": runtime_fingerprint(),
    }


def _seconds(values: Any) -> str:
    return " / ".join(f"{v:+g}" for v in values)


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Chaos run",
        "",
        f"{doc['started_at']} – {doc['finished_at']}, scale **{doc['scale']['name']}** "
        f"({doc['scale']['rate']:,.0f} sends/s for {doc['scale']['duration_s']:.0f} s per scenario, "
        f"{doc['scale']['numbers']:,} numbers, {doc['scale']['replying']} replying), commit {doc.get('commit')}. "
        f"Result: **{'OK' if doc['ok'] else 'FAILED'}**.",
        *(["", f"Clocks: each send stamped by its producer {_seconds(doc['scale']['send_stamp_skews_s'])} s off the "
           f"real time (in turn); worker clocks {_seconds([ms / 1000 for ms in doc['scale']['worker_skews_ms']])} s "
           "off (worker 1, 2, 3). The checker goes by real time."]
          if doc["scale"].get("send_stamp_skews_s") is not None else []),
        *(["", f"**The worker code (app/) changed during this run** ({doc['runtime_at_start']} at the start, "
           f"{doc['runtime_at_end']} at the end): workers (re)started in between may have run either."]
          if doc.get("runtime_at_start") and doc.get("runtime_at_start") != doc.get("runtime_at_end") else []),
        "",
        "| scenario | guarantee | result | faults | sends | delivered | suppressed | dead-lettered | lost | "
        "duplicated sends | delivered+suppressed | violations: at request (+ STOP in flight) / after STOP ack / "
        "needless suppression | "
        "consent missing / dup | confirmations missing / dup | table mismatches / unanswered | "
        "outage gaps s (kill or broker → all partitions flowing) | rejoin gaps s | restart s (→ /health 200) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|",
    ]
    for s in doc["scenarios"]:
        c = (s.get("check") or {}).get("counts")
        faults = s["faults"]
        main = [f.get("gap_s") for f in faults if f["kind"] in ("kill", "broker-restart")]
        rejoin = [f.get("gap_s") for f in faults if f["kind"] == "rejoin"]
        result = "OK" if s["ok"] else "FAILED" if not s["error"] else "ERROR"
        if c:
            lines.append(
                f"| {s['letter']}. {s['scenario']} ({s['workers']} w) | {s['guarantee']} | {result} | "
                f"{s['kills']}/{s['faults_planned']} | {c['sends']:,} | {c['delivered']:,} | {c['suppressed']:,} | "
                f"{c['deadlettered']:,} | {c['lost']:,} | {c['duplicated_sends']:,} | "
                f"{c['delivered_and_suppressed']:,} | {c['violations_opted_out_at_request']} "
                f"(+ {c['violations_opted_out_at_request_in_flight']}) / "
                f"{c['violations_after_stop_ack']} / {c['violations_suppressed_never_opted_out']} | "
                f"{c['consent_missing']} / {c['consent_duplicated']} | {c['confirmations_missing']} / "
                f"{c['confirmations_duplicated']} | {c['table_mismatches']} / {c['table_unanswered']} | "
                f"{_fmt(main)} | {_fmt(rejoin)} | {_fmt(s['restart_s'])} |")
        else:
            lines.append(f"| {s['letter']}. {s['scenario']} ({s['workers']} w) | {s['guarantee']} | {result} | "
                         f"{s['kills']}/{s['faults_planned']} |" + " – |" * 14)
    lines += ["", "Duplicates per processing guarantee:", ""]
    for g, d in doc["duplicates_per_guarantee"].items():
        lines.append(f"- `{g}`: {d['duplicated_sends']:,} send(s) seen more than once ({d['duplicate_records']:,} "
                     f"extra records), {d['delivered_and_suppressed']:,} both delivered and suppressed, "
                     f"{d['consent_duplicated']} duplicated consent records, {d['confirmations_duplicated']} "
                     f"duplicated confirmations ({d['scenarios']} scenario runs)")
    lines += ["", "## Details", ""]
    for s in doc["scenarios"]:
        lines.append(f"### {s['letter']}. {s['scenario']}, {s['guarantee']}: {s['title']}")
        lines.append("")
        if s["failures"]:
            lines += [f"- **{f}**" for f in s["failures"]]
        lines.append(f"- produced: {s['produced']}; drain: {s['drain']}; took {s['duration_s']} s")
        for f in s["faults"]:
            lines.append(f"- {f['kind']} {f.get('worker', '')} at +{f.get('offset_s')} s: gap {f.get('gap_s')} s, "
                         f"fastest partition {f.get('fastest_partition_s')} s, stalled partitions "
                         f"{f.get('stalled_partitions')}, restart {f.get('restart_s')} s"
                         + (f", takeover seen after {f['takeover_observed_s']} s" if "takeover_observed_s" in f else "")
                         + (", resumed only after the next fault" if f.get("resumed_after_next_fault") else ""))
        if s["unexpected_exits"]:
            lines.append(f"- workers that exited on their own and were restarted: "
                         f"{[(e['worker'], e['code']) for e in s['unexpected_exits']]}")
        for note in s["notes"]:
            lines.append(f"- note: {note}")
        check = s.get("check")
        if check:
            lat = check.get("probe_latency_ms")
            if lat:
                lines.append(f"- probe latency (produce → outcome seen) ms: {lat}")
            for key in ("opted_out_at_request", "opted_out_at_request_in_flight", "after_stop_ack",
                        "suppressed_never_opted_out"):
                ex = check["optout"].get(f"{key}_examples")
                if ex:
                    lines.append(f"- {key} examples: `{json.dumps(ex[:3])}`")
            if check["sends"]["lost_examples"]:
                lines.append(f"- lost examples: `{json.dumps(check['sends']['lost_examples'][:3])}`")
        if s["error"]:
            lines += ["", "```", s["error"].strip()[-3000:], "```"]
        lines.append("")
    return "\n".join(lines) + "\n"


def write(doc: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, default=str) + "\n"
    latest_json = out_dir / "latest.json"
    latest_md = out_dir / "latest.md"
    latest_json.write_text(text)
    latest_md.write_text(markdown(doc))
    return latest_json, latest_md


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
