"""A small mixed workload for the in-memory driver, and how to read its outcome."""

from __future__ import annotations

from collections import Counter

from app.engine.driver import Driver
from app.settings import Settings
from app.stream.partitioner import partition_for

NUMBERS = [f"+1415555{n:04d}" for n in range(101, 109)]


def in_place_settings() -> Settings:
    """The send topic partitioned as the routed topic: sends on their number's partition are
    decided in place (exactly-once)."""
    return Settings(kafka_bootstrap_servers="memory:0", partitions=4, input_partitions=4, commit_interval_ms=1,
                    progress_interval_ms=1)


def feed(d: Driver, part: int, in_place: bool = False) -> None:
    """Part 0 and 1 of the workload: replies and sends over every input partition; ``in_place``:
    also a send per number on its number's partition (decided in place under exactly-once when
    the send topic has as many partitions as the routed topic)."""
    for i, number in enumerate(NUMBERS):
        if in_place:
            d.send(f"home-{part}-{i}", number, partition=partition_for(number, d.settings.partitions))
        p = i % d.settings.input_partitions
        if part == 0:
            if i % 2 == 0:
                d.reply(f"stop-{i}", number, "STOP", partition=p)
            d.send(f"a-{i}", number, partition=(p + 1) % d.settings.input_partitions)
            if i % 3 == 0:
                d.reply(f"help-{i}", number, "HELP", partition=p)
        else:
            if i % 4 == 0:
                d.reply(f"start-{i}", number, "START", partition=p)
            d.send(f"b-{i}", number, partition=p)
            d.send(f"c-{i}", number, partition=(p + 1) % d.settings.input_partitions)
            if i % 3 == 1:
                d.reply(f"review-{i}", number, "we have got to stop this bill", partition=p)


def outcomes(d: Driver) -> dict[str, Counter]:
    """Identity -> how often it is on the output topics, per kind of output."""
    s = d.settings
    sends: Counter = Counter()
    compliance: Counter = Counter()
    for r in d.read(s.provider_topic):
        if r.get("category") == "compliance":
            compliance[r["message_id"]] += 1
        else:
            sends[f"{r['message_id']}=provider"] += 1
    for r in d.read(s.suppressed_topic):
        sends[f"{r['message']['message_id']}={r['reason']}"] += 1
    consent = Counter(f"{r['message_id']}={r['verdict']}" for r in d.read(s.consent_topic))
    review = Counter(r["message_id"] for r in d.read(s.review_topic))
    dead = Counter(str(r.get("error")) for r in d.read(s.deadletter_topic))
    return {"sends": sends, "compliance": compliance, "consent": consent, "review": review, "dead": dead}


def final_states(d: Driver) -> dict[str, bool | None]:
    return {n: (st or {}).get("opted_out") for n in NUMBERS for st in [d.state(n)]}
