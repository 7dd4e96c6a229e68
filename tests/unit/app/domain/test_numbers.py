import pytest

from app.domain.numbers import NumberStatus, parse_number


@pytest.mark.parametrize(
    "raw",
    ["+14155550101", "(415) 555-0101", "415-555-0101", "415.555.0101", "4155550101", "1 415 555 0101",
     "+1 (415) 555-0101", " +1 415 555 0101 ", "tel:+1-415-555-0101"],
)
def test_us_formats_normalize_to_e164(raw):
    parsed = parse_number(raw, "US")
    assert parsed.status is NumberStatus.VALID
    assert parsed.e164 == "+14155550101"


def test_region_decides_national_numbers():
    assert parse_number("020 7946 0018", "GB").e164 == "+442079460018"
    assert parse_number("+44 20 7946 0018", "US").e164 == "+442079460018"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing(raw):
    assert parse_number(raw, "US").status is NumberStatus.MISSING


@pytest.mark.parametrize("raw", ["call me", "+", "1", 14155550101, ["+14155550101"]])
def test_unparseable(raw):
    parsed = parse_number(raw, "US")
    assert parsed.status is NumberStatus.UNPARSEABLE
    assert parsed.e164 is None and parsed.error


@pytest.mark.parametrize("raw", ["12345", "+1 555 000 0000", "+999 1234", "abc123"])
def test_parses_but_not_valid_keeps_e164(raw):
    parsed = parse_number(raw, "US")
    assert parsed.status in (NumberStatus.UNVERIFIED, NumberStatus.UNPARSEABLE)
    if parsed.status is NumberStatus.UNVERIFIED:
        assert parsed.e164 and parsed.e164.startswith("+")
