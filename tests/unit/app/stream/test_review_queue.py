"""The review queue: queued with the opt-out table, decided once, opted out at its deadline (no Kafka)."""

from __future__ import annotations

import pytest

from app.domain.policy import Policy
from app.stream import review_queue
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from schemas import ConsentRecord, ReviewItem
from tests.unit.app.scenarios.test_consent_flows import BASE, Harness, consent

NUMBER = "+14155550101"
SENTENCE = "we have got to stop this bill"


@pytest.fixture
def h():
    return Harness()


def queue(h: Harness, mid: str = "r1", number: str = NUMBER, **extra) -> dict:
    result = h.reply(mid, SENTENCE, number=number, **extra)
    (item,) = result[BASE.review_topic]
    ReviewItem.model_validate(item)
    assert consent(result)["review_id"] == item["review_id"]
    return item


def decide(h: Harness, item: dict, kind: Kind = Kind.REVIEW_DECISION, **fields) -> dict[str, list[dict]]:
    return h.apply_routed(h.router.review_event(kind, item, **fields).value)


def test_a_queued_reply_is_pending_in_its_partition(h):
    item = queue(h)
    assert item["review_id"].startswith(f"{partition_for(NUMBER, BASE.partitions)}.")
    assert review_queue.partition_of(item["review_id"]) == partition_for(NUMBER, BASE.partitions)
    (pending,) = review_queue.listing(h.table, None, None, 10)
    assert pending["review_id"] == item["review_id"] and pending["state"] == "pending"
    assert review_queue.listing(h.table, "other-account", None, 10) == []
    assert h.send("s1") == "provider"  # pending changes nothing


def test_an_opt_out_decision_is_recorded_with_the_reply_and_the_decider(h):
    item = queue(h)
    result = decide(h, item, decision="opt_out", decided_by="agent-7", note="clearly wants out")
    log = consent(result)
    ConsentRecord.model_validate(log)
    assert (log["intent"], log["source"], log["verdict"]) == ("opt_out", "review", "applied")
    assert log["body"] == SENTENCE and log["event_time"] == item["event_time"] and log["message_id"] == "r1"
    assert (log["decided_by"], log["note"], log["review_id"]) == ("agent-7", "clearly wants out", item["review_id"])
    assert BASE.provider_topic in result  # confirmed like a STOP
    assert h.send("s1") == "opted_out"
    assert review_queue.listing(h.table, None, None, 10) == []
    assert review_queue.get(h.table, item["review_id"])["decision"] == "opt_out"


def test_decisions_are_idempotent(h):
    item = queue(h)
    assert consent(decide(h, item, decision="dismiss", decided_by="a"))["verdict"] == "dismissed"
    assert decide(h, item, decision="opt_out", decided_by="b") == {}  # decided already: nothing
    assert decide(h, item, decision="dismiss", decided_by="a") == {}
    assert h.send("s1") == "provider"


def test_dismiss_is_logged_and_changes_nothing(h):
    item = queue(h)
    log = consent(decide(h, item, decision="dismiss", decided_by="agent-7", note="about a bill"))
    ConsentRecord.model_validate(log)
    assert (log["intent"], log["source"], log["verdict"], log["new_state"]) == ("review", "review", "dismissed", None)


def test_an_undecided_item_is_opted_out_at_its_deadline(h):
    item = queue(h)
    result = decide(h, item, Kind.REVIEW_EXPIRED)
    log = consent(result)
    assert (log["source"], log["rule"], log["decided_by"]) == ("review_deadline", "review_deadline", "deadline")
    assert h.send("s1") == "opted_out"
    assert decide(h, item, Kind.REVIEW_EXPIRED) == {}


def test_expiry_can_be_turned_off():
    h = Harness(BASE.model_copy(update={"review_expiry": "keep"}))
    item = queue(h)
    assert decide(h, item, Kind.REVIEW_EXPIRED) == {}
    assert len(review_queue.listing(h.table, None, None, 10)) == 1


def test_expired_lists_what_is_past_its_deadline():
    h = Harness(BASE.model_copy(update={"review_business_days": 0}))
    item = queue(h)
    deadline_ms = review_queue.get(h.table, item["review_id"])["deadline_ms"]
    assert review_queue.expired(h.table, deadline_ms - 1) == []
    assert [i["review_id"] for i in review_queue.expired(h.table, deadline_ms)] == [item["review_id"]]


def test_a_full_queue_opts_out_at_once():
    h = Harness(BASE.model_copy(update={"review_max_pending": 1}))
    queue(h, "r1", "+14155550101")
    numbers = [n for n in (f"+1415555{i:04d}" for i in range(200, 400))
               if partition_for(n, BASE.partitions) == partition_for("+14155550101", BASE.partitions)]
    result = h.reply("r2", SENTENCE, number=numbers[0])
    log = consent(result)
    assert (log["source"], log["rule"], log["new_state"]) == ("review_deadline", "review_queue_full", "opted_out")
    assert BASE.review_topic not in result


def test_no_decision_opts_anyone_in(h):
    h.reply("r0", "STOP")
    item = queue(h, "r1")
    with pytest.raises(ValueError):
        decide(h, item, decision="opt_in", decided_by="x")
    assert h.send("s1") == "opted_out"


def test_review_ids_say_nothing_about_the_number():
    rid = review_queue.review_id(3, NUMBER, "default", "r1")
    assert "5550101" not in rid and review_queue.partition_of(rid) == 3
    for bad in ("", "3", "3.xyz", "a.0123456789abcdef01", "3." + "0" * 17, "999999.0123456789abcdef01"):
        assert review_queue.partition_of(bad) is None


def test_consent_records_carry_the_number_written_to_and_the_word_lists(h):
    log = consent(h.reply("r1", "STOP"))
    assert log["to"] == "+18005550000" and log["keywords_id"].startswith("kw-")
    other = Harness(policy=Policy(default_locales="en"))
    assert consent(other.reply("r1", "STOP"))["keywords_id"] != log["keywords_id"]
