"""`import-optouts` against awkward and hostile files: encodings, files that hold no number,
gzip bombs, oversized CSV fields, terminal escapes (pure, no Kafka; the CLI with --dry-run)."""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import tracemalloc

import pytest

from app.__main__ import main
from app.intake import import_file
from app.intake.import_file import ImportFileError, decode, printable, read_optouts, render_summary

NUMBERS = "phone,name\r\n+14155550100,Zoë\r\n4155550101,Ann\r\n"
CONTROLS = ("\x1b", "\x07", "\x9b", "\x85", "\u202e", "\u2066", "\u2028", "\x00")


def read(data: str | bytes, fmt: str = "csv"):
    return read_optouts(data, fmt, "US")


def numbers(plan) -> list[tuple[int, str]]:
    return [(e.line, e.number) for e in plan.entries]


def bad(plan) -> list[tuple[int, str]]:
    return [(b.line, b.problem) for b in plan.bad]


def has_control(text: str) -> bool:
    return any(c in text for c in CONTROLS) or not all(c.isprintable() or c == "\n" for c in text)


def dry_run(path, fmt: str = "csv", *extra: str) -> int:
    return main(["import-optouts", str(path), "--account", "acme", "--source-format", fmt, "--dry-run", *extra])


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(("bom", "encoding"), [
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
], ids=["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8"])
def test_a_byte_order_mark_decides_the_encoding(bom, encoding):
    data = bom + NUMBERS.encode(encoding)
    assert decode(data) == NUMBERS
    plan = read(data)
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101")] and plan.bad == []
    assert plan.layout.startswith("CSV (comma)")


def test_excels_unicode_text_export_is_read():
    """Excel's "Unicode text": UTF-16 LE with a BOM, tab separated (the probe's first finding)."""
    data = "Phone\tName\r\n+14155550100\tZoë\r\n+14155550101\tAnn\r\n".encode("utf-16")
    plan = read(data)
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101")] and plan.bad == []
    assert any("UTF-16" in note for note in plan.notes)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_recognised_by_its_nul_bytes(encoding):
    data = NUMBERS.encode(encoding)
    assert decode(data) == NUMBERS
    plan = read(data)
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101")] and plan.bad == []
    assert any("no byte order mark" in note for note in plan.notes)


def test_a_utf16_bom_in_a_gzip_is_read_too():
    plan = read(gzip.compress(NUMBERS.encode("utf-16")))
    assert numbers(plan) == [(2, "+14155550100"), (3, "+14155550101")]


def test_other_files_that_are_not_utf8_are_still_read_as_cp1252():
    data = "téléphone\n+14155550100\n".encode("cp1252")
    assert decode(data) == "téléphone\n+14155550100\n"
    plan = read(data)
    assert numbers(plan) == [(2, "+14155550100")]
    assert "'téléphone'" in plan.bad[0].detail


def test_a_few_nul_bytes_do_not_make_a_file_utf16():
    plan = read(b"phone\n+1415555\x000100\n\x00\x01\x02\n+14155550101\n")
    assert numbers(plan) == [(4, "+14155550101")]
    assert bad(plan) == [(2, "unparseable"), (3, "unparseable")]


# ---------------------------------------------------------------- a file in which no line parses


def test_a_file_in_which_no_line_holds_a_number_is_refused():
    with pytest.raises(ImportFileError, match="none of the 3 lines holds a phone number") as caught:
        read("Alice\nBob\n\nCarol\n")
    assert "line 1: unparseable" in str(caught.value) and "another format" in str(caught.value)


@pytest.mark.parametrize(("data", "fmt"), [
    ("name,phone\nAnn,\nBob,n/a\n", "csv"),                    # empty and unparseable number cells
    ('{"a": \nnot json\n[1, 2\n', "twilio"),                    # JSON lines, none valid
    ("\x00\x01\x02\x03\n\x00\x00\n", "aws"),                     # binary
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U\x8b\xd2\n\xff\xfe", "activecampaign"),  # an .xlsx
])
def test_every_format_refuses_a_file_with_no_number_in_any_line(data, fmt):
    with pytest.raises(ImportFileError, match="holds a phone number"):
        read(data, fmt)


