"""The chaos checker's logic, on hand-made models and outputs (no Kafka)."""

from __future__ import annotations

import json

from chaos import checker
from chaos.checker import (
    account_confirmations,
    account_consent,
    account_sends,
    check,
    classify_delivery,
    compare_table,
    expected_final_states,
    model_verdicts,
    optout_violations,
    outage_gaps,
    send_outcomes,
)
from chaos.collector import send_id_of

A, B, C = "+16175550001", "+16175550002", "+16175550003"
MS = 1000  # µs


def send(mid: str, number: str, t_ms: int, *, acked: int | None = None, error: str | None = None,
         probe: bool = False, partition: int = 0) -> dict:
    return {"message_id": mid, "number": number, "t_us": t_ms * MS,
            "acked_us": None if error else (acked if acked is not None else t_ms + 5) * MS, "error": error,
            "probe": probe, "routed_partition": partition}


def reply(mid: str, number: str, intent: str, t_ms: int, *, acked: int | None = None, error: str | None = None
          ) -> dict:
    return {"message_id": mid, "number": number, "intent": intent, "body": "STOP" if intent == "opt_out" else "START",
            "t_us": t_ms * MS, "acked_us": None if error else (acked if acked is not None else t_ms + 5) * MS,
            "error": error}


def provider(mid: str, number: str, **extra) -> dict:
    return {"message_id": mid, "to": number, "body": "x", **extra}


def suppressed(mid: str, number: str, reason: str = "opted_out") -> dict:
    return {"reason": reason, "message": {"message_id": mid, "to": number, "body": "x"}}


def confirmation(reply_id: str, number: str, intent: str) -> dict:
    suffix = ":opt-out" if intent == "opt_out" else ":opt-in"
    return provider(f"{reply_id}{suffix}", number, category="compliance", in_reply_to=reply_id)


def consent(reply_id: str, number: str, intent: str, verdict: str = "applied") -> dict:
    return {"message_id": reply_id, "number": number, "intent": intent, "verdict": verdict}


# ------------------------------------------------------------------ outcomes and accounting


def test_outcomes_skip_compliance_and_read_dead_letters_of_both_topics():
    outputs = {
        "provider": [provider("s1", A), confirmation("r1", A, "opt_out")],
        "suppressed": [suppressed("s2", B)],
        "deadletter": [
            {"source_topic": "x.outbound", "partition": 0, "offset": 3, "payload": json.dumps(
                {"message_id": "s3", "to": A, "body": "x"}), "payload_encoding": "utf-8"},
            {"source_topic": "x-routed", "partition": 1, "offset": 4, "payload": json.dumps(
                {"kind": "send", "message": {"message_id": "s4", "to": A, "body": "x"}}), "payload_encoding": "utf-8"},
            {"source_topic": "x.outbound", "partition": 0, "offset": 9, "payload": "garbage",
             "payload_encoding": "utf-8"},
        ],
    }
    ids = send_outcomes(outputs)
    assert ids["s1"] == ["provider"]
    assert ids["s2"] == ["suppressed:opted_out"]
    assert ids["s3"] == ["deadletter"] and ids["s4"] == ["deadletter"]
    assert ids["deadletter@x.outbound:0:9"] == ["deadletter"]
    assert "r1" not in ids and "r1:opt-out" not in ids


def test_send_id_of_base64_dead_letter():
    import base64

    payload = base64.b64encode(json.dumps({"message_id": "s9", "to": A, "body": "x"}).encode()).decode()
    assert send_id_of("deadletter", {"payload": payload, "payload_encoding": "base64"}) == "s9"
    assert send_id_of("consent", {"message_id": "r1"}) is None


