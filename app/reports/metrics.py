"""``GET /metrics``: Prometheus figures of one worker, in their own registry.

Counters and histograms are fed once per batch by the processor (:meth:`Metrics.observe`,
from the same :class:`app.stream.tally.Tally` the durable figures come from), never per record.
Gauges (lag, table size, recovery, review queue, held sends) are read when Prometheus
scrapes (:meth:`Metrics.set_gauges`, filled by the web view), so they cost the hot path
nothing. Labels take only bounded values (reasons, intents, sources, verdicts, purposes,
topic names and partition numbers): never a phone number or an account.

Counters are this process's since it started (Prometheus' ``rate()`` handles restarts);
a batch redone after a rewind is counted again here. The exact, durable, cluster-wide
figures are ``GET /stats`` (:mod:`app.stream.figures`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client import generate_latest as _generate
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.stream.histogram import BOUNDS_MS
from app.stream.tally import Tally

disable_created_metrics()  # no *_created series (this process has no other registry)
CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "sms_optout_"

SUPPRESS_REASONS = ("opted_out", "no_phone", "invalid_number")
DEAD_LETTER_REASONS = ("internal_error", "empty", "too_large", "not_json", "not_object", "body_too_long",
                       "not_reencodable", "invalid_sender", "invalid_receipt", "invalid_fields", "unexpected_topic")
INTENTS = ("opt_out", "opt_in", "help", "review", "none")
SOURCES = ("keyword", "phrase", "operator", "provider", "review", "review_deadline")
VERDICTS = ("applied", "unchanged", "stale", "logged", "dismissed", "duplicate")
PURPOSES = ("opt-out", "opt-in", "help")


def _bounded(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else "other"


@dataclass
class Gauges:
    """What a scrape reads from the worker (see ``app/runtime/web/stats_api.py``)."""

    ready: bool = False
    assigned_partitions: int = 0
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> records waiting
    table_keys: dict[int, int] = field(default_factory=dict)  # routed partition -> RocksDB estimate-num-keys
    recovering_partitions: int = 0
    recovery_remaining: int = 0  # changelog records still to apply (0 when not known)
    review_pending: int = 0
    review_oldest_age_s: float | None = None
    review_oldest_deadline_s: float | None = None  # seconds until the oldest item's deadline (< 0: past it)
    held_sends: int = 0
    held_oldest_s: float | None = None
    reply_gate_paused: bool = False
    checkpoints: int = 0
    block_cache_usage_bytes: int | None = None
    table_readers_bytes: int | None = None


class _Scraped(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        g = self.metrics.gauges

        def gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
            family = GaugeMetricFamily(PREFIX + name, doc)
            if value is not None:
                family.add_metric([], value)
            return family

        yield gauge("ready", "1 when the worker is assigned, recovered and processing (GET /health).", int(g.ready))
        yield gauge("assigned_partitions", "Partitions (input and routed) assigned to this worker.",
                    g.assigned_partitions)
        lag = GaugeMetricFamily(PREFIX + "consumer_lag_records", "Records waiting to be read, per assigned partition.",
                                labels=["topic", "partition"])
        for (topic, partition), n in sorted(g.lag.items()):
            lag.add_metric([topic, str(partition)], n)
        yield lag
        keys = GaugeMetricFamily(PREFIX + "table_keys", "Keys in a table partition held here (RocksDB "
                                 "estimate-num-keys: numbers, review items, bookkeeping).", labels=["partition"])
        for partition, n in sorted(g.table_keys.items()):
            keys.add_metric([str(partition)], n)
        yield keys
        yield gauge("recovering_partitions", "Table partitions being recovered from the changelog.",
                    g.recovering_partitions)
        yield gauge("recovery_remaining_records", "Changelog records still to apply before the recovering "
                    "partitions are ready.", g.recovery_remaining)
        yield gauge("review_pending", "Review items pending in the table partitions held here.", g.review_pending)
        yield gauge("review_oldest_age_seconds", "Age of the pending review item with the nearest deadline "
                    "(since the reply was written).", g.review_oldest_age_s)
        yield gauge("review_oldest_deadline_seconds", "Seconds until the nearest review deadline (negative: past).",
                    g.review_oldest_deadline_s)
        yield gauge("held_sends", "Sends held until every reply partition is routed past their time.", g.held_sends)
        yield gauge("held_oldest_seconds", "How long the oldest held send has waited.", g.held_oldest_s or 0.0)
        yield gauge("reply_gate_paused", "1 when sends have been held longer than OPTOUT_STALL_MS because a reply "
                    "partition is not routed (fail closed).", int(g.reply_gate_paused))
        checkpoints = CounterMetricFamily(PREFIX + "checkpoints", "Checkpoints made by this worker.")
        checkpoints.add_metric([], g.checkpoints)
        yield checkpoints
        yield gauge("rocksdb_block_cache_usage_bytes", "RocksDB's shared block cache usage (memtables included).",
                    g.block_cache_usage_bytes)
        yield gauge("rocksdb_table_readers_bytes", "RocksDB's index and filter blocks of the stored data, outside the "
                    "block cache (they follow the table's size).", g.table_readers_bytes)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.forwarded = Counter(PREFIX + "sends_forwarded", "Sends forwarded to the provider topic.", registry=r)
        self.suppressed = Counter(PREFIX + "sends_suppressed", "Sends suppressed, by reason.", ["reason"], registry=r)
        self.dead_lettered = Counter(PREFIX + "dead_letters", "Records dead-lettered, by reason.", ["reason"],
                                     registry=r)
        self.consent = Counter(PREFIX + "consent_events", "Consent log records, by intent, source and verdict.",
                               ["intent", "source", "verdict"], registry=r)
        self.confirmations = Counter(PREFIX + "confirmations", "Compliance replies sent (opt-out and opt-in "
                                     "confirmations, help), by purpose.", ["purpose"], registry=r)
        self.review_queued = Counter(PREFIX + "review_queued", "Replies queued for a person to review.", registry=r)
        buckets = [ms / 1000 for ms in BOUNDS_MS]
        self.honour = Histogram(PREFIX + "time_to_honour_seconds", "Opt-outs applied: the reply's event time to "
                                "the state change.", registry=r, buckets=buckets)
        self.confirm = Histogram(PREFIX + "confirmation_delay_seconds", "Opt-out confirmations: the reply's event "
                                 "time to the confirmation's production (FCC: 5 minutes).", registry=r,
                                 buckets=buckets)
        self.batch = Histogram(PREFIX + "batch_duration_seconds", "Time to process one batch of records.",
                               registry=r, buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        self.latency = Histogram(PREFIX + "processing_latency_seconds", "Record timestamp to processed, for the "
                                 "first record of each batch.", registry=r,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
        ProcessCollector(registry=r)
        self.gauges = Gauges()
        r.register(_Scraped(self))

    def observe(self, tallies: list[Tally], seconds: float | None, age_ms: int | None) -> None:
        """One batch (the processor's ``on_batch``)."""
        for t in tallies:
            if t.forwarded:
                self.forwarded.inc(t.forwarded)
            for reason, n in t.suppressed.items():
                self.suppressed.labels(_bounded(reason, SUPPRESS_REASONS)).inc(n)
            for reason, n in t.dead_lettered.items():
                self.dead_lettered.labels(_bounded(reason, DEAD_LETTER_REASONS)).inc(n)
            for kind, n in t.consent.items():
                intent, source, _rule, verdict = (kind.split("|") + ["", "", "", ""])[:4]
                self.consent.labels(_bounded(intent, INTENTS), _bounded(source, SOURCES),
                                    _bounded(verdict, VERDICTS)).inc(n)
            for purpose, n in t.confirmations.items():
                self.confirmations.labels(_bounded(purpose, PURPOSES)).inc(n)
            if t.review_queued:
                self.review_queued.inc(t.review_queued)
            for ms in t.honour_ms:
                self.honour.observe(max(ms, 0) / 1000)
            for ms in t.confirm_ms:
                self.confirm.observe(max(ms, 0) / 1000)
        if seconds is not None:
            self.batch.observe(seconds)
        if age_ms is not None:
            self.latency.observe(max(age_ms, 0) / 1000)

    def set_gauges(self, gauges: Gauges) -> None:
        self.gauges = gauges

    def render(self) -> bytes:
        return _generate(self.registry)

    def names(self) -> set[str]:
        """Every series name this registry can expose (``_total``, ``_bucket``... included)."""
        out: set[str] = set()
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "gauge": ("",), "summary": ("", "_sum", "_count", "_created")}
        for family in self.registry.collect():
            out.add(family.name)
            for suffix in suffixes.get(family.type, ("",)):
                out.add(family.name + suffix)
            out.update(sample.name for sample in family.samples)
        return out
