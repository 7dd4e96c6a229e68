import pytest

from app.domain.provider_codes import DEFAULT_OPT_OUT_CODES, OptOutCodes

CODES = OptOutCodes.parse(DEFAULT_OPT_OUT_CODES)


@pytest.mark.parametrize(
    ("provider", "code"),
    [("twilio", 21610), ("Twilio", "21610"), ("aws", "DESTINATION_PHONE_NUMBER_OPTED_OUT"),
     ("AWS", "destination_phone_number_opted_out"), ("telnyx", "40300"), ("sinch", 257), ("plivo", "200")],
)
def test_default_codes_are_opt_out_evidence(provider, code):
    assert CODES.matches(provider, code)


@pytest.mark.parametrize(
    ("provider", "code"),
    [("twilio", "30003"), ("twilio", None), ("twilio", "200"), ("plivo", "21610"), (None, "21610"), ("aws", "")],
)
def test_other_codes_are_not(provider, code):
    assert CODES.matches(provider, code) is None


def test_wildcard_provider_and_bad_spec():
    codes = OptOutCodes.parse("*:STOPPED, acme:9")
    assert codes.matches("anyone", "stopped") == "*:stopped"
    assert codes.matches("acme", 9) == "acme:9"
    with pytest.raises(ValueError):
        OptOutCodes.parse("21610")
