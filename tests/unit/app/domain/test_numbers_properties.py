"""Property-based tests (hypothesis) of ``parse_number``, the lenient reading used for
replies, receipts and lookups: it never raises, whatever it is given; what it returns is
consistent; and the same number written in any decimal-digit script or with the usual
separators is the same E.164 number."""

from __future__ import annotations

import re
import string
import unicodedata

import phonenumbers
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from app.domain.numbers import NumberStatus, ParsedNumber, parse_number

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# every Unicode decimal digit (category Nd), by script: the zero of each block of ten
ND_ZEROS = sorted(cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Nd"
                  and unicodedata.digit(chr(cp)) == 0)
SEPARATORS = " \u00a0-\u2010\u2011\u2013\u2014./"
# characters phone numbers are built from, and those that imitate or hide them
PHONEY = (string.digits + "+\uff0b()" + SEPARATORS + "OolISBZ" + "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e"
          "\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x00\t\n\r\x7f" + "０１２３٤٥٦۷۸९๑𝟏¹₂①")

phoney_text = st.text(alphabet=PHONEY, max_size=40)
any_text = st.text(max_size=200)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=10,
)


def valid_numbers() -> st.SearchStrategy[str]:
    """Valid E.164 numbers of a few countries: a prefix and 2-4 more digits."""
    prefixes = {"+1213876": 4, "+1415555": 4, "+1617555": 4, "+4420794600": 2, "+336123456": 2, "+8190123456": 2}

    def valid(number: str) -> bool:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
        except phonenumbers.NumberParseException:
            return False

    return st.builds(lambda prefix, tail: prefix + str(tail % 10 ** prefixes[prefix]).zfill(prefixes[prefix]),
                     st.sampled_from(sorted(prefixes)), st.integers(0, 9999)).filter(valid)


def in_digits(text: str, zeros: list[int]) -> str:
    """``text`` with each ASCII digit written in the script of a zero from ``zeros`` (cycled)."""
    out, i = [], 0
    for ch in text:
        if ch.isascii() and ch.isdigit():
            out.append(chr(zeros[i % len(zeros)] + int(ch)))
            i += 1
        else:
            out.append(ch)
    return "".join(out)


@PROPS
@given(any_text)
@example("\u202e6622678312+")
@example("+" * 10_000)
@example("1" * 100_000)
@example("\ud800")
def test_never_raises_on_any_text(raw):
    parsed = parse_number(raw, "US")
    assert isinstance(parsed.status, NumberStatus)


@PROPS
@given(phoney_text)
def test_never_raises_on_look_alikes_and_is_consistent(raw):
    parsed = parse_number(raw, "US")
    assert parse_number(raw, "US") == parsed  # cached or not, the same answer
    if parsed.status in (NumberStatus.VALID, NumberStatus.UNVERIFIED):
        assert parsed.e164 is not None and E164.match(parsed.e164), parsed
    else:
        assert parsed.e164 is None and parsed.error
    if parsed.status is NumberStatus.MISSING:
        assert not raw.strip()


@PROPS
@given(any_json)
def test_never_raises_on_any_json_value(raw):
    parsed = parse_number(raw, "US")
    if raw is None:
        assert parsed.status is NumberStatus.MISSING
    elif not isinstance(raw, str):
        assert parsed.status is NumberStatus.UNPARSEABLE


@PROPS
@given(st.text(alphabet=PHONEY + string.ascii_letters, min_size=65, max_size=2000))
def test_longer_than_any_phone_number_is_rejected_before_parsing(raw):
    assume(raw.strip())
    assert parse_number(raw, "US").status is NumberStatus.UNPARSEABLE


@PROPS
@given(st.sampled_from(["US", "GB", "FR", "DE", "JP", "IN", "ZZ", "us", "XX"]), phoney_text)
def test_any_region_never_raises(region, raw):
    parse_number(raw, region)


@PROPS
@given(valid_numbers(), st.lists(st.sampled_from(ND_ZEROS), min_size=1, max_size=4))
def test_digits_of_any_script_are_the_same_number(number, zeros):
    written = in_digits(number, zeros)
    parsed = parse_number(written, "US")
    assert parsed.status is NumberStatus.VALID and parsed.e164 == number, (written, parsed)


@PROPS
@given(valid_numbers(), st.data())
def test_usual_separators_are_the_same_number(number, data):
    digits = number[1:]
    out = ["+" if data.draw(st.booleans()) else "\uff0b"]
    for ch in digits:
        out.append(ch)
        if data.draw(st.integers(0, 3)) == 0:
            out.append(data.draw(st.sampled_from(SEPARATORS)))
    written = "".join(out).rstrip(SEPARATORS)
    assume(len(written) <= 64)
    assert parse_number(written, "US").e164 == number, written


