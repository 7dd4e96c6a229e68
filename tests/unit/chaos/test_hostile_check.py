"""The hostile suite's accounting (no Kafka): outputs matched to records, processed without
output only past the committed offsets (of the input and of its routed record), vanished,
unexpected outcomes, misdeliveries, orphans, per-kind figures."""

from __future__ import annotations

import base64
import json

from chaos.hostile_check import Ledger, compact, figures, hashed_account, opted_pairs
from chaos.hostile_kinds import DL, NO_OUTPUT, OPT_OUT, PROVIDER, SUP_INVALID, HostileRecord

NAMES = {"inbound": "x.inbound", "outbound": "x.outbound", "status": "x.status"}
ROUTED = "x-routed"


def rec(n: int, kind: str, topic: str, expect: set[str], offset: int, **kw) -> HostileRecord:
    r = HostileRecord(kind, topic, b"{}", frozenset(expect), **kw)
    r.n, r.coords, r.ts_ms = n, (NAMES[topic], 0, offset), 1_000_000
    return r


def deadletter(source: tuple[str, int, int], error: str = "not valid JSON", payload: str | None = "x") -> dict:
    return {"source_topic": source[0], "partition": source[1], "offset": source[2], "error": error,
            "payload": payload, "payload_encoding": "utf-8", "key": None, "at": "2026-01-01T00:00:00+00:00"}


def outputs(**kinds: list[tuple[dict, int, int]]) -> dict[str, list[dict]]:
    return {kind: [compact(kind, v, p, o, ROUTED) for v, p, o in values] for kind, values in kinds.items()}


def test_dead_letters_by_coordinates_and_through_the_routed_record():
    a = rec(0, "outbound.random_bytes", "outbound", {DL}, 5)
    b = rec(1, "outbound.nested", "outbound", {PROVIDER}, 6, message_id="s-1", number="+12138762266")
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([a, b])
    routed_payload = json.dumps({"kind": "send", "origin": ["x.outbound", 0, 6]})
    ledger.ingest(outputs(deadletter=[(deadletter(a.coords), 0, 0),
                                      (deadletter((ROUTED, 2, 9), "internal error while processing: TypeError: x",
                                                  routed_payload), 0, 1)]))
    assert ledger.outcome(a, {}) == ("dead_lettered", [DL])
    assert ledger.unexpected(a, [DL]) == []
    status, tokens = ledger.outcome(b, {})
    assert (status, tokens) == ("dead_lettered", [DL])
    why = ledger.unexpected(b, tokens)
    assert any("not allowed" in w for w in why) and any("internal error" in w for w in why)


def test_base64_dead_letter_of_a_routed_record_is_traced_back():
    r = rec(0, "k", "inbound", {DL}, 3)
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([r])
    payload = base64.b64encode(json.dumps({"origin": ["x.inbound", 0, 3]}).encode()).decode()
    value = {**deadletter((ROUTED, 0, 1), "boom", payload), "payload_encoding": "base64"}
    ledger.ingest({"deadletter": [compact("deadletter", value, 0, 0, ROUTED)]})
    assert ledger.outcome(r, {})[1] == [DL]


def test_no_output_only_once_committed_past_the_input_and_its_routed_record():
    r = rec(0, "inbound.hello", "inbound", {NO_OUTPUT}, 10)
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([r])
    assert ledger.outcome(r, {}) == ("vanished", [])
    assert ledger.outcome(r, {("x.inbound", 0): 10})[0] == "vanished"  # committed offset = the record's own
    # committed past it, not routed: processed at routing (e.g. an ignored receipt)
    assert ledger.outcome(r, {("x.inbound", 0): 11}) == ("processed", [NO_OUTPUT])
    # routed: the routed record must be decided too
    ledger.ingest(outputs(routed=[({"kind": "reply", "origin": ["x.inbound", 0, 10]}, 3, 40)]))
    assert ledger.outcome(r, {("x.inbound", 0): 11})[0] == "vanished"
    assert ledger.outcome(r, {("x.inbound", 0): 11, (ROUTED, 3): 40})[0] == "vanished"
    assert ledger.outcome(r, {("x.inbound", 0): 11, (ROUTED, 3): 41}) == ("processed", [NO_OUTPUT])


