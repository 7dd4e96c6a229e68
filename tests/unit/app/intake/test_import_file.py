"""`import-optouts` without Kafka: the formats, bad lines, repeats, opt-ins in a file, the replay id."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from app.__main__ import main
from app.intake.import_file import (
    ImportFileError,
    ProgressBar,
    import_message_id,
    import_name,
    import_reason,
    import_requested_by,
    read_optouts,
    render_summary,
)
from app.records import loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from app.stream.router import Router


def read(data: str | bytes, fmt: str = "csv", **kw):
    return read_optouts(data, fmt, "US", **kw)


def numbers(plan) -> list[tuple[int, str]]:
    return [(e.line, e.number) for e in plan.entries]


def bad(plan) -> list[tuple[int, str]]:
    return [(b.line, b.problem) for b in plan.bad]


# ---------------------------------------------------------------- plain lists


@pytest.mark.parametrize("fmt", ["csv", "twilio", "aws", "activecampaign"])
def test_a_plain_list_is_read_by_every_format(fmt):
    plan = read("+14155550100\n(415) 555-0101\n\n415.555.0102\nnot a number\n", fmt)
    assert numbers(plan) == [(1, "+14155550100"), (2, "+14155550101"), (4, "+14155550102")]
    assert bad(plan) == [(3, "empty"), (5, "unparseable")]
    assert plan.layout.startswith("plain list") and plan.lines == 5


def test_a_plain_list_may_have_a_header_line_and_windows_line_ends():
    plan = read("\ufeffPhone Number\r\n+14155550100\r\n4155550101\r\n")
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101")]
    assert plan.bad == []


def test_a_number_twice_is_recorded_once_at_its_first_line():
    plan = read("+1 415 555 0100\n4155550101\n(415) 555-0100\n+14155550100\n")
    assert numbers(plan) == [(1, "+14155550100"), (2, "+14155550101")]
    assert plan.repeated == [(3, 1), (4, 1)]


def test_numbers_without_a_country_take_the_region():
    plan = read_optouts("020 7946 0000\n", "csv", "GB")
    assert numbers(plan) == [(1, "+442079460000")]


def test_a_number_that_parses_but_is_not_valid_is_recorded_fail_closed_and_flagged():
    plan = read("+1 415 555 0100\n+1 999 555 0100\n")
    assert [e.unverified for e in plan.entries] == [False, True]
    assert "not valid numbers (fail closed): 1 (lines 2)" in render_summary(plan, None)


def test_an_empty_file_imports_nothing():
    plan = read("")
    assert plan.entries == [] and plan.lines == 0


def test_letters_and_overlong_values_are_unparseable_with_their_line():
    plan = read("hello\n" + "1" * 80 + "\n+14155550100\n")
    assert numbers(plan) == [(3, "+14155550100")]
    assert [(b.line, b.problem) for b in plan.bad] == [(1, "unparseable"), (2, "unparseable")]
    assert "longer than 64" in plan.bad[1].detail


# ---------------------------------------------------------------- generic CSV


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_finds_the_phone_column_whatever_the_delimiter(delimiter):
    text = delimiter.join(["Name", "Mobile Phone", "Email"]) + "\n" + delimiter.join(["Ann", "415-555-0100", "a@x"])
    plan = read(text + "\n")
    assert numbers(plan) == [(2, "+14155550100")]
    assert "mobilephone" in plan.layout


def test_csv_bad_rows_are_reported_with_their_line_numbers_and_never_stop_the_import():
    text = ('name,phone,note\n'
            'a,+14155550100,ok\n'
            'b\n'                            # wrong columns
            '\n'                             # empty
            'c,,no number\n'                 # empty number cell
            'd,call me maybe,x\n'            # unparseable
            '"e, with comma",4155550101,"two\nlines"\n'
            'f,+14155550102,ok\n')
    plan = read(text)
    assert numbers(plan) == [(2, "+14155550100"), (7, "+14155550101"), (9, "+14155550102")]
    assert bad(plan) == [(3, "wrong columns"), (4, "empty"), (5, "no number"), (6, "unparseable")]
    summary = render_summary(plan, None)
    assert "line 3: wrong columns: 1 of 3 columns" in summary and "line 6: unparseable" in summary
    assert "empty lines: 1 (lines 4)" in summary


def test_csv_without_a_phone_column_is_refused_as_a_whole():
    with pytest.raises(ImportFileError, match="no phone column in the header \\(id, email\\)"):
        read("id,email\n1,a@x\n")


def test_csv_prefers_the_first_listed_column_name():
    plan = read("number,phone\n+14155550100,+14155550199\n")
    assert numbers(plan) == [(2, "+14155550199")]


# ---------------------------------------------------------------- Twilio


def test_twilio_consent_items_newest_event_decides_when_dated():
    text = ("contact_id,correlation_id,sender_id,status,source,date_of_consent\n"
            "+14155550100,c1,MG1,opt-out,opt-out-message,2025-01-01T10:00:00Z\n"
            "+14155550100,c2,MG1,opt-in,opt-in-message,2025-02-01T10:00:00Z\n"  # opted back in: left alone
            "+14155550101,c3,MG1,opt-in,website,2025-01-01T10:00:00Z\n"
            "+14155550101,c4,MG1,opt-out,opt-out-message,2025-03-01T10:00:00Z\n"  # out again: imported
            "+14155550102,c5,MG1,opt-in,website,\n"                               # only an opt-in
            "+14155550103,c6,MG1,opt-out,offline,\n"
            "+14155550103,c7,MG1,opt-in,website,2025-04-01T10:00:00Z\n")           # undated beside: fail closed
    plan = read(text, "twilio")
    assert numbers(plan) == [(5, "+14155550101"), (7, "+14155550103")]
    assert plan.resubscribed == [("+14155550100", 2, 3)]
    assert [line for line, _ in plan.not_opt_outs] == [4, 6, 8]


def test_twilio_consent_items_as_json_lines():
    lines = [json.dumps({"contact_id": "+14155550100", "status": "opt-out", "sender_id": "MG1"}),
             "{broken",
             json.dumps({"contact_id": "+14155550101", "status": "opt-in"})]
    plan = read("\n".join(lines) + "\n", "twilio")
    assert numbers(plan) == [(1, "+14155550100")]
    assert bad(plan) == [(2, "invalid JSON")]
    assert plan.not_opt_outs == [(3, "opt-in / subscribed")]


TWILIO_LOG = (
    "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
    "+14155550100,+18005550000,Stop,received,2025-01-01 10:00:00,2010-04-01,1,0,AC1,SM1,inbound,0,USD\n"
    "+18005550000,+14155550101,Sale!,failed,2025-01-02 10:00:00,2010-04-01,1,21610,AC1,SM2,outbound-api,0,USD\n"
    "+14155550102,+18005550000,hello there,received,2025-01-01 10:00:00,2010-04-01,1,0,AC1,SM3,inbound,0,USD\n"
    "+14155550103,+18005550000,STOP,received,2025-01-01 10:00:00,2010-04-01,1,0,AC1,SM4,inbound,0,USD\n"
    "+14155550103,+18005550000,start,received,2025-01-05 10:00:00,2010-04-01,1,0,AC1,SM5,inbound,0,USD\n"
    "+14155550104,+18005550000,please stop texting me,received,2025-01-01 10:00:00,2010-04-01,1,0,AC1,SM6,"
    "inbound,0,USD\n"
    "+18005550000,+14155550105,hi,delivered,2025-01-01 10:00:00,2010-04-01,1,0,AC1,SM7,outbound-api,0,USD\n"
    "+14155550106,+18005550000,stopp,received,2025-01-01 10:00:00,2010-04-01,1,0,AC1,SM8,inbound,0,USD\n"
)


def test_twilio_message_logs_stop_replies_and_21610_refusals_are_opt_outs():
    plan = read(TWILIO_LOG, "twilio")
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101")]
    assert plan.resubscribed == [("+14155550103", 5, 6)]  # STOP then START: subscribed now
    assert [line for line, _ in plan.not_opt_outs] == [4, 7, 8, 9]


def test_twilio_message_logs_use_the_reply_classifier_when_given():
    intents = {"please stop texting me": "opt_out", "stopp": "review"}
    plan = read(TWILIO_LOG, "twilio", reply_intent=lambda body: intents.get(body, "none"))
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101"), (7, "+14155550104")]
    assert (9, "reply needs review (not imported)") in plan.not_opt_outs


def test_twilio_bulk_export_json_lines_gzipped():
    rows = [{"from": "+14155550100", "to": "+18005550000", "body": "UNSUBSCRIBE", "direction": "inbound",
             "date_sent": "2025-01-01T10:00:00Z", "error_code": None},
            {"from": "+18005550000", "to": "+14155550101", "body": "x", "direction": "outbound-api",
             "date_sent": "2025-01-01T10:00:00Z", "error_code": 21610}]
    data = gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode())
    plan = read(data, "twilio")
    assert numbers(plan) == [(1, "+14155550100"), (2, "+14155550101")]


def test_twilio_without_its_columns_is_refused():
    with pytest.raises(ImportFileError, match="expected contact_id"):
        read("Phone,Name\n+14155550100,a\n", "twilio")


def test_twilio_rfc2822_dates_order_events():
    text = ("contact_id,status,date_of_consent\n"
            "+14155550100,opt-in,\"Wed, 05 Feb 2025 10:00:00 +0000\"\n"
            "+14155550100,opt-out,\"Tue, 04 Feb 2025 10:00:00 +0000\"\n")
    assert read(text, "twilio").resubscribed == [("+14155550100", 3, 2)]


# ---------------------------------------------------------------- AWS


def test_aws_describe_opted_out_numbers_json_with_line_numbers():
    doc = {"OptOutListArn": "arn:aws:sms-voice:us-east-1:1:opt-out-list/Default", "OptOutListName": "Default",
           "OptedOutNumbers": [
               {"OptedOutNumber": "+14155550100", "OptedOutTimestamp": 1.7e9, "EndUserOptedOut": True},
               {"OptedOutNumber": "+999", "OptedOutTimestamp": 1.7e9, "EndUserOptedOut": False},
               {"OptedOutNumber": "+14155550101", "OptedOutTimestamp": 1.7e9, "EndUserOptedOut": False},
           ]}
    text = json.dumps(doc, indent=4)
    plan = read(text, "aws")
    lines = text.splitlines()
    expected = [i for i, line in enumerate(lines, 1) if '"OptedOutNumber"' in line]
    assert [e.line for e in plan.entries] == [expected[0], expected[2]]
    assert [b.line for b in plan.bad] == [expected[1]]


def test_aws_json_pages_one_after_another_and_sns_phone_numbers():
    pages = (json.dumps({"OptedOutNumbers": [{"OptedOutNumber": "+14155550100"}], "NextToken": "t"}) + "\n"
             + json.dumps({"OptedOutNumbers": [{"OptedOutNumber": "+14155550101"}]}) + "\n"
             + json.dumps({"phoneNumbers": ["+14155550102", "+14155550100", 7]}) + "\n")
    plan = read(pages, "aws")
    assert numbers(plan) == [(1, "+14155550100"), (2, "+14155550101"), (3, "+14155550102")]
    assert plan.repeated == [(3, 1)]
    assert bad(plan) == [(3, "unparseable")]


def test_aws_cli_text_output():
    text = ("OPTEDOUTNUMBERS\tTrue\t+14155550100\t1700000000.0\n"
            "OPTEDOUTNUMBERS\tFalse\t+14155550101\t1700000001.0\n"
            "OPTEDOUTNUMBERS\tTrue\n"
            "PHONENUMBERS\t+14155550102\n"
            "NEXTTOKEN\tabc\n")
    plan = read(text, "aws")
    assert numbers(plan) == [(1, "+14155550100"), (2, "+14155550101"), (4, "+14155550102")]
    assert bad(plan) == [(3, "wrong columns")]
    assert plan.not_opt_outs == [(5, "NEXTTOKEN line")]


def test_aws_csv_and_refusal():
    plan = read("OptedOutNumber,OptedOutTimestamp,EndUserOptedOut\n+14155550100,2025-01-01T00:00:00Z,true\n", "aws")
    assert numbers(plan) == [(2, "+14155550100")]
    with pytest.raises(ImportFileError, match="OptedOutNumber"):
        read("id,name\n1,2\n", "aws")
    with pytest.raises(ImportFileError, match="OptedOutNumbers or phoneNumbers"):
        read('{"Items": []}', "aws")


# ---------------------------------------------------------------- ActiveCampaign


def test_activecampaign_sms_status_leaves_out_subscribed_contacts():
    text = ("Email,First Name,Last Name,Phone,Status,SMS Status,Tags\n"
            "a@x,A,B,(415) 555-0100,Active,Unsubscribed,\n"      # email active, SMS unsubscribed: imported
            "b@x,C,D,4155550101,Unsubscribed,Active,\n"          # SMS active: left out
            "c@x,E,F,4155550102,Active,,\n"                      # no SMS status: fail closed
            "d@x,G,H,,Active,Unsubscribed,\n"                    # no phone
            "e@x,I,J,4155550104,Active,Bounced,vip\n")           # not a subscribed value: fail closed
    plan = read(text, "activecampaign")
    assert numbers(plan) == [(2, "+14155550100"), (4, "+14155550102"), (6, "+14155550104")]
    assert plan.not_opt_outs == [(3, "opt-in / subscribed")]
    assert bad(plan) == [(5, "no number")]
    assert plan.notes == []


def test_activecampaign_without_sms_status_reads_every_row_and_says_so():
    plan = read("Email,Phone,Status\na@x,4155550100,Active\n", "activecampaign")
    assert numbers(plan) == [(2, "+14155550100")]
    assert "no SMS status column" in plan.notes[0]
    with pytest.raises(ImportFileError, match="expected Phone"):
        read("Email,Name\na@x,b\n", "activecampaign")


# ---------------------------------------------------------------- identity, replay, summary


def test_the_message_id_is_the_same_for_the_same_number_file_and_account_only():
    base = import_message_id("acme", "+14155550100", "list.csv")
    assert base.startswith("import:") and len(base) == len("import:") + 24
    assert base == import_message_id("acme", "+14155550100", "list.csv")
    assert len({base, import_message_id("other", "+14155550100", "list.csv"),
                import_message_id("acme", "+14155550101", "list.csv"),
                import_message_id("acme", "+14155550100", "list2.csv")}) == 4
    assert import_name("/tmp/x/list.csv") == "list.csv"
    assert import_requested_by("list.csv") == "import:list.csv"


def test_a_second_import_is_a_replay_the_decider_drops():
    settings = Settings(partitions=4, kafka_bootstrap_servers="unused:9092")
    router, decider, table = Router(settings, Stats()), Decider(settings, Stats()), {}
    number, name = "+14155550100", "list.csv"

    def once():
        out = router.operator_opt_out(number, "acme", import_reason(name), import_requested_by(name),
                                      import_message_id("acme", number, name))
        assert out.partition == partition_for(number, 4) and out.key == number.encode()
        routed = loads(out.value)
        assert routed["kind"] == Kind.OPERATOR and routed["message_id"].startswith("import:")
        return [loads(o.value) for o in decider.process(out.value, table)]

    (first,) = once()
    assert first["verdict"] == "applied" and first["source"] == "operator"
    assert first["requested_by"] == "import:list.csv" and first["reason"] == "imported from list.csv"
    assert once() == []  # same id, same content: nothing logged, nothing changed
    # without a message id the router still makes a new operator id
    assert loads(router.operator_opt_out(number, "acme", "r", "p").value)["message_id"].startswith("operator-")


def test_summary_of_a_publish_with_outcomes():
    plan = read("4155550100\n4155550101\nbad\n")
    result = {"sent": 2, "failed": 0, "publish_seconds": 0.2,
              "outcomes": {"applied": 1, "unchanged": 0, "stale": 0, "replayed": 1}}
    summary = render_summary(plan, result)
    assert "imported (newly opted out): 1" in summary
    assert "already opted out: 1 (0 opted out before" in summary and "1 imported from this file before" in summary
    assert "unparseable: 1" in summary and "line 3: unparseable" in summary
    waiting = render_summary(plan, {"sent": 2, "failed": 1, "publish_seconds": 0.2, "outcomes": None,
                                    "why_no_outcomes": "not awaited (--wait 0)"})
    assert "1 NOT acknowledged" in waiting and "not awaited" in waiting


def test_progress_bar_on_a_pipe_writes_a_line_per_tenth_and_redraws_on_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.start("reading")
    for done in range(0, 1001):
        bar.update(done, 1000)
    assert len(stream.getvalue().splitlines()) == 11

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = ProgressBar(tty)
    bar.start("publishing")
    bar.update(1000, 1000)
    bar.finish()
    assert tty.getvalue().startswith("\rpublishing") and "100.0%" in tty.getvalue()


def test_cli_dry_run_reads_and_publishes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing is contacted
    path = tmp_path / "old-list.csv"
    path.write_text("phone\n4155550100\n\nnope\n4155550100\n")
    assert main(["import-optouts", str(path), "--account", "acme", "--source-format", "csv", "--dry-run",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] is True and out["result"] is None and out["numbers"] == 1
    assert out["requested_by"] == "import:old-list.csv"
    assert out["empty_lines"] == [3] and [u["line"] for u in out["unparseable"]] == [4]
    assert out["repeated"] == [{"line": 5, "first_line": 2}]
    assert main(["import-optouts", str(path), "--account", "acme", "--source-format", "csv", "--dry-run"]) == 0
    assert "dry run: 1 numbers would be imported; nothing was published" in capsys.readouterr().out


def test_cli_refuses_an_unreadable_file_or_unknown_columns(tmp_path, capsys):
    assert main(["import-optouts", str(tmp_path / "missing.csv"), "--account", "a", "--source-format", "csv",
                 "--dry-run"]) == 2
    assert "cannot read" in capsys.readouterr().err
    path = tmp_path / "x.csv"
    path.write_text("id,email\n1,a@x\n")
    assert main(["import-optouts", str(path), "--account", "a", "--source-format", "aws", "--dry-run"]) == 2
    assert "no AWS number column" in capsys.readouterr().err


def test_cli_without_a_broker_says_so_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    path = tmp_path / "list.txt"
    path.write_text("4155550100\n")
    assert main(["import-optouts", str(path), "--account", "acme", "--source-format", "csv"]) == 2
    assert "cannot reach Kafka" in capsys.readouterr().err
    assert main(["import-optouts", str(path), "--account", " ", "--source-format", "csv"]) == 2