@PROPS
@given(valid_numbers())
def test_e164_is_a_fixed_point(number):
    parsed = parse_number(number, "US")
    assert parsed.status is NumberStatus.VALID and parsed.e164 == number
    assert parse_number(parsed.e164, "GB").e164 == number  # the region does not matter with a '+'


nanp = st.from_regex(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True)
e164_shaped = st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True)


@PROPS
@given(valid_numbers() | nanp | e164_shaped, st.sampled_from(["US", "GB", "DE", "JP"]))
@example("+390612345678", "US")  # the national number keeps Italy's leading zero
@example("+442079460000", "US")
@example("+8613800138000", "US")
@example("+79161234567", "US")  # a one-digit country code other than 1
def test_a_number_remembered_in_e164_reads_as_phonenumbers_reads_it(number: str, region: str) -> None:
    """A number written exactly in its valid E.164 form is remembered in the compact set and
    read from it once the small caches have moved on: what it reads must be exactly what
    phonenumbers makes of it, leniently and strictly, whatever the default region."""
    from app.domain import numbers

    expected = numbers._parse(number, region)  # phonenumbers itself, no cache
    numbers.parse_number(number, region)
    numbers._lenient_cache.clear()
    numbers._strict_cache.clear()
    remembered = numbers._known_e164(number)
    assert (remembered is not None) == (expected.status is NumberStatus.VALID and expected.e164 == number)
    assert numbers.parse_number(number, region) == expected
    numbers._strict_cache.clear()
    assert numbers.parse_recipient(number, region) == expected


def test_only_ascii_digits_after_a_plus_are_read_from_the_set() -> None:
    from app.domain import numbers

    numbers.parse_number("+12125550123", "US")
    assert numbers._known_e164("+12125550123") is not None
    for lookalike in ("+1212555012３", "+012125550123", "+1 2125550123", "12125550123", "+12125550123\n"):
        assert numbers._known_e164(lookalike) is None


def generic_parse(raw: str, region: str) -> ParsedNumber:
    """``_parse`` by phonenumbers' general path only (what the NANP shortcut must equal)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        return ParsedNumber(NumberStatus.UNPARSEABLE, error=f"cannot parse phone number: {exc.args[-1]}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.national_significant_number(number)
    if phonenumbers.is_valid_number(number):
        return ParsedNumber(NumberStatus.VALID, e164, national=national)
    return ParsedNumber(NumberStatus.UNVERIFIED, e164, error="not a valid phone number", national=national)


@PROPS
@given(nanp | e164_shaped, st.sampled_from(["US", "CA", "GB", "DE", "JP", "BR", "ZZ"]))
@example("+12125550123", "US")
@example("+18005550123", "US")  # toll free
@example("+12642351234", "US")  # Anguilla, a NANP region with leading digits
@example("+19999999999", "US")  # NANP-shaped, not valid
def test_the_nanp_shortcut_reads_what_phonenumbers_reads(number: str, region: str) -> None:
    from app.domain import numbers

    assert numbers._parse(number, region) == generic_parse(number, region)
    if numbers._NANP_E164.fullmatch(number):
        assert phonenumbers.parse(number, region) == phonenumbers.PhoneNumber(country_code=1,
                                                                              national_number=int(number[2:]))


@PROPS
@given(nanp | e164_shaped | phoney_text, st.sampled_from(["US", "GB"]))
def test_a_recipient_in_e164_shape_is_judged_as_any_other(raw: str, region: str) -> None:
    """The strict reading skips its character checks for "+" and ASCII digits: the same verdict."""
    from app.domain import numbers

    expected_problem = numbers.recipient_problem(raw) if raw.strip() else None
    got = numbers._parse_strict(raw, region)
    if not raw.strip():
        assert got.status is NumberStatus.MISSING
    elif expected_problem is not None:
        assert got == ParsedNumber(NumberStatus.UNPARSEABLE, error=expected_problem)
    else:
        lenient = numbers.parse_number(raw, region)
        if lenient.national is not None and not numbers.written_digits(raw).endswith(lenient.national):
            assert got.status is NumberStatus.UNPARSEABLE
        else:
            assert got == lenient


@PROPS
@given(valid_numbers() | nanp | e164_shaped)
def test_a_number_after_a_plus_reads_the_same_whatever_the_default_region(number: str) -> None:
    """Why the set of numbers remembered in E.164 needs no region: phonenumbers reads the
    country code of a "+" number from its digits."""
    readings = {generic_parse(number, region) for region in ("US", "GB", "DE", "JP", "BR", "IN", "ZZ")}
    assert len(readings) == 1
