"""The mergeable compliance figures: histograms and their percentiles, what a batch's outputs
count (app/stream/tally.py), the figures kept in a partition's state, bounded (app/stream/figures.py),
merged across partitions in any order, and read back after a restart."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.state import MemoryStore, PartitionState
from app.records import Output, dumps
from app.reports import stats_answer
from app.stream import figures, histogram, keys
from app.stream.histogram import BOUNDS_MS, DAY, FIVE_MINUTES_MS, MINUTE
from app.stream.tally import OTHER, Tally, Topics, dead_letter_reason, route_outcome

TOPICS = Topics("sms.provider", "sms.suppressed", "sms.deadletter", "sms.consent", "sms.review")
NOW = 1_796_000_000_000  # 2026-11-29


# ------------------------------------------------------------ histogram


def hist(values: list[int]) -> dict:
    h = histogram.empty()
    for v in values:
        histogram.observe(h, v)
    return h


def test_percentiles_are_the_upper_bound_of_their_bucket_capped_by_the_maximum() -> None:
    h = hist([5] * 50 + [700] * 49 + [42_000])
    assert histogram.percentile(h, 0.5) == 10
    assert histogram.percentile(h, 0.99) == 1000
    assert histogram.percentile(h, 1.0) == 42_000  # the maximum, exact
    assert h["max"] == 42_000 and h["n"] == 100
    assert histogram.percentile(histogram.empty(), 0.5) is None
    assert histogram.percentile(hist([7]), 0.99) == 7  # below its bucket's bound: the maximum
    assert histogram.percentile(hist([40 * DAY]), 0.5) == 40 * DAY  # above every bound


def test_five_minutes_is_counted_exactly() -> None:
    h = hist([FIVE_MINUTES_MS, FIVE_MINUTES_MS + 1, 299_999, -5])
    assert histogram.at_most(h, FIVE_MINUTES_MS) == 3
    assert h["c"][0] == 1  # a negative duration (a clock ahead) counts as 0


@given(st.lists(st.integers(0, 60 * DAY), max_size=60), st.lists(st.integers(0, 60 * DAY), max_size=60))
def test_histograms_merge_to_the_histogram_of_all_values(a: list[int], b: list[int]) -> None:
    merged = histogram.merge(hist(a), hist(b))
    assert merged == hist(a + b)
    for q in (0.5, 0.99):
        p = histogram.percentile(merged, q)
        if a + b:
            values = sorted(a + b)
            true = values[max(0, -(-int(q * len(values) * 1_000_000) // 1_000_000) - 1)]
            assert p >= true  # never below the true value
            bigger = [bound for bound in BOUNDS_MS if bound >= true]
            assert p <= (bigger[0] if bigger else max(values))  # at most the bound of its bucket


def test_a_stored_histogram_is_checked_before_it_is_trusted() -> None:
    assert histogram.valid(histogram.empty())
    assert not histogram.valid({"c": [1, 2], "n": 3, "sum": 0, "max": 0})
    assert not histogram.valid(None) and not histogram.valid({"c": "x"})


# ------------------------------------------------------------ counting a batch's outputs


def consent(mid: str, intent: str, verdict: str, event: str, processed: str, source: str = "keyword",
            rule: str = "keyword") -> Output:
    return Output("sms.consent", dumps({"account_id": "a", "number": "+14155550100", "intent": intent,
                                        "source": source, "rule": rule, "message_id": mid, "event_time": event,
                                        "processed_at": processed, "verdict": verdict}))


def confirmation(mid: str, purpose: str) -> Output:
    return Output("sms.provider", dumps({"message_id": f"{mid}:{purpose}", "account_id": "a", "to": "+14155550100",
                                         "from": None, "body": "...", "category": "compliance",
                                         "in_reply_to": mid}))


def send(account: str = "acme", **extra) -> Output:
    return Output("sms.provider", dumps({"message_id": "s", "account_id": account, "to": "+14155550100",
                                         "body": "hi", **extra}))


def suppressed(reason: str, account: str | None = "acme") -> Output:
    message = {"message_id": "s", "to": "+14155550100", "body": "hi"}
    if account is not None:
        message["account_id"] = account
    return Output("sms.suppressed", dumps({"reason": reason, "message": message}))


def test_a_batch_is_counted_from_its_outputs() -> None:
    outputs = [
        send(), send(),
        consent("r1", "opt_out", "applied", "2026-11-29T10:00:00+00:00", "2026-11-29T10:00:00.250000+00:00"),
        confirmation("r1", "opt-out"),
        send(),  # after a consent record: a send, not a confirmation
        consent("r2", "opt_out", "unchanged", "2026-11-29T10:00:01+00:00", "2026-11-29T10:00:01.100000+00:00"),
        send(category="compliance", in_reply_to="r9"),  # a client's send that looks like one: a send
        consent("h1", "help", "logged", "2026-11-29T10:00:02+00:00", "2026-11-29T10:00:02+00:00"),
        confirmation("h1", "help"),
        suppressed("opted_out"), suppressed("opted_out", account=None), suppressed("no_phone"),
        Output("sms.deadletter", dumps({"error": "internal error while processing: KeyError: 'x'"})),
        Output("sms.review", dumps({"review_id": "1.abc"})),
    ]
    t = Tally()
    event_ms = int(datetime(2026, 11, 29, 10, tzinfo=UTC).timestamp() * 1000)
    t.count_outputs(outputs, TOPICS, event_ms + 400)
    assert t.forwarded == 4
    assert t.confirmations == {"opt-out": 1, "help": 1}
    assert t.suppressed == {"opted_out": 2, "no_phone": 1}
    assert t.prevented == {"acme": 1, "default": 1}
    assert t.dead_lettered == {"internal_error": 1}
    assert t.review_queued == 1
    assert t.consent == {"opt_out|keyword|keyword|applied": 1, "opt_out|keyword|keyword|unchanged": 1,
                         "help|keyword|keyword|logged": 1}
    assert t.honour_ms == [250] and t.confirm_ms == [400]
    assert t.applied("opt_out") == 1 and t.applied("opt_in") == 0


def test_routing_stage_outcomes() -> None:
    assert route_outcome(Output("x-routed", b"{}"), TOPICS) is None
    assert route_outcome(suppressed("invalid_number"), TOPICS) == ("s", "invalid_number")
    assert route_outcome(Output("sms.deadletter", dumps({"error": "not valid JSON: x"})), TOPICS) == ("d", "not_json")
    t = Tally()
    t.count_route_outcomes([[4, "s", "no_phone"], [9, "d", "not_json"], [11, "s", "no_phone"]])
    assert t.suppressed == {"no_phone": 2} and t.dead_lettered == {"not_json": 1}


@pytest.mark.parametrize(("error", "name"), [
    ("empty record (no value)", "empty"), ("record is 70000 bytes, over the limit of 65536", "too_large"),
    ("expected a JSON object, got list", "not_object"), ("body is 3000 characters, over the limit", "body_too_long"),
    ("invalid OutboundSend: message_id: Field required", "invalid_fields"), ("field 'from': no digits", "invalid_sender"),
    ("something new", "other"),
])
def test_dead_letter_reasons_are_a_fixed_set(error: str, name: str) -> None:
    assert dead_letter_reason(error) == name


# ------------------------------------------------------------ kept in the partition's state


def a_tally(prevented: dict[str, int] | None = None, forwarded: int = 2) -> Tally:
    t = Tally()
    t.forwarded = forwarded
    t.suppressed = {"opted_out": sum((prevented or {}).values())} if prevented else {}
    t.prevented = dict(prevented or {})
    t.consent = {"opt_out|keyword|keyword|applied": 1}
    t.confirmations = {"opt-out": 1}
    t.honour_ms, t.confirm_ms = [120], [130]
    return t


def test_figures_survive_a_restart_through_the_store() -> None:
    store = MemoryStore()
    state = PartitionState(0, store)
    figures.add(state, a_tally({"acme": 3}), NOW)
    figures.add(state, a_tally(), NOW + MINUTE)
    before = stats_answer.read(state, NOW + MINUTE)
    state.persist(state.pending(), 10)  # the checkpoint's last step
    reread = stats_answer.read(PartitionState(0, store), NOW + MINUTE)  # a new process, same store
    assert reread == before
    assert reread["totals"]["forwarded"] == 4 and len(reread["minutes"]) == 2 and len(reread["hours"]) == 1
    assert list(reread["days"].values()) == [{"acme": 3}]


def test_the_keys_kept_are_bounded_whatever_the_time() -> None:
    table: dict = {}
    for minute in range(0, 3 * 24 * 60, 7):  # three days, every 7 minutes
        figures.add(table, a_tally({"acme": 1}), NOW + minute * MINUTE)
    for day in range(40):
        figures.add(table, a_tally({"acme": 1}), NOW + 3 * DAY + day * DAY)
    kept = {k for k in table if k.startswith(b"__stats__")}
    assert len(kept) <= 1 + figures.MINUTE_SLOTS + figures.HOUR_SLOTS + figures.DAY_SLOTS
    got = stats_answer.read(table, NOW + 43 * DAY)
    assert len(got["days"]) <= figures.DAYS_KEPT
    assert all(NOW + 43 * DAY - int(t) < DAY for t in got["minutes"])
    assert all(NOW + 43 * DAY - int(t) < figures.HOUR_SLOTS * 3600_000 for t in got["hours"])


def test_accounts_per_partition_and_day_are_capped_the_rest_folded() -> None:
    table: dict = {}
    accounts = {f"acct-{i}": 1 for i in range(figures.MAX_ACCOUNTS_PER_DAY + 50)}
    figures.add(table, a_tally(accounts), NOW)
    figures.add(table, a_tally({"acct-0": 5, "late-newcomer": 2}), NOW)
    day = next(iter(stats_answer.read(table, NOW)["days"].values()))
    assert len(day) == figures.MAX_ACCOUNTS_PER_DAY + 1
    assert day[OTHER] == 50 + 2 and day["acct-0"] == 6
    assert sum(day.values()) == sum(accounts.values()) + 7
    rendered = stats_answer.render(stats_answer.merge(stats_answer.empty(), stats_answer.read(table, NOW)), NOW)
    shown = rendered["prevented_sends"][0]["by_account"]
    assert len(shown) == figures.MAX_ACCOUNTS_SHOWN + 1 and sum(shown.values()) == sum(day.values())


def test_consent_kinds_are_capped() -> None:
    table: dict = {}
    t = Tally()
    t.consent = {f"opt_out|keyword|rule{i}|applied": 1 for i in range(300)}
    figures.add(table, t, NOW)
    kinds = table[keys.STATS_TOTALS_KEY]["consent"]
    assert len(kinds) == 256 + 1 and sum(kinds.values()) == 300


def test_a_broken_stored_value_is_started_again_not_trusted() -> None:
    table = {keys.STATS_TOTALS_KEY: {"v": 1, "honour": "junk"}, figures.minute_key(NOW): [1, 2]}
    figures.add(table, a_tally(), NOW)
    assert table[keys.STATS_TOTALS_KEY]["forwarded"] == 2


def test_routing_tallies_are_counted_once() -> None:
    table: dict = {}
    first = figures.fresh_route_outcomes(table, "sms.outbound:1", [[3, "s", "no_phone"], [8, "d", "not_json"]])
    assert len(first) == 2
    again = figures.fresh_route_outcomes(table, "sms.outbound:1", [[3, "s", "no_phone"], [8, "d", "not_json"],
                                                                   [12, "s", "invalid_number"]])
    assert again == [[12, "s", "invalid_number"]]
    assert figures.fresh_route_outcomes(table, "sms.outbound:0", [[3, "s", "no_phone"]])  # another partition
    assert figures.fresh_route_outcomes(table, "x", [["bad"], [1, 2]]) == []
    # a record repeated inside one tally (routed twice in one batch after a rewind) counts once
    assert figures.fresh_route_outcomes(table, "y", [[5, "s", "no_phone"], [5, "s", "no_phone"]]) == [
        [5, "s", "no_phone"]]


def test_merging_partitions_in_any_order_gives_the_same_figures() -> None:
    rng = random.Random(7)
    parts = []
    for p in range(6):
        table: dict = {}
        for i in range(rng.randint(1, 5)):
            figures.add(table, a_tally({f"acct{rng.randint(0, 3)}": rng.randint(1, 4)}, rng.randint(0, 9)),
                        NOW + rng.randint(0, 3 * 3600_000))
        parts.append(stats_answer.read(table, NOW + 4 * 3600_000))
    orders = [list(range(6)), list(reversed(range(6))), rng.sample(range(6), 6)]
    results = []
    for order in orders:
        merged = stats_answer.empty()
        for p in order:
            stats_answer.merge(merged, parts[p])
        results.append(stats_answer.render(merged, NOW + 4 * 3600_000))
    assert results[0] == results[1] == results[2]
    total = sum(p["totals"]["forwarded"] for p in parts)
    assert results[0]["totals"]["forwarded"] == total == sum(b["forwarded"] for b in results[0]["series"]["per_hour"])


def test_the_review_queue_summary_names_the_nearest_deadline() -> None:
    table = {b"reviews|pending": {"1.a": [NOW + 5000, "acme"], "1.b": [NOW - 1000, "acme"]},
             b"review|1.b": {"event_time": "2026-11-15T10:00:00+00:00"}}
    summary = stats_answer.review_summary(table)
    assert summary == {"pending": 2, "oldest_deadline_ms": NOW - 1000, "oldest_event_time": "2026-11-15T10:00:00+00:00"}
    merged = stats_answer.merge(stats_answer.empty(), {"review": summary})
    oldest = stats_answer.render(merged, NOW)["review_queue"]["oldest"]
    assert oldest["overdue"] is True and oldest["time_left_s"] == -1.0 and oldest["age_s"] > 0


def test_what_the_processor_keeps_decoded_is_the_current_buckets_only() -> None:
    table: dict = {}
    kept: dict = {}
    plain: dict = {}
    for minute in range(0, 600, 7):
        figures.add(table, a_tally({"acme": 1}), NOW + minute * MINUTE, kept)
        figures.add(plain, a_tally({"acme": 1}), NOW + minute * MINUTE)
        assert len(kept) <= 4
    assert table == plain  # the same figures, read back or not

