"""The hostile-input generator (no Kafka): every kind, its expectations, determinism, sizes."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter

import orjson
import pytest

from chaos.hostile_kinds import (
    BIDI,
    DL,
    INBOUND,
    INVISIBLE,
    KINDS,
    MAX_PAYLOAD,
    NO_OUTPUT,
    OPT_OUT,
    OUTBOUND,
    PROVIDER,
    SCALES,
    STATUS,
    SUP_INVALID,
    SUP_OPTED,
    Builder,
    ascii_digits,
    followup_phase,
    in_script,
    is_json,
    lenient_e164,
    letters_for_digits,
    mix_phase,
    seed_phase,
)
from chaos.numbers import is_valid

NOW_MS = 1_780_315_200_000


def build(seed: int = 7, scale: str = "test"):
    b = Builder(seed, lambda: NOW_MS)
    s = SCALES[scale]
    seeds = seed_phase(b, s)
    mix, after = mix_phase(b, s)
    return b, s, seeds, mix, after


def test_every_kind_is_generated_on_its_topic_with_expectations():
    _, scale, seeds, mix, after = build()
    records = seeds + mix + after
    by_kind = Counter(r.kind for r in records)
    for name, k in KINDS.items():
        assert by_kind[name] >= 1, name
        assert name.split(".")[0] == k.topic
    for r in records:
        assert r.topic in (INBOUND, OUTBOUND, STATUS)
        assert r.expect, r.kind
        assert r.note or KINDS.get(r.kind), r.kind
    # the generic kinds exist on all three topics
    for generic in ("tombstone", "random_bytes", "invalid_utf8", "non_object_json", "deep_nesting_unparseable",
                    "oversize", "not_json_text", "empty_value"):
        for topic in (INBOUND, OUTBOUND, STATUS):
            assert f"{topic}.{generic}" in KINDS


def test_the_same_seed_makes_the_same_records():
    a = build(3)[3]
    b = build(3)[3]
    assert [(r.kind, r.value, r.key, r.headers, r.partition) for r in a] == \
        [(r.kind, r.value, r.key, r.headers, r.partition) for r in b]
    assert [r.value for r in build(4)[3]] != [r.value for r in a]


def test_test_scale_stays_small_and_full_is_large():
    _, _, seeds, mix, after = build(scale="test")
    assert 1000 <= len(seeds) + len(mix) + len(after) <= 2500
    full = SCALES["full"]
    hostile_kinds = len(KINDS)
    assert full.per_kind * hostile_kinds >= 10_000


def test_dead_letter_kinds_are_what_they_say():
    _, _, _, mix, _ = build()
    for r in mix:
        short = r.kind.split(".", 1)[1]
        if short == "tombstone":
            assert r.value is None
        elif short == "random_bytes":
            assert not is_json(r.value)
        elif short == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                r.value.decode("utf-8")
        elif short == "non_object_json":
            assert not isinstance(orjson.loads(r.value), dict)
        elif short == "deep_nesting_unparseable":
            assert not is_json(r.value)
        elif short == "oversize":
            assert len(r.value) > MAX_PAYLOAD and is_json(r.value)
        elif short == "not_json_text":
            assert not is_json(r.value)
        elif short == "payload_at_limit":
            assert len(r.value) == MAX_PAYLOAD and isinstance(orjson.loads(r.value), dict)
        if r.expect == {DL}:
            assert r.message_id is None or r.topic != OUTBOUND


def test_accepted_recipients_carry_the_e164_of_their_digits():
    _, _, _, mix, _ = build()
    checked = 0
    for r in mix:
        if r.topic != OUTBOUND or r.value is None or not is_json(r.value):
            continue
        obj = orjson.loads(r.value)
        to = obj.get("to") if isinstance(obj, dict) else None
        if PROVIDER in r.expect and r.expect <= {PROVIDER, DL} and isinstance(to, str):
            assert r.number and is_valid(r.number)
            digits = ascii_digits(to)
            assert digits.endswith(r.number[-7:]), (r.kind, to, r.number)
            assert all(unicodedata.category(c)[0] not in "LC" for c in to), (r.kind, to)
            checked += 1
        if r.expect == {SUP_INVALID} and isinstance(to, str) and r.kind.endswith(("letters_for_digits",
                                                                                  "opted_out_letters")):
            assert any(unicodedata.category(c).startswith("L") for c in to)
        if r.kind.endswith(("invisible_chars", "bidi_chars")):
            assert any(c in INVISIBLE + BIDI for c in to), repr(to)
    assert checked > 50


def test_look_alikes_of_opted_out_numbers_are_never_forwarded():
    b, _, seeds, mix, _ = build()
    opted = {n for n, _ in b.seed_opted}
    assert opted == {r.number for r in seeds}
    for r in mix:
        if r.kind.startswith("outbound.opted_out_"):
            assert PROVIDER not in r.expect
            assert r.expect in ({SUP_OPTED}, {SUP_INVALID})
        if r.kind == "valid.send_opted_out":
            assert r.number in opted and r.expect == {SUP_OPTED}


def test_stops_that_must_be_honoured_have_fresh_distinct_numbers():
    _, _, seeds, mix, after = build()
    stops = [r for r in seeds + mix + after if r.opts_out]
    assert len(stops) > 80
    numbers = Counter(r.number for r in stops if r.kind != "inbound.id_clash_start_then_stop")
    assert all(c == 1 for c in numbers.values()), numbers.most_common(3)
    for r in stops:
        assert OPT_OUT in r.expect and r.number and r.number.startswith("+")
    # the second half of each sequence comes after its first
    firsts = {r.number for r in mix if r.kind.endswith("_then_stop")}
    assert {r.number for r in after} == firsts


def test_letters_for_digits_and_scripts():
    assert in_script("+12138762266", "fullwidth") == "+１２１３８７６２２６６"
    assert ascii_digits(in_script("+12138762266", "arabic_indic")) == "12138762266"
    import random

    rng = random.Random(1)
    for _ in range(50):
        text = letters_for_digits("+12138762266", rng)
        assert any(c.isalpha() for c in text) and len(text) == 12
    assert lenient_e164("+121387O22OO") == "+12138762266"  # the vanity reading: another number
    assert lenient_e164("hello") is None


def test_keys_and_headers_cover_the_variants():
    _, _, seeds, mix, after = build(seed=11)
    records = seeds + mix + after
    keys = Counter(r.key_variant for r in records)
    headers = Counter(r.header_variant for r in records)
    assert {"none", "number", "binary", "huge", "empty", "non_utf8"} <= set(keys)
    assert {"binary", "many", "empty_name", "null_value"} <= set(headers)
    for r in records:
        if r.value is None and r.key is None:
            assert r.partition is not None  # produced as a batch of its own
        if r.key_variant == "huge":
            assert len(r.key) == 100_000


def test_followup_sends_expect_the_opt_out_and_other_accounts_forwarded():
    b, scale, seeds, _, _ = build()
    pairs = [(r.number, r.account) for r in seeds]
    others = [(pairs[0][0], "other-account")]
    records = followup_phase(b, scale, pairs, others)
    kinds = Counter(r.kind for r in records)
    assert kinds["followup.send_opted_out"] == len(pairs)
    assert kinds["followup.send_other_account"] == 1
    for r in records:
        obj = json.loads(r.value)
        if r.kind == "followup.send_opted_out":
            assert r.expect == {SUP_OPTED} and (r.number, obj["account_id"]) in pairs
        if r.kind == "followup.send_other_account":
            assert r.expect == {PROVIDER} and obj["account_id"] == "other-account"
        assert NO_OUTPUT not in r.expect