def test_lost_duplicated_and_both_are_counted_apart():
    sends = [send("s1", A, 10), send("s2", A, 11), send("s3", B, 12), send("s4", B, 13), send("s5", C, 14),
             send("s6", C, 15, error="KafkaTimeoutError")]
    outcomes = {"s1": ["provider"], "s2": ["provider", "provider"], "s3": ["provider", "suppressed:opted_out"],
                "s4": ["deadletter"], "zzz": ["provider"]}
    acc = account_sends(sends, outcomes)
    assert acc["lost"] == 1 and acc["lost_examples"][0]["message_id"] == "s5"  # s6 failed: fate unknown
    assert acc["produce_failed"] == 1
    assert acc["duplicated"] == 2 and acc["duplicate_records"] == 2
    assert acc["delivered_and_suppressed"] == 1
    assert acc["delivered_and_suppressed_examples"][0]["message_id"] == "s3"
    assert (acc["delivered"], acc["suppressed"], acc["deadlettered"]) == (3, 1, 1)
    assert acc["unknown_outputs"] == 1


# ------------------------------------------------------------------ opt-out invariants


def test_delivery_after_an_acknowledged_stop_violates_both():
    replies = [reply("r1", A, "opt_out", 100, acked=105)]
    assert classify_delivery(200 * MS, replies)[:2] == ("violation", "violation")


def test_delivery_while_the_stop_is_still_in_flight_is_a_race_not_a_violation():
    replies = [reply("r1", A, "opt_out", 100, acked=300)]
    assert classify_delivery(200 * MS, replies)[:2] == ("in_flight", None)


def test_delivery_before_the_stop_or_after_a_start_is_fine():
    replies = [reply("r1", A, "opt_out", 100, acked=105), reply("r2", A, "opt_in", 200, acked=205)]
    assert classify_delivery(50 * MS, replies)[:2] == (None, None)
    assert classify_delivery(300 * MS, replies)[:2] == (None, None)


def test_start_in_flight_after_an_acked_stop_is_a_race_for_invariant_two():
    # STOP acked at 105, START received at 200 but acked only at 400, send at 300
    replies = [reply("r1", A, "opt_out", 100, acked=105), reply("r2", A, "opt_in", 200, acked=400)]
    assert classify_delivery(300 * MS, replies)[:2] == (None, "in_flight")


def test_a_start_acknowledged_before_a_buffered_send_comes_first_in_the_brokers_order():
    """STOP acked at 105; the send is made at 200 but sits in its producer's buffer (the broker
    away) until 600; a START made at 300 is acknowledged at 500, before the send: by the
    broker's order the START came first (only the producer's clock says otherwise)."""
    replies = [reply("r1", A, "opt_out", 100, acked=105), reply("r2", A, "opt_in", 300, acked=500)]
    assert classify_delivery(200 * MS, replies, 600 * MS)[:2] == ("in_flight", "in_flight")
    # the send acknowledged before the START: a violation, whatever its producer's clock says
    assert classify_delivery(200 * MS, replies, 400 * MS)[:2] == ("violation", "violation")
    assert classify_delivery(200 * MS, replies)[:2] == ("violation", "violation")  # ack time unknown


def test_repeated_stop_in_flight_still_violates_when_an_earlier_stop_of_the_period_was_acked():
    replies = [reply("r1", A, "opt_out", 100, acked=105), reply("r2", A, "opt_out", 290, acked=400)]
    inv1, inv2, stop = classify_delivery(300 * MS, replies)
    assert (inv1, inv2) == ("violation", "violation") and stop["message_id"] == "r1"


def test_stop_start_stop_uses_the_latest_period():
    replies = [reply("r1", A, "opt_out", 100, acked=105), reply("r2", A, "opt_in", 200, acked=205),
               reply("r3", A, "opt_out", 300, acked=500)]
    assert classify_delivery(400 * MS, replies)[:2] == ("in_flight", None)
    assert classify_delivery(600 * MS, replies)[:2] == ("violation", "violation")


def test_optout_violations_only_judge_deliveries_and_flag_needless_suppression():
    replies = [reply("r1", A, "opt_out", 100, acked=105)]
    sends = [send("s1", A, 200), send("s2", A, 201), send("s3", B, 202), send("s4", A, 50), send("s5", C, 60)]
    outcomes = {"s1": ["provider"], "s2": ["suppressed:opted_out"], "s3": ["suppressed:opted_out"],
                "s4": ["suppressed:opted_out"], "s5": ["suppressed:invalid_number"]}
    v = optout_violations(sends, replies, outcomes)
    assert v["opted_out_at_request"] == 1 and v["after_stop_ack"] == 1
    assert v["opted_out_at_request_examples"][0]["stop"] == "r1"
    assert v["opted_out_at_request_examples"][0]["send_after_stop_ack_ms"] == 95.0
    # s4 was requested before the STOP: suppressing it is fine (fail closed); B and C never opted out
    assert v["suppressed_never_opted_out"] == 2
    assert {e["message_id"] for e in v["suppressed_never_opted_out_examples"]} == {"s3", "s5"}


