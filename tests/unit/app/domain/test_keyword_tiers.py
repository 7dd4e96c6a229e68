"""The declaration of the tiers (app/domain/keyword_tiers.py) against the code that classifies and
records, and the table of docs/replies.md against the declaration."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from app.domain import keyword_tiers as kt
from app.domain.consent import Source
from app.domain.keywords import Intent, KeywordSet, Rule
from app.domain.policy import Policy
from app.records import Origin, loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from app.stream.router import Router
from schemas import ConsentRecord

README = Path(__file__).resolve().parents[4] / "docs" / "replies.md"  # the tier table's page
CLASSIFIER = Policy(default_locales=kt.EXAMPLE_LOCALES).for_reply("acme").classifier
BASE = Settings(partitions=4, kafka_bootstrap_servers="unused:9092", default_locales=kt.EXAMPLE_LOCALES)
NUMBER = "+14155550101"
QUEUED = "we have got to stop this bill"  # a reply that goes to review


class Flow:
    """The router and the decider, without Kafka: a record in, the records it makes by topic."""

    def __init__(self, **settings) -> None:
        self.settings = BASE.model_copy(update=settings)
        stats = Stats()
        self.router = Router(self.settings, stats)
        self.decider = Decider(self.settings, stats, Policy(default_locales=kt.EXAMPLE_LOCALES))
        self.table: dict = {}
        self.offset = 0

    def decide(self, value: bytes) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for output in self.decider.process(value, self.table):
            out.setdefault(output.topic, []).append(loads(output.value))
        return out

    def feed(self, topic: str, message: dict) -> dict[str, list[dict]]:
        self.offset += 1
        routed = self.router.route(Origin(topic, 0, self.offset, 1_767_225_600_000), None, json.dumps(message).encode())
        assert routed is not None and routed.topic == self.settings.routed_topic
        return self.decide(routed.value)

    def reply(self, body: str, number: str = NUMBER) -> dict[str, list[dict]]:
        return self.feed(self.settings.inbound_topic,
                         {"message_id": f"r{self.offset}", "from": number, "to": "+18005550000", "body": body})


def consent(result: dict[str, list[dict]]) -> dict:
    (record,) = result[BASE.consent_topic]
    ConsentRecord.model_validate(record)
    return record


# ------------------------------------------------------------ every value declared, every declared value made


def test_the_declared_tiers_are_exactly_the_classifiers_rules():
    declared = [e.rule for e in kt.TIERS if e.rule is not None]
    assert len(declared) == len(set(declared))
    missing = {r.value for r in Rule} - set(declared)
    assert not missing, f"rules with no entry in app.domain.keyword_tiers.TIERS: {sorted(missing)}"
    unknown = set(declared) - {r.value for r in Rule}
    assert not unknown, f"TIERS declares rules the classifier never gives: {sorted(unknown)}"


def test_the_declared_sources_are_exactly_the_records_sources():
    assert list(kt.SOURCES) == [s.value for s in Source]
    assert {e.source for e in kt.RULES if e.source is not None} == set(kt.SOURCES)
    assert all(kt.rules_of(source) for source in kt.SOURCES)


def test_intents_are_the_classifiers():
    intents = {i.value for i in Intent}
    for entry in kt.RULES:
        assert entry.intents and set(entry.intents) <= intents, entry


def test_tiers_are_numbered_in_order_and_end_with_none():
    numbers = [e.tier for e in kt.TIERS]
    assert numbers[0] == 1 and all(b - a in (0, 1) for a, b in zip(numbers, numbers[1:]))
    assert kt.TIERS[-1].rule is None and kt.TIERS[-1].intents == ("none",)
    assert all(e.tier is None for e in kt.OTHER_RULES)
    assert len({e.rule for e in kt.RULES}) == len(kt.RULES)


@pytest.mark.parametrize(("entry", "body"), [(e, b) for e in kt.TIERS for b in e.examples])
def test_every_example_classifies_as_declared(entry, body):
    found = CLASSIFIER.classify(body)
    assert (found.rule.value if found.rule else None) == entry.rule, body
    assert found.intent.value in entry.intents, body


@pytest.mark.parametrize(("entry", "body"), [(e, b) for e in kt.TIERS for b in e.not_examples])
def test_no_counter_example_gets_its_rule(entry, body):
    found = CLASSIFIER.classify(body)
    assert (found.rule.value if found.rule else None) != entry.rule, body


def test_every_tier_has_examples():
    assert all(e.examples for e in kt.TIERS)


@pytest.mark.parametrize(("entry", "body"), [(e, b) for e in kt.TIERS for b in e.examples])
def test_a_reply_is_recorded_with_its_tiers_rule_and_source(entry, body):
    result = Flow().reply(body)
    if entry.rule is None:
        assert BASE.consent_topic not in result
        return
    record = consent(result)
    assert (record["source"], record["rule"]) == (entry.source, entry.rule), body
    assert record["intent"] in entry.intents
    assert kt.entry_of(record["rule"]) is entry


def _other_records() -> list[dict]:
    """One consent record of each way other than a reply's classification."""
    flow = Flow()
    records = [consent(flow.decide(flow.router.operator_opt_out(NUMBER, "default", "asked by phone", "agent-7").value))]
    receipt = {"message_id": "m1", "to": NUMBER, "provider": "twilio", "status": "failed", "error_code": 21610}
    records.append(consent(Flow().feed(BASE.status_topic, receipt)))
    receipt = {**receipt, "provider": "acme", "error_code": "30007"}
    records.append(consent(Flow(provider_optout_codes="*:30007").feed(BASE.status_topic, receipt)))
    for kind, fields in ((Kind.REVIEW_DECISION, {"decision": "opt_out", "decided_by": "a"}),
                         (Kind.REVIEW_DECISION, {"decision": "dismiss", "decided_by": "a"}),
                         (Kind.REVIEW_EXPIRED, {})):
        flow = Flow()
        (item,) = flow.reply(QUEUED)[BASE.review_topic]
        records.append(consent(flow.decide(flow.router.review_event(kind, item, **fields).value)))
    full = Flow(review_max_pending=1)
    full.reply(QUEUED)
    other = next(n for n in (f"+1415555{i:04d}" for i in range(200, 400))
                 if partition_for(n, BASE.partitions) == partition_for(NUMBER, BASE.partitions))
    records.append(consent(full.reply(QUEUED, number=other)))
    return records


