"""The listing's pure core (``app/reports/optout_listing.py``): cursors, parameters, entries, chunks, CSV."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.masking import mask
from app.engine.state import MemoryStore
from app.reports.optout_listing import (
    CHUNK_KEYS,
    COLUMNS,
    BadParameter,
    Cursor,
    Filters,
    csv_header,
    csv_rows,
    decode_cursor,
    entry_of,
    parse_filters,
    parse_limit,
    parse_mask,
    scan_chunk,
    seal,
    unseal,
)

SECRET = hashlib.sha256(b"a cluster's cursor key, for these tests").digest()  # the caller's (cluster_keys)
OTHER_SECRET = hashlib.sha256(b"another cluster's cursor key").digest()
STATE = {"opted_out": True, "changed_at": "2026-01-05T08:00:00+00:00", "message_id": "m1", "source": "keyword",
         "rule": "keyword", "matched": "stop", "last_event_at": "2026-01-05T08:00:00+00:00",
         "last_message_id": "m1", "recent_ids": ["m1#out:x"], "resubscribed_at": None}


def raw(**changes) -> bytes:
    return orjson.dumps({**STATE, **changes})


# ---------------------------------------------------------------- cursors


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 63), st.one_of(st.none(), st.binary(max_size=200).map(lambda b: b"+" + b)),
       st.one_of(st.none(), st.text(min_size=1, max_size=20)))
def test_a_cursor_round_trips(partition, after, account):
    filters = Filters(account=account)
    text = Cursor(partition, after).encode(filters, SECRET)
    assert text.isascii() and "=" not in text and "+" not in text and "/" not in text  # URL-safe as it is
    assert decode_cursor(text, filters, 64, SECRET) == Cursor(partition, after)


def test_a_cursor_hides_the_number_and_cannot_be_made_up():
    text = Cursor(3, b"+14155550100|acme").encode(Filters(), SECRET)
    sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    assert b"4155550100" not in sealed and b"acme" not in sealed
    assert text != Cursor(3, b"+14155550100|acme").encode(Filters(), SECRET)  # a fresh nonce each time
    flipped = bytearray(sealed)
    for i in range(len(flipped)):  # any byte changed: refused
        flipped[i] ^= 1
        changed = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
        with pytest.raises(BadParameter):
            decode_cursor(changed, Filters(), 8, SECRET)
        flipped[i] ^= 1


@pytest.mark.parametrize("text", ["", "x", "!!!!", "A" * 2000, "é", "MR8zH2M2MGIxZjZjZTRhYx8rMTQxNTU1NTAxNDJ8YWNtZQ",
                                  base64.urlsafe_b64encode(b"1\x1f0\x1fabc\x1f").decode()])
def test_a_cursor_that_is_not_ours_is_refused(text):
    with pytest.raises(BadParameter) as caught:
        decode_cursor(text, Filters(), 8, SECRET)
    assert caught.value.code == "invalid_cursor"


def test_a_cursor_is_bound_to_its_filters_its_partitions_and_its_key():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    text = Cursor(7, b"+1|a").encode(Filters(source="keyword", since=since), SECRET)
    assert decode_cursor(text, Filters(source="keyword", since=since), 8, SECRET) == Cursor(7, b"+1|a")
    for filters, partitions, secret in [(Filters(source="phrase", since=since), 8, SECRET),
                                        (Filters(source="keyword"), 8, SECRET),
                                        (Filters(source="keyword", since=since), 7, SECRET),
                                        (Filters(source="keyword", since=since), 8, OTHER_SECRET)]:
        with pytest.raises(BadParameter):
            decode_cursor(text, filters, partitions, secret)
    with pytest.raises(BadParameter):  # a position that is no number's key
        decode_cursor(Cursor(1, b"__changelog_next__").encode(Filters(), SECRET), Filters(), 8, SECRET)


def test_seal_and_unseal():
    assert unseal(seal(b"hello", SECRET), SECRET) == b"hello"
    assert unseal(seal(b"hello", SECRET), OTHER_SECRET) is None
    assert unseal(b"short", SECRET) is None
    assert unseal(seal(b"", SECRET), SECRET) == b""


@pytest.mark.parametrize("key", [b"", b"short", "a str key of 32 characters......"])
def test_a_cursor_is_never_sealed_or_opened_with_a_key_that_is_not_one(key):
    with pytest.raises(ValueError, match="cursor key"):
        Cursor(1).encode(Filters(), key)
    with pytest.raises(ValueError, match="cursor key"):
        unseal(seal(b"x", SECRET), key)


def test_the_module_makes_no_key_of_its_own():
    """The key is the cluster's (host.cluster_keys.key("cursor")), never one derived from a token."""
    from app.reports import optout_listing
    assert not hasattr(optout_listing, "cursor_secret")


# ---------------------------------------------------------------- parameters