def test_a_file_where_some_lines_parse_is_imported_with_its_bad_lines():
    plan = read("Alice\n+14155550100\nBob\n")
    assert numbers(plan) == [(2, "+14155550100")] and bad(plan) == [(1, "unparseable"), (3, "unparseable")]


@pytest.mark.parametrize("data", ["", "\n\n", "phone\n", "phone,name\n\n"])
def test_an_empty_file_or_a_header_alone_is_not_refused(data):
    assert read(data).entries == []


def test_a_log_without_opt_outs_or_a_list_of_opt_ins_is_not_refused():
    log = ("From,To,Body,Direction,ErrorCode\n"
           "+14155550100,+18005550000,hello,inbound,\n"
           "+18005550000,+14155550101,promo,outbound-api,\n"
           "+14155550102,+18005550000,x,sideways,\n")
    plan = read(log, "twilio")
    assert plan.entries == [] and len(plan.not_opt_outs) == 2 and bad(plan) == [(4, "wrong columns")]
    plan = read("contact_id,status\n+14155550100,opt-in\n", "twilio")
    assert plan.entries == [] and plan.not_opt_outs == [(2, "opt-in / subscribed")]


def test_a_file_with_only_blank_csv_records_is_not_a_traceback():
    plan = read('"",""\n,\n')
    assert plan.entries == [] and bad(plan) == [(1, "empty"), (2, "empty")]


