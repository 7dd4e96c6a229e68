"""A dead letter always fits under the broker's record limit, and says what it kept."""

from __future__ import annotations

import hashlib
import os

import orjson
import pytest

from app.records import DEAD_LETTER_MAX_BYTES, Origin, dead_letter
from schemas import DeadLetter

MIB = 1024 * 1024


@pytest.mark.parametrize(
    "payload",
    [b"\x00" * int(0.9 * MIB), b"\x1f\x07" * int(0.45 * MIB), os.urandom(int(0.9 * MIB)), "é".encode() * 500_000,
     b'"' * int(0.9 * MIB)],
    ids=["nul-bytes", "control-bytes", "binary", "multibyte-text", "quotes"],
)
def test_over_size_payloads_keep_a_prefix_their_size_and_hash(payload):
    out = dead_letter("dl", Origin("sms.outbound", 1, 7), "too big", payload, b"k" * 5000)
    assert len(out.value) <= DEAD_LETTER_MAX_BYTES
    record = DeadLetter.model_validate(orjson.loads(out.value))
    assert record.payload_truncated and record.payload_size == len(payload)
    assert record.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert record.key is not None and len(record.key) <= 1024


def test_small_payloads_are_kept_whole():
    out = dead_letter("dl", Origin("sms.inbound", 0, 1), "bad", b"\xff\xfe garbage", None)
    record = DeadLetter.model_validate(orjson.loads(out.value))
    assert not record.payload_truncated and record.payload_encoding == "base64"