def test_a_failed_stop_never_causes_a_violation_but_allows_suppression():
    replies = [reply("r1", A, "opt_out", 100, error="timeout")]
    sends = [send("s1", A, 200), send("s2", A, 201)]
    v = optout_violations(sends, replies, {"s1": ["provider"], "s2": ["suppressed:opted_out"]})
    assert v["opted_out_at_request"] == v["after_stop_ack"] == v["suppressed_never_opted_out"] == 0


# ------------------------------------------------------------------ consent and confirmations


def test_model_verdicts_replay_in_event_time_order():
    replies = [reply("r3", A, "opt_in", 300), reply("r1", A, "opt_out", 100), reply("r2", A, "opt_out", 200),
               reply("r4", B, "opt_in", 100)]
    assert model_verdicts(replies) == {"r1": "applied", "r2": "unchanged", "r3": "applied", "r4": "unchanged"}


def test_consent_missing_duplicated_and_wrong_intent():
    replies = [reply("r1", A, "opt_out", 100), reply("r2", A, "opt_in", 200), reply("r3", B, "opt_out", 150),
               reply("r4", C, "opt_out", 160, error="timeout")]
    records = [consent("r1", A, "opt_out"), consent("r1", A, "opt_out", "unchanged"), consent("r2", A, "opt_out")]
    acc = account_consent(replies, records)
    assert acc["missing"] == 1 and acc["missing_examples"][0]["message_id"] == "r3"  # r4 failed: not counted
    assert acc["duplicated"] == 1 and acc["duplicated_examples"][0]["verdicts"] == ["applied", "unchanged"]
    assert acc["wrong_intent"] == 1
    assert acc["verdicts"] == {"applied": 2, "unchanged": 1}


def test_confirmations_expected_for_applied_changes_only():
    replies = [reply("r1", A, "opt_out", 100), reply("r2", A, "opt_out", 150), reply("r3", A, "opt_in", 200),
               reply("r4", B, "opt_out", 100), reply("r5", C, "opt_out", 100)]
    records = [consent("r1", A, "opt_out"), consent("r2", A, "opt_out", "unchanged"), consent("r3", A, "opt_in"),
               consent("r5", C, "opt_out", "unchanged")]  # r4: no consent record; the model says applied
    prov = [confirmation("r1", A, "opt_out"), confirmation("r1", A, "opt_out"), confirmation("r2", A, "opt_out"),
            provider("s1", A)]
    acc = account_confirmations(replies, records, prov)
    assert acc["expected"] == 3  # r1, r3 (consent: applied) and r4 (no record; model: applied); not r5
    assert {e["message_id"] for e in acc["missing_examples"]} == {"r3", "r4"}
    assert acc["duplicated"] == 1 and acc["unexpected"] == 1  # r2 was unchanged
    assert acc["verdicts_differing_from_model"] == 1  # r5: model says applied, runtime unchanged


# ------------------------------------------------------------------ table


def test_expected_final_states_and_comparison():
    replies = [reply("r1", A, "opt_out", 100), reply("r2", A, "opt_in", 200), reply("r3", B, "opt_out", 100),
               reply("r4", C, "opt_out", 100, error="timeout")]
    expected = expected_final_states(replies, [A, B, C, "+16175550009"])
    assert expected == {A: False, B: True, C: None, "+16175550009": False}
    answers = {A: {"status": 200, "opted_out": True}, B: {"status": 200, "opted_out": True},
               C: {"status": 200, "opted_out": False}, "+16175550009": {"status": 503, "opted_out": None}}
    table = compare_table(expected, answers)
    assert table["checked"] == 3 and table["mismatches"] == 1 and table["unanswered"] == 1
    assert table["mismatch_examples"][0]["number"] == A