def test_cli_exits_2_for_a_utf16_file_of_names_and_imports_a_utf16_file_of_numbers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing is contacted
    names = tmp_path / "names.txt"
    names.write_bytes("Name\r\nAlice\r\nBob\r\n".encode("utf-16"))
    assert dry_run(names) == 2
    captured = capsys.readouterr()
    assert "none of the 3 lines" in captured.err and "UTF-16" in captured.err and captured.out == ""
    listing = tmp_path / "unicode.txt"
    listing.write_bytes("Phone\tName\r\n+14155550100\tZoë\r\n".encode("utf-16"))
    assert dry_run(listing, "csv", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["numbers"] == 1 and out["unparseable"] == []


# ---------------------------------------------------------------- gzip


def test_decompression_is_bounded_and_streamed(monkeypatch):
    monkeypatch.setattr(import_file, "MAX_DECOMPRESSED_BYTES", 1 << 20)
    blob = gzip.compress(b"\n" * (64 << 20), 9)  # 64 MiB of text in about 64 KB
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError, match="more than 1 MiB"):
            decode(blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # never the whole expansion in memory
    with pytest.raises(ImportFileError, match="more than 1 MiB"):
        read(blob)
    assert decode(gzip.compress(b"+14155550100\n" * 1000)) == "+14155550100\n" * 1000  # under the bound


def test_the_bound_is_a_sensible_constant():
    assert 64 << 20 <= import_file.MAX_DECOMPRESSED_BYTES <= 1 << 30


def test_a_gzip_may_not_expand_more_than_a_ratio_of_its_size():
    blob = gzip.compress(b"+14155550100\n" * 5_000_000, 9)  # 65 MB of numbers in about 200 KB: a bomb
    assert len(blob) * import_file.MAX_GZIP_RATIO < 65_000_000 < import_file.MAX_DECOMPRESSED_BYTES
    with pytest.raises(ImportFileError, match="times its size"):
        read(blob)
    small = gzip.compress(b"+14155550100\n" * 500_000, 9)  # 6.5 MB, as compressible, under the ratio's floor
    assert len(decode(small)) == 6_500_000


@pytest.mark.parametrize("blob", [
    gzip.compress(b"+14155550100\n" * 100)[:-12],
    b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage",
    b"\x1f\x8b",
], ids=["truncated", "a header then no deflate stream", "the magic alone"])
def test_a_broken_gzip_is_an_import_file_error(blob):
    with pytest.raises(ImportFileError, match="gzip"):
        read(blob)


# ---------------------------------------------------------------- oversized CSV fields


def test_a_field_over_the_csv_limit_is_a_bad_line_and_reading_goes_on():
    limit = csv.field_size_limit()
    data = b"phone,note\n+14155550100," + b"x" * (limit + 10) + b"\n+14155550101,ok\n+14155550102,\"" + \
        b"y" * (limit + 10) + b"\"\n+14155550103,ok\n"
    plan = read(data)
    assert numbers(plan) == [(3, "+14155550101"), (5, "+14155550103")]
    assert bad(plan) == [(2, "field too long"), (4, "field too long")]
    too_long = next(b for b in plan.bad if b.line == 2)
    assert too_long.detail == f"a field over {limit:,} characters"
    assert f"line 2: field too long: a field over {limit:,} characters" in render_summary(plan, None)


def test_a_header_over_the_csv_limit_is_refused_not_a_traceback():
    limit = csv.field_size_limit()
    with pytest.raises(ImportFileError, match="header"):
        read(b"phone," + b"n" * (limit + 1) + b"\n+14155550100,x\n")
    with pytest.raises(ImportFileError, match="header"):
        read(b"1" * (limit + 1) + b",x\n+14155550100,x\n")  # too long for the delimiter sniffer too


def test_a_huge_line_of_a_plain_list_is_one_bad_line():
    plan = read(b"phone\n" + b"1" * 1_000_000 + b"\n+14155550100\n")
    assert numbers(plan) == [(3, "+14155550100")] and bad(plan) == [(2, "unparseable")]
    assert len(plan.bad[0].detail) < 300


# ---------------------------------------------------------------- control characters in messages


def test_printable_escapes_controls_and_bidi_overrides_only():
    assert printable("a\x1b[2Jb\x07\x9b\u202e\u2066\u2028\x00\t\n") == \
        "a\\x1b[2Jb\\x07\\x9b\\u202e\\u2066\\u2028\\x00\\t\\n"
    assert printable("Zoë +1 (415) 555-0100 電話") == "Zoë +1 (415) 555-0100 電話"


def test_a_header_with_terminal_escapes_is_escaped_in_the_error():
    with pytest.raises(ImportFileError) as caught:
        read("\x1b]0;owned\x07\x1b[2Jname,\u202eemail\x9b\nx,y\n".encode())
    message = str(caught.value)
    assert not has_control(message)
    assert "\\x1b]0;owned\\x07\\x1b[2Jname" in message and "\\u202eemail\\x9b" in message


def test_the_refusal_of_a_file_without_numbers_escapes_what_it_quotes():
    with pytest.raises(ImportFileError) as caught:
        read("\x1b[31mAlice\u202e\nBob\x07\n")
    assert not has_control(str(caught.value)) and "\\x1b[31mAlice\\u202e" in str(caught.value)


def test_bad_lines_notes_and_the_summary_hold_no_control_character():
    data = ("PHONENUMBERS\t+14155550100\n"
            "\x1b[2J\u202eEVIL\x9b\tx\n"
            "PHONENUMBERS\t\x1b]0;owned\x07\n")
    plan = read(data, "aws")
    assert numbers(plan) == [(1, "+14155550100")]
    texts = [b.detail for b in plan.bad] + [why for _, why in plan.not_opt_outs] + plan.notes
    assert texts and not any(has_control(t) for t in texts)
    assert not has_control(render_summary(plan, None))
    assert not has_control(json.dumps(plan.to_json(), ensure_ascii=False))
    assert plan.not_opt_outs == [(2, "\\x1b[2J\\u202eEVIL\\x9b line")]


def test_bad_line_details_are_escaped_whatever_their_origin():
    assert import_file.BadLine(3, "wrong columns", "direction '\x1b'\u202e").detail == "direction '\\x1b'\\u202e"


def test_cli_output_holds_no_control_character(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    path = tmp_path / "opted-out\u202etxt.csv"
    path.write_bytes("OPTEDOUTNUMBERS\t+14155550100\tx\n\x9b2J\x1b[31m\u2066line\tx\nzzz\x1b\n".encode())
    assert dry_run(path, "aws", "--json") == 0
    out = capsys.readouterr().out
    assert not has_control(out)
    plan = json.loads(out)
    assert plan["numbers"] == 1 and plan["file"] == path.name  # the same values, escaped as JSON
    assert dry_run(path, "aws") == 0
    out = capsys.readouterr().out
    assert not has_control(out) and "opted-out\\u202etxt.csv" in out
    header = tmp_path / "header.csv"
    header.write_bytes(b"\x1b]0;owned\x07name,email\nx,y\n")
    assert dry_run(header) == 2
    captured = capsys.readouterr()
    assert not has_control(captured.err) and "\\x1b]0;owned" in captured.err
