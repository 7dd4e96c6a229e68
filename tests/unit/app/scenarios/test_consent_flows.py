"""Replies, confirmations, help, review, scope, ordering and the consent log, without Kafka."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from app.domain.policy import Policy, Profile
from app.records import Origin, loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.keys import consent_key
from app.stream.router import Router
from schemas import ConsentRecord, ProviderMessage, ReviewItem

BASE = Settings(partitions=4, kafka_bootstrap_servers="unused:9092")
REPLY_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: replies' record time when they give none
SEND_MS = 1_767_229_200_000  # 2026-01-01T01:00:00Z, after the replies below


class Harness:
    def __init__(self, settings: Settings = BASE, policy: Policy | None = None) -> None:
        self.settings = settings
        self.stats = Stats()
        self.router = Router(settings, self.stats)
        self.decider = Decider(settings, self.stats, policy)
        self.table: dict = {}
        self.offset = 0
        self.replies: list[tuple[int, int]] = []  # (record time, offset) of every reply fed

    def feed(self, topic: str, message: dict, timestamp_ms: int = 1_767_225_600_000) -> dict[str, list[dict]]:
        self.offset += 1
        before = None
        if topic == self.settings.outbound_topic:
            # by offsets: the replies the send was produced after are those timestamped at or
            # before its request time (a real router learns it from the broker's end offsets)
            later = [offset for at, offset in self.replies if at > timestamp_ms]
            before = [self.settings.inbound_topic, [min(later, default=self.offset)]]
        elif topic == self.settings.inbound_topic:
            self.replies.append((timestamp_ms, self.offset))
        out = self.router.route(Origin(topic, 0, self.offset, timestamp_ms), None, json.dumps(message).encode(),
                                before)
        if out is None:
            return {}
        if out.topic != self.settings.routed_topic:
            return {out.topic: [loads(out.value)]}
        return self.apply_routed(out.value)

    def apply_routed(self, value: bytes) -> dict[str, list[dict]]:
        """The outputs the decider makes of a routed record, by topic."""
        result: dict[str, list[dict]] = {}
        for output in self.decider.process(value, self.table):
            result.setdefault(output.topic, []).append(loads(output.value))
        return result

    def reply(self, mid: str, body: str, number: str = "+14155550101", *, timestamp_ms: int | None = None,
              **extra) -> dict[str, list[dict]]:
        """A reply whose record is timestamped when it says it was received (default 00:00)."""
        if timestamp_ms is None:
            at = extra.get("received_at")
            timestamp_ms = int(datetime.fromisoformat(at).timestamp() * 1000) if at else REPLY_MS
        return self.feed(self.settings.inbound_topic,
                         {"message_id": mid, "from": number, "to": "+18005550000", "body": body, **extra},
                         timestamp_ms=timestamp_ms)

    def send(self, mid: str, number: str = "+14155550101", *, at_ms: int = SEND_MS, **extra) -> str:
        """A send requested at ``at_ms`` (default: after every reply these tests make)."""
        result = self.feed(self.settings.outbound_topic, {"message_id": mid, "to": number, "body": "promo", **extra},
                           timestamp_ms=at_ms)
        (topic, [record]), = result.items()
        return "provider" if topic == self.settings.provider_topic else record["reason"]

    def operator(self, number: str = "+14155550101", account_id: str = "default") -> dict[str, list[dict]]:
        out = self.router.operator_opt_out(number, account_id, "asked by phone", "agent-7")
        return self.apply_routed(out.value)


@pytest.fixture
def h() -> Harness:
    return Harness()


def consent(result) -> dict:
    (record,) = result[BASE.consent_topic]
    ConsentRecord.model_validate(record)
    return record


def test_opt_out_sends_exactly_one_confirmation_and_logs(h):
    first = h.reply("r1", "STOP")
    (confirmation,) = first[BASE.provider_topic]
    ProviderMessage.model_validate(confirmation)
    assert confirmation["category"] == "compliance" and confirmation["in_reply_to"] == "r1"
    assert confirmation["to"] == "+14155550101" and confirmation["from"] == "+18005550000"
    assert "unsubscribed" in confirmation["body"] and "START" in confirmation["body"]
    log = consent(first)
    assert log["intent"] == "opt_out" and log["source"] == "keyword" and log["rule"] == "keyword"
    assert log["matched"] == "stop" and log["body"] == "STOP" and log["verdict"] == "applied"
    assert (log["previous_state"], log["new_state"]) == (None, "opted_out")
    # a second STOP: logged, no confirmation storm
    second = h.reply("r2", "stop!", received_at="2026-01-01T00:05:00+00:00")
    assert BASE.provider_topic not in second and consent(second)["verdict"] == "unchanged"
    assert h.send("s1") == "opted_out"


def test_opt_in_sends_one_resubscribe_confirmation(h):
    h.reply("r1", "STOP", received_at="2026-01-01T00:00:00+00:00")
    result = h.reply("r2", "START", received_at="2026-01-01T00:01:00+00:00")
    (confirmation,) = result[BASE.provider_topic]
    assert "resubscribed" in confirmation["body"] and confirmation["category"] == "compliance"
    assert consent(result)["new_state"] == "subscribed"
    assert h.send("s1") == "provider"
    # YES from a number that never opted out: nothing to confirm
    assert BASE.provider_topic not in h.reply("r3", "YES", number="+14155550199")


def test_help_is_answered_even_after_opt_out(h):
    h.reply("r1", "STOP")
    result = h.reply("r2", "HELP", received_at="2026-01-01T00:01:00+00:00")
    (text,) = result[BASE.provider_topic]
    assert text["category"] == "compliance" and "STOP" in text["body"]
    log = consent(result)
    assert log["intent"] == "help" and log["verdict"] == "logged" and log["new_state"] == "opted_out"
    assert h.send("s1") == "opted_out"


def test_review_goes_to_the_review_topic_with_a_deadline(h):
    result = h.reply("r1", "Stop by at 5 tomorrow", received_at="2026-11-27T15:00:00+00:00")  # a Friday
    (item,) = result[BASE.review_topic]
    ReviewItem.model_validate(item)
    assert item["deadline"].startswith("2026-12-11T15:00:00") and item["matched"] == "stop"
    assert consent(result)["review_deadline"] == item["deadline"]
    assert h.send("s1") == "provider"  # review changes nothing


def test_phrase_opt_out_is_logged_as_phrase(h):
    log = consent(h.reply("r1", "please stop texting me"))
    assert log["source"] == "phrase" and log["matched"] == "stop texting me"


def test_duplicates_change_nothing_and_are_not_logged_twice(h):
    h.reply("r1", "STOP", received_at="2026-01-01T00:00:00+00:00")
    h.reply("r2", "START", received_at="2026-01-01T00:01:00+00:00")
    assert h.reply("r1", "STOP", received_at="2026-01-01T00:00:00+00:00") == {}
    assert h.send("s1") == "provider" and h.stats.duplicates == 1


def test_out_of_order_stop_does_not_override_newer_start_but_is_logged(h):
    h.reply("r2", "START", received_at="2026-01-01T00:10:00+00:00")
    result = h.reply("r1", "STOP", received_at="2026-01-01T00:00:00+00:00")
    assert consent(result)["verdict"] == "stale" and BASE.provider_topic not in result
    assert h.send("s1") == "provider" and h.stats.stale == 1


def test_scope_account_by_default(h):
    h.reply("r1", "STOP", account_id="tenant-a")
    assert h.send("s1", account_id="tenant-a") == "opted_out"
    assert h.send("s2", account_id="tenant-b") == "provider"


def test_scope_global_silences_every_account():
    h = Harness(BASE.model_copy(update={"scope": "global"}))
    log = consent(h.reply("r1", "STOP", account_id="tenant-a"))
    assert log["account_id"] == "*" and log["scope"] == "global"
    assert consent_key("+14155550101", "*") in h.table
    assert h.send("s1", account_id="tenant-b") == "opted_out"
    h.reply("r2", "START", account_id="tenant-b", received_at="2026-01-01T00:01:00+00:00")
    assert h.send("s2", account_id="tenant-a") == "provider"


def test_operator_opt_out_is_recorded_and_logged(h):
    result = h.operator(account_id="tenant-a")
    log = consent(result)
    assert log["source"] == "operator" and log["reason"] == "asked by phone" and log["requested_by"] == "agent-7"
    assert BASE.provider_topic not in result  # no confirmation for an operator opt-out
    assert h.send("s1", account_id="tenant-a") == "opted_out"
    state = h.table[consent_key("+14155550101", "tenant-a")]
    assert state["source"] == "operator"


def test_provider_evidence_opts_out(h):
    receipt = {"message_id": "m9", "to": "4155550101", "provider": "twilio", "status": "undelivered",
               "error_code": 21610}
    log = consent(h.feed(BASE.status_topic, receipt))
    assert log["source"] == "provider" and log["rule"] == "twilio:21610" and log["provider"] == "twilio"
    assert h.send("s1") == "opted_out"
    assert h.feed(BASE.status_topic, receipt) == {}  # the same receipt again: duplicate
    assert h.feed(BASE.status_topic, {**receipt, "message_id": "m10", "error_code": 30003}) == {}


def test_texts_and_keywords_per_account_and_locale():
    policy = Policy(
        locales={"fr": Profile(opt_out_confirmation="Vous êtes désabonné.")},
        accounts={"acme": Profile(opt_out=("pouce",), help_text="Acme help")},
    )
    h = Harness(policy=policy)
    assert h.reply("r1", "ARRÊT", locale="fr")[BASE.provider_topic][0]["body"] == "Vous êtes désabonné."
    assert h.reply("r2", "pouce", number="+14155550102", account_id="acme")[BASE.consent_topic][0]["matched"] == "pouce"
    assert BASE.consent_topic not in h.reply("r3", "pouce", number="+14155550103")
    assert h.reply("r4", "help", account_id="acme")[BASE.provider_topic][0]["body"] == "Acme help"


def test_a_send_requested_while_opted_out_stays_suppressed_after_a_later_start(h):
    """Fail closed both ways: decided after the START, but requested before it."""
    h.reply("r1", "STOP", received_at="2026-01-01T00:00:00+00:00")
    h.reply("r2", "START", received_at="2026-01-01T00:10:00+00:00")
    assert h.send("s1", at_ms=1_767_225_900_000) == "opted_out"  # 00:05, while opted out
    assert h.send("s2", at_ms=1_767_225_500_000) == "opted_out"  # 23:58 the day before: opted out since
    assert h.send("s3", at_ms=1_767_226_260_000) == "provider"  # 00:11, after the START


def test_a_late_stop_suppresses_sends_requested_before_the_newer_start(h):
    h.reply("r2", "START", received_at="2026-01-01T00:10:00+00:00")
    h.reply("r1", "STOP", received_at="2026-01-01T00:00:00+00:00")  # stale, but it happened
    assert h.send("s1", at_ms=1_767_225_900_000) == "opted_out"
    assert h.send("s2", at_ms=1_767_226_260_000) == "provider"


def test_a_replayed_help_or_review_reply_is_answered_or_queued_once(h):
    first = h.reply("r1", "HELP")
    assert BASE.provider_topic in first
    assert h.reply("r1", "HELP") == {}
    queued = h.reply("r2", "we have got to stop this bill")
    assert BASE.review_topic in queued
    assert h.reply("r2", "we have got to stop this bill") == {}


@pytest.mark.parametrize("suffix", ["history", "replies", "suppressed"])
def test_an_account_id_with_a_bar_cannot_overwrite_another_accounts_keys(h, suffix):
    """``acme|history`` once spelt the same key as the history of ``acme``: the timeline of
    ``acme`` then overwrote the STOP of ``acme|history`` and its next send went out."""
    h.reply("r1", "STOP", account_id=f"acme|{suffix}")
    h.reply("r2", "STOP", account_id="acme")
    h.reply("r3", "HELP", account_id="acme")
    h.send("s0", account_id="acme")
    assert h.send("s1", account_id=f"acme|{suffix}") == "opted_out"
    assert h.send("s2", account_id="acme") == "opted_out"
    assert consent_key("+14155550101", f"acme|{suffix}") != f"+14155550101|acme|{suffix}".encode()
