"""No phone number in any log line: the masking rule and the log record factory."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from uuid import UUID

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.domain.masking import mask, redact
from app.runtime import log_mask
from app.runtime.log_mask import MaskedLogRecord


@pytest.mark.parametrize(("text", "masked"), [
    ("+14155550100", "+*******0100"),
    ("4155550100", "******0100"),
    ("to (415) 555-0100 now", "to (***) ***-0100 now"),
    ("415.555.0100", "***.***.0100"),
    ("+1 415 555 0100", "+* *** *** 0100"),
    ("+49 30 1234567", "+** ** ***4567"),
    ("%2B14155550100", "%2B*******0100"),
    ("/optouts/%2B1%20415%20555%200100?account=a", "/optouts/%2B*%20***%20***%200100?account=a"),
    ("%2B%31%34%31%35%35%35%35%30%31%30%30", "%2B*******%30%31%30%30"),  # percent-encoded digits
    ("?n=1+415+555+0100", "?n=*+***+***+0100"),  # a query string's spaces
    ("\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10", "*******\uff10\uff11\uff10\uff10"),
    ("\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660", "******\u0660\u0661\u0660\u0660"),
    ("abc4155550100def", "abc******0100def"),
    ("+12345", "+*2345"),  # five digits after a plus
    ("offset 1234567", "offset ***4567"),  # seven digits: masked, whatever they are
])
def test_phone_like_runs_keep_only_their_last_four_digits(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize("text", [
    "partition 3, 12 records, port 6066, 12345 bytes",
    "+1234",  # four digits after a plus
    "123456",  # six digits
    "2026-11-20T10:00:00+00:00",  # ISO date and time, offset
    "2026-11-20 10:00:00,123",  # logging's asctime
    "127.0.0.1:6066 and 192.168.100.200",  # IPv4 addresses
    "faust-streaming 0.15.3, aiokafka 0.14.0, recovered in 6.4 s",
    "1,000,000 opt-outs",
    "held for 12.5 s; 41 similar message(s)",
    "",
])
def test_short_numbers_dates_and_addresses_are_left_alone(text):
    assert mask(text) == text


def test_redact_keeps_no_digit_of_a_phone_number():
    assert redact("call +1 (415) 555-0100") == "call +* (***) ***-****"
    assert redact("limit 8190 bytes") == "limit 8190 bytes"


DIGITS = "0123456789"
SCRIPTS = [DIGITS, "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",
           "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"]
SEPARATORS = ["", " ", "-", ".", "(", ")", ") ", "%20", "+", "%2D"]


@st.composite
def written_numbers(draw):
    """A phone number as someone might write it: digits of one script, separators, a prefix."""
    digits = draw(st.text(DIGITS, min_size=7, max_size=15))
    script = draw(st.sampled_from(SCRIPTS))
    out = []
    for i, d in enumerate(digits):
        if i:
            out.append(draw(st.sampled_from(SEPARATORS)))
        out.append(script[int(d)] if draw(st.booleans()) else f"%3{d}" if draw(st.integers(0, 9)) == 0 else d)
    prefix = draw(st.sampled_from(["", "+", "%2B", "%2b", "tel:", "("]))
    return digits, prefix + "".join(out)


def ascii_digits(text: str) -> str:
    text = re.sub(r"%3([0-9])", r"\1", re.sub(r"%2[0-9a-fA-F]", " ", text))  # %20 is a space, %31 a 1
    return "".join(str(unicodedata.digit(c)) for c in text if c.isdigit())


@given(written_numbers(), st.text(max_size=20), st.text(max_size=20))
@settings(max_examples=400, deadline=None)
def test_a_written_number_keeps_at_most_its_last_four_digits_wherever_it_stands(number, before, after):
    digits, written = number
    masked = mask(f"{before}{written}{after}")
    assert digits not in ascii_digits(masked) or digits in ascii_digits(before + after)
    assert ascii_digits(mask(written)) == ascii_digits(written)[-4:]  # alone: exactly its last four
    # redact keeps none of them
    assert digits[:-4] not in ascii_digits(redact(written))


MACHINE_ID = re.compile(r"(?<![^\W_])(?:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32,})(?![^\W_])")


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_masking_never_fails_and_never_adds_digits(text):
    masked = mask(text)
    assert len(ascii_digits(masked)) <= len(ascii_digits(text))
    assert re.search(r"\d{7}", MACHINE_ID.sub("<id>", masked)) is None  # no run of 7 digits survives
    assert mask(masked) == masked  # idempotent


# ---------------------------------------------------------------- machine ids (UUIDs, hex ids)

MEMBER_ID_LINE = "Joined group 'sms-optout' (generation 1) with member_id sms-optout-worker-{}"


@pytest.mark.parametrize("text", [
    MEMBER_ID_LINE.format("19caad97-2bc5-44e4-9482-d35d0289ebb8"),
    MEMBER_ID_LINE.format("d35d0289-2bc5-44e4-9482-1234567890ab"),  # a 10-digit run in the last group
    MEMBER_ID_LINE.format("12345678-9012-4345-8678-90123456789a"),  # digits, but for one letter ...
    "member_id=aiokafka-0.14.0-8E3C2B1A-1234-4567-8901-234567890123",  # ... upper case, after a version
    "keywords_id sha256:5f0d1234567890abcdef1234567890abcdef1234567890abcdef1234567890ab",
    "payload_sha256 9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7",
    "trace 0af7651916cd43dd8448eb211c80319c",  # 32 hex digits
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 (SHA-1)",
])
def test_uuids_and_hex_ids_are_left_alone(text):
    assert mask(text) == text


@given(st.uuids(), st.sampled_from(["sms-optout-worker-", "member_id ", "w-", "(", "id=", ""]),
       st.sampled_from(["", " ", ")", ",", "-x"]), st.booleans())
@settings(max_examples=300, deadline=None)
def test_every_uuid_is_left_alone_whole(uuid, before, after, upper):
    text = before + (str(uuid).upper() if upper else str(uuid)) + after
    assert mask(text) == text


@given(st.binary(min_size=1, max_size=64), st.sampled_from(["sha256:", "digest ", "/", ""]))
@settings(max_examples=300, deadline=None)
def test_a_hex_digest_is_left_alone_from_its_first_letter_to_its_last(data, before):
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    masked = mask(before + digest)
    letters = [i for i, c in enumerate(digest) if c in "abcdef"]
    inner = digest[letters[0]:letters[-1] + 1]
    head, kept, tail = masked.rpartition(inner)
    assert kept  # the digits between its letters are kept
    assert head == mask(before + digest[:letters[0]]) and tail == mask(digest[letters[-1] + 1:])  # as ever


@pytest.mark.parametrize(("text", "masked"), [
    ("abc4155550100def", "abc******0100def"),  # letters on both sides, but no id: a short token
    ("deadbeef4155550100cafe", "deadbeef******0100cafe"),  # hex letters, 22 characters: no id either
    ("4155550100-d35d0289-2bc5-44e4-9482-d35d0289ebb8", "******0100-d35d0289-2bc5-44e4-9482-d35d0289ebb8"),
    ("+1 415 555 0100-0289d35d-2bc5-44e4-9482-d35d0289ebb8",  # digits run on into the UUID: read as before
     "+* *** *** ****-0289d35d-2bc5-44e4-9482-d35d0289ebb8"),  # (up to its first letter)
    ("d35d0289-2bc5-44e4-9482-d35d0289ebb8, 4155550100", "d35d0289-2bc5-44e4-9482-d35d0289ebb8, ******0100"),
    ("d35d0289-2bc5-44e4-9482-d35d0289ebb0 415 555 0100",  # ... and out of it
     "d35d0289-2bc5-44e4-9482-d35d0289ebb* *** *** 0100"),
    ("+14155550100d35d0289-2bc5-44e4-9482-d35d0289ebb8", "+*******0100d35d0289-2bc5-44e4-9482-d35d0289ebb8"),
    ("+12345678-1234-4abc-8123-123456789012", "+********-*234-4abc-8123-123456789012"),  # a plus runs on
    ("4155550100" + "ab" * 12 + "4155550101", "******0100" + "ab" * 12 + "******0101"),  # a hex id's edges
    ("sms-optout-worker-19caad97-2bc5-44e4-9482-d35d0289ebb8x4155550100",  # a letter touches it: no UUID
     "sms-optout-worker-19caad97-2bc5-44e4-9482-d35d0289ebb8x******0100"),
    ("41555501-0012-3456-7890-123456789012", "********-****-****-****-********9012"),  # no letter: no id
])
def test_a_phone_number_beside_or_in_an_id_lookalike_is_still_masked(text, masked):
    assert mask(text) == masked


@given(written_numbers(), st.uuids(), st.sampled_from(["", " ", "-", ":", "/", "_", ", "]), st.booleans())
@example(("3860000", "3860000"), UUID("0d61a5e0-237d-cc75-e386-aeac34937827"), "", False)  # (CI, by chance)
@settings(max_examples=400, deadline=None)
def test_a_written_number_next_to_a_uuid_keeps_at_most_its_last_four_digits(number, uuid, glue, first):
    digits, written = number
    text = f"{written}{glue}{uuid}" if first else f"{uuid}{glue}{written}"
    masked = mask(text)
    # The UUID and the glue are masked character for character (only percent-encoded digits
    # shrink): the number's part of the masked text is where it was. (Looking for the number's
    # digits in the whole masked text found them by chance: "...e386-aeac34937827" + "3860000"
    # is masked "...e386-aeac***********0000", whose digits hold "3860000".)
    rest = len(glue) + len(str(uuid))
    number_part = masked[:len(masked) - rest] if first else masked[rest:]
    assert len(ascii_digits(number_part)) <= 4
    assert digits not in ascii_digits(number_part)


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=50))
def test_text_without_digits_is_unchanged(text):
    assert mask(text) == text or "%3" in text


# ---------------------------------------------------------------- the record factory

@pytest.fixture
def masked_logging():
    before = logging.getLogRecordFactory()
    log_mask.install()
    log_mask.install()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("test.log_mask")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)
    logging.setLogRecordFactory(before)


def test_every_part_of_a_record_is_masked(masked_logging):
    logger, stream = masked_logging
    logger.info("send to %s in %r", "+14155550100", {"to": 4155550101})
    logger.info("preformatted +14155550102")
    try:
        raise ValueError("cannot parse +1 415 555 0103")
    except ValueError:
        logger.exception("failed for %s", "(415) 555-0104")
    logger.warning("stack", stack_info=True, extra={"number": "x"})
    text = stream.getvalue()
    for digits in ("14155550100", "4155550101", "14155550102", "415 555 0103", "555-0104"):
        assert digits not in text
    assert "+*******0100" in text and "******0101" in text and "+* *** *** 0103" in text
    assert "ValueError" in text and "Traceback" in text


def test_the_template_and_arguments_stay_for_filters(masked_logging):
    logger, _ = masked_logging
    seen = []

    class Keep(logging.Filter):
        def filter(self, record):
            seen.append((record.msg, record.args, type(record)))
            return True

    keep = Keep()
    logger.addFilter(keep)
    try:
        logger.info("Unable connect to %r", "+14155550100")
    finally:
        logger.removeFilter(keep)
    assert seen == [("Unable connect to %r", ("+14155550100",), MaskedLogRecord)]


def test_a_record_whose_arguments_do_not_format_still_logs_without_them(masked_logging):
    logger, stream = masked_logging
    logger.info("%d numbers", "+14155550100")
    assert "could not be formatted" in stream.getvalue() and "14155550100" not in stream.getvalue()


def test_a_foreign_factory_is_kept_and_its_records_masked():
    before = logging.getLogRecordFactory()

    def foreign(*args, **kwargs):
        record = logging.LogRecord(*args, **kwargs)
        record.foreign = True
        return record

    try:
        logging.setLogRecordFactory(foreign)
        log_mask.install()
        record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "to %s", ("+14155550100",), None)
        assert record.foreign and record.getMessage() == "to +*******0100"
    finally:
        logging.setLogRecordFactory(before)
