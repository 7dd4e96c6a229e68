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


# ---------------------------------------------------------------- strict recipients (sends)

from app.domain.numbers import MAX_NUMBER_CHARS, parse_recipient, recipient_problem, written_digits  # noqa: E402


@pytest.mark.parametrize("raw", ["+14155550101", "(415) 555-0101", "415.555.0101", "1 415 555 0101",
                                 "＋１４１５５５５０１０１", "+１ (４１５) ５５５－０１０１", "+1 415 555 0101 "])
def test_recipient_accepts_digits_and_separators(raw):
    assert parse_recipient(raw, "US").e164 == "+14155550101"


@pytest.mark.parametrize("raw", ["+1415555O1O1", "+1 415 FLOWERS", "+1415555\u200c0101", "+1415555\u20600101",
                                 "+1\u202d4155550101", "4155550101+", "++14155550101", "+1 415 555 0101 x7",
                                 "+1_415_555_0101", "+1*415*555*0101"])
def test_recipient_refuses_anything_else(raw):
    parsed = parse_recipient(raw, "US")
    assert parsed.status is NumberStatus.UNPARSEABLE and parsed.e164 is None and parsed.error


def test_recipient_problem_names_the_character():
    assert "U+004F" in recipient_problem("+1415555O101") and recipient_problem("+14155550101") is None
    assert recipient_problem("() - .") == "no digits"


def test_written_digits_reads_every_script():
    assert written_digits("+١ (٤١٥) ५५५-０１０１") == "14155550101"


@pytest.mark.parametrize("parse", [parse_number, parse_recipient])
def test_longer_than_any_phone_number_is_unparseable(parse):
    assert parse("1" * (MAX_NUMBER_CHARS + 1), "US").status is NumberStatus.UNPARSEABLE
    assert parse(" " * 10 + "+14155550101", "US").e164 == "+14155550101"


def test_a_number_parsed_from_another_format_is_cached_in_e164_too(monkeypatch):
    from app.domain import numbers

    parsed = parse_number("(617) 555-0177", "US")
    calls = []
    monkeypatch.setattr(numbers, "_parse", lambda raw, region: calls.append(raw) or parsed)
    assert parse_number("+16175550177", "US") is parsed  # the reply from it: no second parse
    assert parse_recipient("+16175550177", "US") is parsed
    assert calls == []
    parse_number("+1 617 555 0177", "US")  # another raw string is parsed
    assert calls == ["+1 617 555 0177"]
