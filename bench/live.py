"""Figures measured against a running system: latency at fixed offered loads, and the
project's opt-out propagation latency."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

import orjson
from confluent_kafka import Producer
from tqdm import tqdm

from bench import verify
from bench.data import SENDER
from bench.verify import COMPLIANCE, PROVIDER, SUPPRESSED


class Recorder:
    """Collector callback: every output record, grouped by the prefix of its message id."""

    def __init__(self, roles: dict[str, str]) -> None:
        self.roles = roles
        self.groups: dict[str, list[tuple[str, str, int | None, int]]] = defaultdict(list)
        self.lock = threading.Lock()

    def __call__(self, topic: str, value: bytes, recv_ns: int) -> None:
        kind, mid, send = verify.parse_output(self.roles[topic], value)
        sent = send.get("sent_at_ns") if isinstance(send, dict) else None
        prefix = mid.split("-", 1)[0]
        with self.lock:
            self.groups[prefix].append((kind, mid, sent, recv_ns))

    def get(self, prefix: str) -> list[tuple[str, str, int | None, int]]:
        with self.lock:
            return list(self.groups.get(prefix, ()))

    def sends(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for e in self.groups.get(prefix, ()) if e[0] != COMPLIANCE)


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[idx]


def send_value(mid: str, to: str, body: str = "Your verification code is 482913.") -> bytes:
    return orjson.dumps({"message_id": mid, "account_id": "default", "to": to, "from": SENDER, "body": body,
                         "sent_at_ns": time.time_ns()})


def latency_phase(
    *,
    label: str,
    producer: Producer,
    topic: str,
    rate: int,
    seconds: float,
    drain: float,
    recipients: list[str],
    opted_out: set[str],
    role_of: Callable[[bool], str],
    recorder: Recorder,
    offset: int,
    random_keys: bool = False,
) -> dict:
    """Offer ``rate`` msg/s for ``seconds`` (paced), then wait at most ``drain`` seconds for
    the outputs. Latency = arrival at the collector - sent_at_ns in the record."""
    prefix = f"L{rate}"
    n = max(1, int(rate * seconds))
    expected: dict[str, str] = {}
    produce, poll = producer.produce, producer.poll
    bar = tqdm(total=n, desc=f"{label}: latency @ {rate:,} msg/s", unit="msg", unit_scale=True, leave=False)
    start = time.perf_counter()
    t_start_ns = time.time_ns()
    i = 0
    while i < n:
        due = min(n, int((time.perf_counter() - start) * rate) + 1)
        sent_before = i
        while i < due:
            to = recipients[(offset + i) % len(recipients)]
            mid = f"{prefix}-{i}"
            expected[mid] = role_of(to in opted_out)
            try:
                produce(topic, send_value(mid, to), mid.encode() if random_keys else to.encode())
            except BufferError:
                poll(0.01)
                continue
            i += 1
        poll(0)
        bar.update(i - sent_before)
        if i < n:
            time.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    producer.flush(30)
    produce_s = time.perf_counter() - start
    t_end = time.time()
    bar.close()
    deadline = t_end + drain
    while recorder.sends(prefix) < n and time.time() < deadline:
        time.sleep(0.01)
    entries = [e for e in recorder.get(prefix) if e[0] != COMPLIANCE]
    unique = {e[1] for e in entries}
    drained = len(unique) == n
    verify.check(f"{label} latency @ {rate} msg/s", [(k, m) for k, m, _, _ in entries], expected, complete=drained)
    lat_ms = sorted((recv - sent) / 1e6 for _, _, sent, recv in entries if sent)
    last_recv = max((recv for *_, recv in entries), default=t_start_ns)
    lag_s = (last_recv / 1e9) - t_end
    achieved = len(unique) / max(1e-9, (last_recv - t_start_ns) / 1e9) if entries else 0.0
    kept_up = drained and lag_s <= 1.0 and achieved >= 0.9 * (n / produce_s)
    return {
        "offered_msg_s": rate,
        "sent": n,
        "produce_s": round(produce_s, 3),
        "actual_offered_msg_s": round(n / produce_s, 1),
        "received": len(unique),
        "drained": drained,
        "lag_after_last_send_s": round(lag_s, 3),
        "achieved_msg_s": round(achieved, 1),
        "kept_up": kept_up,
        "p50_ms": round(_pct(lat_ms, 0.50), 2),
        "p99_ms": round(_pct(lat_ms, 0.99), 2),
        "max_ms": round(lat_ms[-1], 2) if lat_ms else None,
    }


def latency_figure(*, label: str, producer: Producer, topic: str, loads: tuple[int, ...], seconds: float,
                   drain: float, recipients: list[str], opted_out: set[str], role_of: Callable[[bool], str],
                   recorder: Recorder, skip_after_saturation: bool = True,
                   random_keys: bool = False) -> dict[str, dict]:
    """``random_keys``: each send keyed by its message id (a partition unrelated to its number),
    else by its number (Kafka's default partitioner: the number's partition)."""
    out: dict[str, dict] = {}
    saturated_at: int | None = None
    offset = 0
    for rate in loads:
        if saturated_at is not None:
            out[str(rate)] = {"offered_msg_s": rate, "skipped": f"could not keep up at {saturated_at:,} msg/s",
                              "kept_up": False}
            continue
        res = latency_phase(label=label, producer=producer, topic=topic, rate=rate, seconds=seconds, drain=drain,
                            recipients=recipients, opted_out=opted_out, role_of=role_of, recorder=recorder,
                            offset=offset, random_keys=random_keys)
        offset += res["sent"]
        out[str(rate)] = res
        state = "kept up" if res["kept_up"] else f"COULD NOT KEEP UP (achieved {res['achieved_msg_s']:,.0f} msg/s)"
        tqdm.write(f"  {label} @ {rate:,} msg/s: p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
                   f"max {res['max_ms']} ms; {state}")
        if not res["kept_up"] and skip_after_saturation:
            saturated_at = rate
        time.sleep(0.5)
    return out


def propagation(*, label: str, producer: Producer, inbound: str, outbound: str, numbers: list[str],
                recorder: Recorder, interval: float = 0.005, timeout: float = 15.0) -> dict:
    """STOP for a fresh number at t0, then a send to it every ``interval`` s until one comes
    back suppressed; propagation = produce time of the first suppressed send - t0."""
    results_ms: list[float] = []
    seen_ms: list[float] = []
    for r, number in enumerate(tqdm(numbers, desc=f"{label}: opt-out propagation", unit="round", leave=False)):
        prefix = f"P{r}"
        sent_at: dict[int, int] = {}
        t0 = time.time_ns()
        producer.produce(inbound, orjson.dumps({"message_id": f"{prefix}-stop", "account_id": "default",
                                                "from": number, "body": "STOP"}), number.encode())
        producer.poll(0)
        seq = 0
        deadline = time.monotonic() + timeout
        next_at = time.perf_counter()
        while True:
            mid = f"{prefix}-{seq}"
            value = send_value(mid, number)
            sent_at[seq] = orjson.loads(value)["sent_at_ns"]
            producer.produce(outbound, value, number.encode())
            producer.poll(0)
            seq += 1
            if any(k == SUPPRESSED for k, *_ in recorder.get(prefix)):
                break
            if time.monotonic() > deadline:
                raise verify.VerificationError(
                    f"{label}: no send to {number} came back suppressed within {timeout}s of its STOP")
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        producer.flush(10)
        drain_until = time.monotonic() + 10
        while recorder.sends(prefix) < seq and time.monotonic() < drain_until:
            time.sleep(0.005)
        entries = recorder.get(prefix)
        outs = [(k, m) for k, m, _, _ in entries]
        seqs = {int(m.split("-", 1)[1]): k for k, m in outs if k != COMPLIANCE}
        first = min(s for s, k in seqs.items() if k == SUPPRESSED)
        expected = {f"{prefix}-{s}": (PROVIDER if s < first else SUPPRESSED) for s in range(seq)}
        # every send before the first suppressed one was delivered, every one after it suppressed
        verify.check(f"{label} propagation round {r}", outs, expected, compliance={f"{prefix}-stop"},
                     complete=False)
        if len(seqs) != seq:
            raise verify.VerificationError(f"{label} propagation round {r}: {seq} sends, {len(seqs)} came out")
        results_ms.append((sent_at[first] - t0) / 1e6)
        seen_ms.append((min(recv for k, _, _, recv in entries if k == SUPPRESSED) - t0) / 1e6)
    ordered, seen = sorted(results_ms), sorted(seen_ms)
    return {
        "rounds": len(ordered),
        "send_interval_ms": interval * 1000,
        "p50_ms": round(_pct(ordered, 0.5), 1),
        "p99_ms": round(_pct(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1),
        "min_ms": round(ordered[0], 1),
        # STOP produced -> first suppressed output seen by the collector
        "observed_p50_ms": round(_pct(seen, 0.5), 1),
        "observed_p99_ms": round(_pct(seen, 0.99), 1),
        "observed_max_ms": round(seen[-1], 1),
    }