# ------------------------------------------------------------------ timing


def test_outage_gap_is_the_slowest_partition_to_resume():
    probes = [send(f"p{i}-{p}", f"+1857555000{p}", 1000 + i * 250, probe=True, partition=p)
              for i in range(8) for p in range(2)]
    # fault at 1100 ms; partition 0 resumes with the probe of 1250 (seen at 1300),
    # partition 1 only with the probe of 1750 (seen at 2600)
    first_seen = {"p0-0": 1010 * MS, "p1-0": 1300 * MS, "p3-1": 2600 * MS, "p4-1": 2650 * MS}
    gaps = outage_gaps(probes, first_seen, [{"kind": "kill", "at_us": 1100 * MS, "worker": "w1"}], 2)
    assert gaps[0]["gap_s"] == 1.5 and gaps[0]["fastest_partition_s"] == 0.2
    assert gaps[0]["worker"] == "w1" and gaps[0]["stalled_partitions"] == []
    stalled = outage_gaps(probes, {"p1-0": 1300 * MS}, [{"kind": "kill", "at_us": 1100 * MS}], 2)
    assert stalled[0]["gap_s"] is None and stalled[0]["stalled_partitions"] == [1]


# ------------------------------------------------------------------ all together


def test_check_clean_run_is_ok_and_summary_prints():
    replies = [reply("r1", A, "opt_out", 100), reply("r2", A, "opt_in", 300)]
    sends = [send("s1", A, 50), send("s2", A, 200), send("s3", A, 400), send("s4", B, 200)]
    outputs = {
        "provider": [provider("s1", A), provider("s3", A), provider("s4", B), confirmation("r1", A, "opt_out"),
                     confirmation("r2", A, "opt_in")],
        "suppressed": [suppressed("s2", A)],
        "deadletter": [],
        "consent": [consent("r1", A, "opt_out"), consent("r2", A, "opt_in")],
    }
    answers = {A: {"status": 200, "opted_out": False}, B: {"status": 200, "opted_out": False}}
    result = check({"sends": sends, "replies": replies, "numbers": [A, B], "partitions": 1}, outputs, answers)
    assert result.ok, result.summary()
    assert result.counts()["sends"] == 4 and result.counts()["lost"] == 0
    assert "OK" in result.summary()
    assert result.to_dict()["ok"] is True


def test_check_reports_every_kind_of_failure():
    replies = [reply("r1", A, "opt_out", 100)]
    sends = [send("s1", A, 200), send("s2", B, 200), send("s3", B, 210)]
    outputs = {"provider": [provider("s1", A), provider("s3", B), provider("s3", B)], "suppressed": [],
               "deadletter": [], "consent": []}
    answers = {A: {"status": 200, "opted_out": False}}
    result = check({"sends": sends, "replies": replies, "numbers": [A, B], "partitions": 1}, outputs, answers,
                   no_duplicates=True)
    text = " | ".join(result.failures)
    assert not result.ok
    for needle in ("lost", "opted out at request", "acknowledged STOP", "consent record", "confirmation",
                   "differ from the model", "exactly-once"):
        assert needle in text, (needle, text)
    assert checker.EXAMPLES >= 1


def test_in_flight_deliveries_fail_only_when_strict():
    replies = [reply("r1", A, "opt_out", 100, acked=300)]
    sends = [send("s1", A, 200)]
    outputs = {"provider": [provider("s1", A), confirmation("r1", A, "opt_out")], "suppressed": [],
               "deadletter": [], "consent": [consent("r1", A, "opt_out")]}
    model = {"sends": sends, "replies": replies, "numbers": [A], "partitions": 1}
    answers = {A: {"status": 200, "opted_out": True}}
    relaxed = check(model, outputs, answers)
    assert relaxed.ok, relaxed.summary()
    assert relaxed.counts()["violations_opted_out_at_request_in_flight"] == 1
    strict = check(model, outputs, answers, strict_in_flight=True)
    assert not strict.ok and "still in flight" in strict.failures[0]