def test_a_send_that_makes_nothing_is_unexpected_and_one_with_two_outcomes_too():
    s = rec(0, "valid.send_fresh", "outbound", {PROVIDER}, 1, message_id="s-1", number="+12138762266")
    t = rec(1, "valid.send_fresh", "outbound", {PROVIDER}, 2, message_id="s-2", number="+12138762267")
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([s, t])
    committed = {("x.outbound", 0): 3}
    status, tokens = ledger.outcome(s, committed)
    assert (status, tokens) == ("processed", [NO_OUTPUT])
    assert any("no_output not allowed" in w for w in ledger.unexpected(s, tokens))
    ledger.ingest(outputs(provider=[({"message_id": "s-2", "to": "+12138762267"}, 0, 0)],
                          suppressed=[({"reason": "opted_out", "message": {"message_id": "s-2"}}, 0, 0)]))
    status, tokens = ledger.outcome(t, committed)
    assert sorted(tokens) == [PROVIDER, "suppressed:opted_out"]
    assert any("2 outcomes" in w for w in ledger.unexpected(t, tokens))


def test_a_send_forwarded_to_another_number_is_misdelivered():
    s = rec(0, "outbound.digits_fullwidth", "outbound", {PROVIDER}, 1, message_id="s-1", number="+12138762266")
    v = rec(1, "outbound.letters_for_digits", "outbound", {SUP_INVALID}, 2, message_id="s-2")
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([s, v])
    ledger.ingest(outputs(provider=[({"message_id": "s-1", "to": "+12138762200"}, 0, 0),
                                    ({"message_id": "s-2", "to": "+12138762266"}, 0, 1)]))
    assert any(w.startswith("MISDELIVERED") for w in ledger.unexpected(s, ledger.outcome(s, {})[1]))
    assert any("provider not allowed" in w for w in ledger.unexpected(v, ledger.outcome(v, {})[1]))
    result = figures(ledger, {}, {})
    assert result["misdelivered"] == 2 and result["totals"]["unexpected"] == 2


def consent(number: str, intent: str, message_id: str | None, account: str = "default", verdict: str = "applied",
            event_time: str = "2026-01-01T00:00:00+00:00") -> dict:
    return {"account_id": account, "number": number, "intent": intent, "source": "keyword", "message_id": message_id,
            "verdict": verdict, "event_time": event_time, "body": "STOP"}


def test_consent_by_id_and_intent_by_number_for_derived_ids_and_checks():
    start = rec(0, "inbound.id_clash_start_then_stop", "inbound", {"consent:opt_in"}, 1, message_id="X",
                number="+12138762266")
    stop = rec(1, "inbound.id_clash_start_then_stop", "inbound", {OPT_OUT}, 2, message_id="X",
               number="+12138762266", opts_out=True)
    derived = rec(2, "inbound.stop_message_id_missing", "inbound", {OPT_OUT}, 3, number="+12138762277",
                  opts_out=True, account="42")
    stale = rec(3, "inbound.future_start_then_stop", "inbound", {OPT_OUT}, 4, message_id="r-9",
                number="+12138762288", opts_out=True)
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([start, stop, derived, stale])
    ledger.ingest(outputs(consent=[
        (consent("+12138762266", "opt_in", "X"), 0, 0),
        (consent("+12138762266", "opt_out", "X"), 0, 1),
        (consent("+12138762277", "opt_out", "x.inbound:0:3", account="42"), 0, 2),
        (consent("+12138762288", "opt_out", "r-9", verdict="stale"), 0, 3),
        (consent("+19999999999", "opt_out", "nobody"), 0, 4),
    ]))
    for r in (start, stop, derived):
        _, tokens = ledger.outcome(r, {})
        assert ledger.unexpected(r, tokens) == [], r.kind
    assert any("stale" in w for w in ledger.unexpected(stale, ledger.outcome(stale, {})[1]))
    assert len(ledger.orphans["consent"]) == 1
    pairs, _ = opted_pairs(ledger, {})
    assert ("+12138762277", "42") in pairs and ("+12138762288", "default") in pairs