def test_every_other_rule_is_recorded_as_declared_and_every_declared_one_is_made():
    seen = set()
    for record in _other_records():
        entry = kt.entry_of(record["rule"])
        assert entry in kt.OTHER_RULES, record["rule"]
        assert record["source"] == entry.source and record["intent"] in entry.intents, record
        seen.add((entry.rule, record["intent"]))
    declared = {(e.rule, intent) for e in kt.OTHER_RULES for intent in e.intents}
    assert seen == declared


def test_a_provider_rule_is_a_provider_and_a_code():
    assert kt.entry_of("twilio:21610").source == "provider"
    assert kt.entry_of("*:21610").source == "provider"
    assert kt.entry_of("twilio") is None and kt.entry_of("made_up") is None


# ------------------------------------------------------------ the texts name only what is declared


def _texts() -> list[str]:
    return ([e.matches for e in kt.RULES] + list(kt.SOURCES.values()) + [w.applies for w in kt.WORD_LISTS]
            + [kt.tiers_table(), kt.records_table(), kt.lists_table(), kt.source_description(), kt.rule_description()])


def test_the_texts_name_no_value_that_is_not_declared():
    known = ({e.rule for e in kt.RULES} | set(kt.SOURCES) | {i.value for i in Intent}
             | {w.name for w in kt.WORD_LISTS} | {"review_id"})
    for text in _texts():
        named = set(re.findall(r"(?<!\w)[a-z]+(?:_[a-z]+)+(?!\w)", text))
        assert named <= known, f"{sorted(named - known)} in {text!r}"


def test_no_text_breaks_a_markdown_table():
    for entry in kt.RULES:
        for text in (entry.matches, *entry.examples, *entry.not_examples):
            assert "|" not in text and "`" not in text and "\n" not in text and text == text.strip()


def test_the_word_lists_are_the_keyword_sets_and_read_by_declared_rules():
    fields = {f.name for f in dataclasses.fields(KeywordSet)} - {"language"}  # language: which texts answer
    assert [w.field for w in kt.WORD_LISTS] and {w.field for w in kt.WORD_LISTS} == fields
    rules = {e.rule for e in kt.TIERS}
    for word_list in kt.WORD_LISTS:
        assert word_list.rules and set(word_list.rules) <= rules, word_list


# ------------------------------------------------------------ docs/replies.md


def test_the_readme_table_is_the_declaration():
    text = README.read_text()
    assert text.count(kt.README_START) == 1 and text.count(kt.README_END) == 1
    got = text[text.index(kt.README_START):text.index(kt.README_END) + len(kt.README_END)]
    expected = kt.readme_block()
    if got != expected:
        print(f"docs/replies.md: replace the block between the markers with\n\n{expected}\n")
    assert got == expected, "docs/replies.md's keyword tiers differ from app/domain/keyword_tiers.py (expected block printed)"
