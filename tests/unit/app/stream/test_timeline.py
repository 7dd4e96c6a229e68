"""The consent timeline (app/stream/timeline.py) and what the decider keeps of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from app.records import Origin, Receipt, loads
from app.settings import Settings
from app.stream import keys, timeline
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.router import Router

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NUMBER = "+14155550101"


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def event(minutes: float, intent: str = "opt_out", verdict: str = "applied", mid: str | None = None, **extra) -> dict:
    return {"event_time": at(minutes), "processed_at": at(minutes + 1), "intent": intent, "verdict": verdict,
            "message_id": mid or f"m{minutes}", "source": "keyword", "consent": {"partition": 0, "offset": 1}, **extra}


# ------------------------------------------------------------ bounding


def test_a_flood_keeps_the_earliest_and_the_latest_and_counts_the_rest():
    history = None
    for i in range(1000):
        history = timeline.append(history, event(i), 50)
    assert len(history["events"]) == 50
    kept = [e["message_id"] for e in history["events"]]
    assert kept[:timeline.HEAD] == [f"m{i}" for i in range(timeline.HEAD)]
    assert kept[timeline.HEAD:] == [f"m{i}" for i in range(1000 - 50 + timeline.HEAD, 1000)]
    assert history["left_out"] == 950
    assert history["left_out_from"] == at(timeline.HEAD)
    assert history["left_out_until"] == at(1000 - 50 + timeline.HEAD - 1)


def test_an_entry_fits_its_budget_whatever_its_texts():
    hostile = "\x00" * 2000  # 6 bytes each, escaped
    record = {"event_time": at(0), "processed_at": at(0), "intent": "opt_out", "source": "operator",
              "body": hostile, "reason": "\x01" * 500, "requested_by": "\x02" * 500, "note": "n" * 900,
              "message_id": "x" * 256, "verdict": "applied", "to": "+18005550000"}
    for max_events in (20, 200, 1000):
        budget = timeline.entry_budget(max_events)
        receipt = Receipt()
        entry = timeline.entry(record, receipt, "x:opt-out", budget)
        receipt.fill(7, 10**12)
        assert len(orjson.dumps(entry)) <= budget
        assert entry["body_chars"] == 2000
    # a whole history of such entries fits in one changelog record
    history = None
    for i in range(200):
        history = timeline.append(history, timeline.entry(record, Receipt(), None, timeline.entry_budget(200)), 200)
    assert len(orjson.dumps(history)) < timeline.RECORD_BYTES + 1000


def test_an_ordinary_entry_is_kept_whole():
    record = {"event_time": at(0), "processed_at": at(0), "intent": "opt_out", "source": "provider", "rule": "21610",
              "matched": "21610", "body": None, "message_id": "p1", "verdict": "applied", "provider": "twilio"}
    entry = timeline.entry(record, {"partition": 1, "offset": 2}, None, 4400)
    assert entry == {"event_time": at(0), "processed_at": at(0), "intent": "opt_out", "source": "provider",
                     "rule": "21610", "matched": "21610", "code": "21610", "message_id": "p1", "verdict": "applied",
                     "provider": "twilio", "consent": {"partition": 1, "offset": 2}}


# ------------------------------------------------------------ as_of


def test_as_of_is_read_in_event_time_with_the_ordering_rule():
    events = [
        event(0, "opt_out", mid="stop1"),
        event(60, "opt_in", mid="start1"),
        event(30, "opt_out", "stale", mid="late-stop"),  # written at 10:30, processed after the START
        event(120, "help", "logged", mid="help1"),
    ]
    assert timeline.state_as_of(events, T0 - timedelta(seconds=1)) is None
    assert timeline.state_as_of(events, T0)["opted_out"] is True
    assert timeline.state_as_of(events, T0 + timedelta(minutes=45))["changed_at"] == at(0)  # still the first STOP
    later = timeline.state_as_of(events, T0 + timedelta(minutes=90))
    assert later == {"opted_out": False, "changed_at": at(60), "source": "keyword", "rule": None, "matched": None,
                     "message_id": "start1"}


def test_at_the_same_event_time_an_opt_out_outranks_an_opt_in():
    events = [event(5, "opt_in", mid="zz"), event(5, "opt_out", mid="aa")]
    assert timeline.state_as_of(events, T0 + timedelta(minutes=5))["opted_out"] is True


def test_the_answer_lists_events_oldest_first_and_filters_by_as_of():
    history = None
    for e in (event(10, mid="b"), event(0, "opt_in", "unchanged", mid="a"), event(20, "opt_in", mid="c")):
        history = timeline.append(history, e, 200)
    state = {"opted_out": False, "changed_at": at(20), "source": "keyword", "rule": "keyword", "matched": "start",
             "message_id": "c", "last_event_at": at(20)}
    body = timeline.answer(NUMBER, "acme", state, history, {"count": 3})
    assert [e["message_id"] for e in body["events"]] == ["a", "b", "c"]
    assert set(body["events"][0]) >= set(timeline.FIELDS)
    assert body["state"]["opted_out"] is False and body["as_of"] is None
    assert body["suppressed_since_opt_out"] == 3 and body["events_left_out"] == 0
    past = timeline.answer(NUMBER, "acme", state, history, None, as_of=T0 + timedelta(minutes=15))
    assert [e["message_id"] for e in past["events"]] == ["a", "b"]
    assert past["state"]["opted_out"] is True and past["as_of_exact"] is True
    assert timeline.answer(NUMBER, "acme", None, None, None)["state"] is None


def test_an_entry_whose_record_is_not_acknowledged_yet_is_not_shown():
    history = timeline.append(None, event(0, mid="acked"), 200)
    history = timeline.append(history, {**event(1, mid="in-flight"), "consent": Receipt()}, 200)
    body = timeline.answer(NUMBER, "acme", None, history, None)
    assert [e["message_id"] for e in body["events"]] == ["acked"]


def test_as_of_inside_the_left_out_events_says_it_is_not_exact():
    history = None
    for i in range(100):
        history = timeline.append(history, event(i, "opt_out" if i % 2 else "opt_in"), 20)
    assert timeline.answer(NUMBER, "a", None, history, None, as_of=T0 + timedelta(minutes=5))["as_of_exact"]
    assert not timeline.answer(NUMBER, "a", None, history, None, as_of=T0 + timedelta(minutes=50))["as_of_exact"]


# ------------------------------------------------------------ the decider keeps it


class Harness:
    def __init__(self, **settings) -> None:
        self.settings = Settings(partitions=8, kafka_bootstrap_servers="unused:9092", **settings)
        self.stats = Stats()
        self.router = Router(self.settings, self.stats)
        self.decider = Decider(self.settings, self.stats)
        self.table: dict = {}
        self.offset = 0

    def feed(self, topic: str, value: dict, ts: datetime) -> list:
        self.offset += 1
        routed = self.router.route(Origin(topic, 0, self.offset, int(ts.timestamp() * 1000)), None,
                                   orjson.dumps(value))
        assert routed.topic == self.settings.routed_topic
        outputs = self.decider.process(routed.value, self.table)
        for i, out in enumerate(outputs):  # acknowledged, as a producer port would
            if out.receipt is not None:
                out.receipt.fill(3, 100 + self.offset * 10 + i)
        return outputs

    def reply(self, mid: str, body: str, ts: datetime, account: str = "acme") -> list:
        return self.feed(self.settings.inbound_topic, {"message_id": mid, "from": NUMBER, "to": "+18005550000",
                                                       "body": body, "account_id": account}, ts)

    def send(self, mid: str, ts: datetime, account: str = "acme") -> list:
        return self.feed(self.settings.outbound_topic, {"message_id": mid, "to": NUMBER, "body": "promo",
                                                        "account_id": account}, ts)

    def history(self, account: str = "acme") -> dict:
        return loads(orjson.dumps(timeline.read_history(self.table.get, NUMBER, account)))


def test_the_decider_keeps_each_consent_record_with_its_confirmation_and_coordinates():
    h = Harness()
    outputs = h.reply("r1", "STOP", T0)
    consent = next(o for o in outputs if o.topic == "sms.consent")
    confirmation = next(o for o in outputs if o.topic == "sms.provider")
    h.send("s1", T0 + timedelta(minutes=1))
    h.send("s2", T0 + timedelta(minutes=2))
    h.reply("r2", "stop", T0 + timedelta(minutes=3))  # unchanged: no confirmation
    h.reply("r3", "HELP", T0 + timedelta(minutes=4))
    events = h.history()["events"]
    assert [(e["message_id"], e["intent"], e["verdict"]) for e in events] == [
        ("r1", "opt_out", "applied"), ("r2", "opt_out", "unchanged"), ("r3", "help", "logged")]
    first = events[0]
    assert first["confirmation_message_id"] == loads(confirmation.value)["message_id"] == "r1:opt-out"
    assert first["consent"] == {"partition": 3, "offset": consent.receipt["offset"]}
    assert first["body"] == "STOP" and first["to"] == "+18005550000" and first["rule"] == "keyword"
    assert first["keywords_id"].startswith("kw-")
    assert "confirmation_message_id" not in events[1]
    assert events[2]["confirmation_message_id"] == "r3:help"
    suppressed = h.table[keys.suppressed_key(NUMBER, "acme")]
    assert suppressed["count"] == 2 and suppressed["opt_out"] == "r1"
    # an opt-in, then a new opt-out: the count starts again
    h.reply("r4", "START", T0 + timedelta(minutes=5))
    h.send("s3", T0 + timedelta(minutes=6))
    h.reply("r5", "STOP", T0 + timedelta(minutes=7))
    assert h.table[keys.suppressed_key(NUMBER, "acme")]["count"] == 0
    h.send("s4", T0 + timedelta(minutes=8))
    assert h.table[keys.suppressed_key(NUMBER, "acme")]["count"] == 1
    # the keyword configuration that classified them is kept
    configs = timeline.remembered_configs(h.table)
    assert [c["config_id"] for c in configs] == [h.decider.keyword_config["config_id"]]


def test_a_replayed_reply_adds_no_entry_and_an_operator_opt_out_keeps_who_and_why():
    h = Harness()
    h.reply("r1", "STOP", T0)
    h.reply("r1", "STOP", T0)  # replay: a duplicate is not logged
    assert len(h.history()["events"]) == 1
    routed = h.router.operator_opt_out(NUMBER, "acme", "asked by phone", "agent-7")
    h.decider.process(routed.value, h.table)
    last = h.history()["events"][-1]
    assert (last["source"], last["requested_by"], last["reason"], last["verdict"]) == (
        "operator", "agent-7", "asked by phone", "unchanged")
    assert last["consent"] == {"partition": None, "offset": None}  # not acknowledged (no port here)


def test_global_scope_keeps_one_timeline_per_number_with_each_event_account():
    h = Harness(scope="global")
    h.reply("r1", "STOP", T0, account="a")
    h.reply("r2", "HELP", T0 + timedelta(minutes=1), account="b")
    events = h.history("*")["events"]
    assert [(e["message_id"], e["account_id"]) for e in events] == [("r1", "a"), ("r2", "b")]


# ------------------------------------------------------------ stored in slots


class Table(dict):
    """A state's ``get`` and item assignment (None: the key's value is cleared)."""


def stored(table: Table, max_events: int, events: list[dict], number: str = NUMBER, account: str = "acme") -> dict:
    for e in events:
        timeline.append_event(table, number, account, e, max_events)
    return timeline.read_history(table.get, number, account)


def test_slots_keep_what_a_whole_history_keeps_at_every_length():
    for max_events in (20, 21, 37, 200):
        table, whole = Table(), None
        for i in range(3 * max_events + 5):
            e = event(i % 17, "opt_out" if i % 3 else "opt_in", mid=f"m{i}")  # event times out of order
            whole = timeline.append(whole, e, max_events)
            assert stored(table, max_events, [e]) == whole, (max_events, i)


def test_an_event_is_two_small_writes_and_the_keys_stay_within_the_bound():
    table = Table()
    stored(table, 20, [event(i) for i in range(1000)])
    slots = [k for k in table if k.startswith(b"history|")]
    assert len(slots) == 20 and len(table) == 21  # the slots and the timeline's counters
    assert all(not k.startswith(b"+") for k in slots)  # listings read the "+..." consent keys only
    meta = table[keys.history_key(NUMBER, "acme")]
    assert meta["next"] == 1000 and meta["left_out"] == 980 and len(orjson.dumps(meta)) < 200


def test_a_timeline_stored_as_one_value_is_read_as_it_is_and_moved_to_slots_at_its_next_event():
    old = None
    for i in range(30):
        old = timeline.append(old, event(i, mid=f"m{i}"), 25)
    table = Table({keys.history_key(NUMBER, "acme"): loads(orjson.dumps(old))})
    assert timeline.read_history(table.get, NUMBER, "acme") == old
    after = stored(table, 25, [event(31, mid="new")])
    assert after == timeline.append(old, event(31, mid="new"), 25)
    assert "events" not in table[keys.history_key(NUMBER, "acme")]


def test_a_changed_bound_keeps_what_a_whole_history_would_and_leaves_no_stale_slot():
    for first, then in ((60, 20), (20, 60)):
        table, whole = Table(), None
        for i in range(100):
            whole = timeline.append(whole, event(i, mid=f"m{i}"), first)
        stored(table, first, [event(i, mid=f"m{i}") for i in range(100)])
        for i in range(100, 105):
            whole = timeline.append(whole, event(i, mid=f"m{i}"), then)
            assert stored(table, then, [event(i, mid=f"m{i}")]) == whole, (first, then, i)
        live = [k for k, v in table.items() if k.startswith(b"history|") and v is not None]
        assert len(live) == len(whole["events"])


def test_timelines_of_numbers_and_accounts_do_not_share_slots():
    table = Table()
    stored(table, 20, [event(0, mid="a")], account="acme")
    stored(table, 20, [event(1, mid="b")], account="acme|0000")  # an account id holding the separator
    stored(table, 20, [event(2, mid="c")], number="+14155550102")
    assert [e["message_id"] for e in timeline.read_history(table.get, NUMBER, "acme")["events"]] == ["a"]
    assert [e["message_id"] for e in timeline.read_history(table.get, NUMBER, "acme|0000")["events"]] == ["b"]
    assert timeline.read_history(table.get, NUMBER, "other") is None


def test_counts_stored_without_their_slot_never_show_an_earlier_rounds_entry():
    """A kill part-way through a checkpoint's changelog records: the replay restores the
    timeline's counts of the next event but not its slot, which still holds the entry of the
    ring's previous round; then the reply is processed again."""
    table = Table()
    events = [event(i, mid=f"m{i}") for i in range(45)]
    stored(table, 20, events)  # the ring (10 slots) went round 3 times
    meta_key = keys.history_key(NUMBER, "acme")
    before = {k: loads(orjson.dumps(v)) for k, v in table.items()}
    stored(table, 20, [event(45, mid="m45")])
    restored = Table({**before, meta_key: table[meta_key]})  # the counts, not the slot
    shown = [e["message_id"] for e in timeline.read_history(restored.get, NUMBER, "acme")["events"]]
    assert "m35" not in shown and shown == [f"m{i}" for i in (*range(10), *range(36, 45))]
    replayed = stored(restored, 20, [event(45, mid="m45")])
    assert [e["message_id"] for e in replayed["events"]] == [f"m{i}" for i in (*range(10), *range(37, 45))] + ["m45"]
