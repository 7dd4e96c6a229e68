"""The evidence packet (app/reports/evidence_packet.py): its files, their digests, the keyword lists."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import UTC, datetime

import orjson

from app.domain import keyword_tiers
from app.domain.keywords import KeywordSet
from app.domain.policy import Policy, Profile
from app.reports import evidence_packet
from app.settings import Settings
from app.stream import timeline

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
POLICY = Policy()
RUNNING = {"config_id": "cfg-running", "file": None, "file_sha256": None, "text": None, "default_locales": "en,es"}


def line(number: str = "+14155550101", keywords_id: str | None = None, body: str = "STOP") -> dict:
    kid = keywords_id or POLICY.for_reply("acme").keywords_id
    events = [{"event_time": "2026-03-02T10:00:00+00:00", "processed_at": "2026-03-02T10:00:00.040000+00:00",
               "intent": "opt_out", "source": "keyword", "rule": "keyword", "matched": "stop", "body": body,
               "to": "+18005550000", "verdict": "applied", "previous_state": None, "new_state": "opted_out",
               "message_id": "r1", "confirmation_message_id": "r1:opt-out", "keywords_id": kid,
               "consent": {"partition": 3, "offset": 17}}]
    state = {"opted_out": True, "changed_at": events[0]["event_time"], "source": "keyword", "rule": "keyword",
             "matched": "stop", "message_id": "r1"}
    return timeline.answer(number, "acme", state, {"events": events}, {"count": 2})


def build(lines: list[dict], recorded=()) -> zipfile.ZipFile:
    keywords = evidence_packet.resolve_keywords(evidence_packet.keyword_ids(lines), (RUNNING, evidence_packet.keyword_sets(POLICY)),
                                         list(recorded))
    settings = evidence_packet.settings_view(Settings(kafka_bootstrap_servers="unused:1"))
    data = evidence_packet.packet({"number": lines[0]["number"], "account": "acme"}, lines, keywords, RUNNING, settings,
                           NOW, "worker-1")
    return zipfile.ZipFile(io.BytesIO(data))


def test_the_packet_holds_every_file_and_the_manifest_has_their_digests():
    archive = build([line()])
    names = archive.namelist()
    assert names == ["evidence/timeline.json", "evidence/timeline.csv", "evidence/keywords.json",
                     "evidence/how-decided.md", "evidence/settings.json", "evidence/manifest.json"]
    manifest = orjson.loads(archive.read("evidence/manifest.json"))
    assert [f["name"] for f in manifest["files"]] == [n.split("/")[1] for n in names[:-1]]
    for f in manifest["files"]:
        data = archive.read(f"evidence/{f['name']}")
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
    assert manifest["numbers"] == 1 and manifest["events"] == 1 and manifest["keyword_lists_unknown"] == []
    assert manifest["generated_by"] == "worker-1"
    timelines = orjson.loads(archive.read("evidence/timeline.json"))["timelines"]
    assert timelines[0]["events"][0]["consent"] == {"partition": 3, "offset": 17}
    assert "token" not in archive.read("evidence/settings.json").decode()


def test_the_same_inputs_make_the_same_packet():
    lines = [line()]
    first = build(lines)
    second = build(lines)
    assert [first.read(n) for n in first.namelist()] == [second.read(n) for n in second.namelist()]


def test_the_keyword_lists_of_each_event_are_in_the_packet_or_said_unknown():
    known, unknown = line(), line("+14155550102", keywords_id="kw-0000000000000000")
    keywords = orjson.loads(build([known, unknown]).read("evidence/keywords.json"))["keyword_lists"]
    kid = known["events"][0]["keywords_id"]
    assert keywords[kid]["known"] and keywords[kid]["running"]
    assert "stop" in keywords[kid]["lists"]["opt_out"] and keywords[kid]["lists"]["grammar"]
    assert keywords["kw-0000000000000000"] == {"known": False, "running": False,
                                               "statement": keywords["kw-0000000000000000"]["statement"]}
    assert "not known" in keywords["kw-0000000000000000"]["statement"]


def test_an_id_of_a_recorded_configuration_is_rebuilt_from_it():
    configured = Policy(default=Profile(opt_out=("halte",)))
    kid = configured.for_reply("acme").keywords_id
    assert kid != POLICY.for_reply("acme").keywords_id
    recorded = [({"config_id": "cfg-old"}, evidence_packet.keyword_sets(configured))]
    keywords = orjson.loads(build([line(keywords_id=kid)], recorded).read("evidence/keywords.json"))["keyword_lists"]
    assert keywords[kid]["configuration"] == "cfg-old" and not keywords[kid]["running"]
    assert "halte" in keywords[kid]["lists"]["opt_out"]


def test_the_csv_has_a_row_per_event_and_no_cell_a_spreadsheet_would_run():
    archive = build([line(body="=HYPERLINK(\"http://x\")")])
    rows = list(csv.reader(io.StringIO(archive.read("evidence/timeline.csv").decode())))
    assert rows[0] == list(evidence_packet.CSV_COLUMNS)
    row = dict(zip(rows[0], rows[1]))
    assert row["number"] == "+14155550101" and row["body"].startswith("'=")
    assert row["to"] == "'+18005550000"
    assert (row["consent_partition"], row["consent_offset"], row["verdict"]) == ("3", "17", "applied")


def test_how_decided_is_generated_from_the_settings():
    text = evidence_packet.how_decided(evidence_packet.settings_view(Settings(kafka_bootstrap_servers="unused:1", scope="global",
                                                                max_clock_skew_ms=120_000, review_business_days=7,
                                                                review_expiry="keep")), RUNNING)
    assert "**global**" in text and "2 minute(s)" in text and "7 business days" in text
    assert "kept pending until a person decides" in text
    assert "(event time, opt-out before opt-in, message id)" in text


def test_in_period_takes_event_time_since_inclusive_until_exclusive():
    events = [{"event_time": f"2026-03-0{d}T00:00:00+00:00"} for d in (1, 2, 3)]
    got = evidence_packet.in_period(events, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert got == [events[1]]


def test_the_keyword_lists_are_the_declared_ones_with_the_same_content():
    keywords = POLICY.keywords("acme", None)
    described = evidence_packet.describe_keywords(keywords)
    assert list(described) == [w.name for w in keyword_tiers.WORD_LISTS]
    assert described == {  # what keywords.json held before the lists were declared
        "opt_out": sorted(keywords.opt_out),
        "opt_in": sorted(keywords.opt_in),
        "help": sorted(keywords.help),
        "phrases": sorted(keywords.phrases),
        "grammar": [{"locale": p.lang, "name": p.name, "regex": p.regex, "qualifiers": p.qualifiers}
                    for p in keywords.patterns],
        "review_words": sorted(keywords.review),
        "courtesy_words": sorted(keywords.courtesy),
        "negations": sorted(keywords.negations),
        "typo_watched_words": sorted(keywords.near),
    }
    assert evidence_packet.describe_keywords(KeywordSet())["typo_watched_words"] == "every opt-out word"


def test_how_decided_describes_the_tiers_and_the_records_from_the_declaration():
    text = evidence_packet.how_decided(evidence_packet.settings_view(Settings(kafka_bootstrap_servers="unused:1")),
                                       RUNNING)
    for table in (keyword_tiers.tiers_table(), keyword_tiers.lists_table(), keyword_tiers.records_table()):
        assert table in text
    for entry in keyword_tiers.RULES:
        assert entry.matches in text