def test_consent_account_and_event_time_checks():
    long_account = "acct-" + "x" * 300
    r = rec(0, "inbound.stop_account_long", "inbound", {OPT_OUT}, 1, message_id="r-1", number="+12138762266",
            account=long_account, opts_out=True)
    t = rec(1, "inbound.stop_received_at_not_string", "inbound", {OPT_OUT}, 2, message_id="r-2",
            number="+12138762267", opts_out=True, check_event=("ts", None))
    w = rec(2, "inbound.stop_account_number", "inbound", {OPT_OUT}, 3, message_id="r-3", number="+12138762268",
            account="42", opts_out=True)
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([r, t, w])
    ledger.ingest(outputs(consent=[
        (consent("+12138762266", "opt_out", "r-1", account=hashed_account(long_account)), 0, 0),
        (consent("+12138762267", "opt_out", "r-2", event_time="2026-01-01T00:00:00+00:00"), 0, 1),
        (consent("+12138762268", "opt_out", "r-3", account="default"), 0, 2),
    ]))
    assert ledger.unexpected(r, ledger.outcome(r, {})[1]) == []
    assert any("record timestamp" in x for x in ledger.unexpected(t, ledger.outcome(t, {})[1]))
    assert any("account" in x for x in ledger.unexpected(w, ledger.outcome(w, {})[1]))


def test_confirmations_to_the_wrong_number_and_unknown_outputs_are_reported():
    stop = rec(0, "valid.stop_mix", "inbound", {OPT_OUT}, 1, message_id="r-1", number="+12138762266", opts_out=True)
    ledger = Ledger(NAMES, ROUTED)
    ledger.add([stop])
    ledger.ingest(outputs(
        provider=[({"message_id": "r-1:opt-out", "to": "+12138769999", "category": "compliance",
                    "in_reply_to": "r-1"}, 0, 0),
                  ({"message_id": "who", "to": "+12138760000"}, 0, 1),
                  ({"message_id": "y:opt-out", "to": "+12138761111", "category": "compliance",
                    "in_reply_to": "y"}, 0, 2)],
        suppressed=[({"reason": "invalid_number", "message": {"message_id": 42}}, 0, 0)],
        deadletter=[(deadletter(("x.inbound", 0, 99)), 0, 0)],
        consent=[(consent("+12138762266", "opt_out", "r-1"), 0, 0)]))
    ledger.finish()
    assert any("confirmation sent to" in w for w in ledger.unexpected(stop, ledger.outcome(stop, {})[1]))
    assert {k: len(v) for k, v in ledger.orphans.items()} == {"provider": 1, "suppressed": 1, "deadletter": 1,
                                                               "confirmation": 1}


def test_figures_per_kind_and_variant():
    records = [rec(i, "outbound.tombstone", "outbound", {DL}, i) for i in range(3)]
    records.append(rec(3, "valid.stop_mix", "inbound", {OPT_OUT}, 0, message_id="r-1", number="+12138762266",
                       opts_out=True, valid=True))
    for r in records:
        r.key_variant, r.header_variant = "none", "binary"
    ledger = Ledger(NAMES, ROUTED)
    ledger.add(records)
    ledger.ingest(outputs(deadletter=[(deadletter(r.coords), 0, i) for i, r in enumerate(records[:2])]))
    result = figures(ledger, {("x.outbound", 0): 1}, {"outbound.tombstone": "a null value"})
    rows = {r["kind"]: r for r in result["per_kind"]}
    assert rows["outbound.tombstone"]["records"] == 3 and rows["outbound.tombstone"]["dead_lettered"] == 2
    assert rows["outbound.tombstone"]["vanished"] == 1 and rows["outbound.tombstone"]["note"] == "a null value"
    assert rows["valid.stop_mix"]["vanished"] == 1
    assert result["totals"] == {"records": 4, "dead_lettered": 2, "vanished": 2}
    assert result["hostile_totals"]["records"] == 3
    assert result["by_variant"]["headers:binary"] == {"records": 4, "as_expected": 2}
    assert len(result["examples"]) == 2
