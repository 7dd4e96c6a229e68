"""No phone number in any log line: the masking rule and the log record factory."""

from __future__ import annotations

import io
import logging
import re
import unicodedata

import pytest
from hypothesis import given, settings
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


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_masking_never_fails_and_never_adds_digits(text):
    masked = mask(text)
    assert len(ascii_digits(masked)) <= len(ascii_digits(text))
    assert re.search(r"\d{7}", masked) is None  # no run of 7 digits survives
    assert mask(masked) == masked  # idempotent


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