def test_parameters():
    f = parse_filters({"account": "acme", "source": "import", "since": "2026-01-01T00:00:00Z",
                       "until": "2026-02-01T00:00:00-05:00"})
    assert f.account == "acme" and f.source == "import"
    assert f.since == datetime(2026, 1, 1, tzinfo=UTC) and f.until.utcoffset().total_seconds() == -5 * 3600
    assert parse_filters({"account": "a" * 200}).account.startswith("sha256:")  # keyed as replies are
    assert parse_limit(None) == 100 and parse_limit("1000") == 1000 and parse_limit("7", most=10) == 7
    assert parse_mask(None) is True and parse_mask("1") is True and parse_mask("0") is False
    for bad in ({"account": ""}, {"source": "KEYWORD"}, {"since": "2026-01-01"}, {"until": "soon"},
                {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, {"since": "9" * 200}):
        with pytest.raises(BadParameter):
            parse_filters(bad)
    for bad in ("0", "1001", "-1", "", "1e3", "٣", " 5", "00000000001"):
        with pytest.raises(BadParameter):
            parse_limit(bad)
    for bad in ("", "2", "no", "true"):
        with pytest.raises(BadParameter):
            parse_mask(bad)


def test_filters_admit_on_account_source_and_period():
    entry = entry_of(b"+14155550100|acme", raw(changed_at="2026-03-05T08:00:00-05:00"))
    assert Filters().admits(entry)
    assert Filters(account="acme", source="keyword").admits(entry)
    assert not Filters(account="other").admits(entry) and not Filters(source="phrase").admits(entry)
    assert Filters(since=datetime(2026, 3, 5, 13, tzinfo=UTC)).admits(entry)  # since: inclusive
    assert not Filters(until=datetime(2026, 3, 5, 13, tzinfo=UTC)).admits(entry)  # until: exclusive
    assert not Filters(since=datetime(2026, 1, 1, tzinfo=UTC)).admits({**entry, "opted_out_at": "garbage"})


# ---------------------------------------------------------------- entries


def test_only_opted_out_consent_states_are_entries():
    entry = entry_of(b"+14155550100|acme", raw())
    assert entry == {"number": "+14155550100", "account_id": "acme", "opted_out_at": STATE["changed_at"],
                     "source": "keyword", "rule": "keyword", "matched": "stop", "message_id": "m1"}
    assert entry_of(b"+14155550100|acme", raw(message_id="import:abc", source="operator"))["source"] == "import"
    assert entry_of(b"+14155550100|a|b", raw())["account_id"] == "a|b"  # an account may hold "|"
    assert entry_of(b"+14155550100|acme", raw(opted_out=False)) is None
    assert entry_of(b"+14155550100|acme|replies", orjson.dumps({"recent_ids": ["x"]})) is None
    assert entry_of(b"+14155550100|acme|history", orjson.dumps({"events": [{"opted_out": True}]})) is None
    assert entry_of(b"+14155550100|acme|history", orjson.dumps([{"opted_out": True}])) is None
    assert entry_of(b"review|1.abc", raw()) is None
    assert entry_of(b"__x__", raw()) is None
    assert entry_of(b"+1415x|acme", raw()) is None
    assert entry_of(b"+14155550100", raw()) is None
    assert entry_of(b"+14155550100|acme", b'{"opted_out":true,') is None  # unreadable: skipped


def test_masking_keeps_the_last_4_digits():
    assert mask("+14155550100") == "+*******0100"
    assert mask("+4930123456") == "+******3456"
    assert mask("+123") == "+123"


def test_a_chunk_reads_at_most_its_size_and_stops_at_the_wanted_count():
    store = MemoryStore()
    store.write({f"+1415555{i:04d}|acme".encode(): raw() for i in range(600)}, 1)
    store.write({f"+1415555{i:04d}|acme|replies".encode(): b"{}" for i in range(600)}, 2)
    store.write({b"__next__": b"1", b"review|x": raw()}, 3)
    chunk = scan_chunk(store, None, Filters(), want=1000)
    assert chunk.scanned == CHUNK_KEYS and len(chunk.entries) == CHUNK_KEYS // 2 and not chunk.exhausted
    chunk = scan_chunk(store, None, Filters(), want=3)
    assert len(chunk.entries) == 3 and chunk.last_key == b"+14155550002|acme" and not chunk.exhausted
    after, seen = None, []
    while True:
        chunk = scan_chunk(store, after, Filters(), want=7)
        seen += [e["number"] for e in chunk.entries]
        after = chunk.last_key
        if chunk.exhausted:
            break
    assert seen == [f"+1415555{i:04d}" for i in range(600)]


# ---------------------------------------------------------------- CSV


def test_csv_header_quoting_and_formulas():
    rows = [entry_of(b"+14155550100|we, \"the\" acme", raw(matched="=cmd|' /C calc'!A0\nx", message_id="@m")),
            entry_of(b"+14155550101|acme", raw(matched=None, rule="-1+1"))]
    text = csv_header() + csv_rows(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(COLUMNS)
    assert parsed[1] == ["+14155550100", 'we, "the" acme', STATE["changed_at"], "keyword", "keyword",
                         "'=cmd|' /C calc'!A0\nx", "'@m"]
    assert parsed[2][4] == "'-1+1" and parsed[2][5] == ""
    assert text.endswith("\r\n") and text.count("\r\n") == 3  # records end in CRLF; the "\\n" inside is quoted
