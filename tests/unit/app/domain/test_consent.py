from datetime import UTC, datetime

from app.domain.consent import ConsentState, apply_reply
from app.domain.keywords import Classification, Intent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STOP = Classification(Intent.OPT_OUT, "stop")
START = Classification(Intent.OPT_IN, "start")
OTHER = Classification(Intent.NONE)


def test_stop_opts_out_with_its_evidence():
    state = apply_reply(None, STOP, message_id="m1", event_time=T0)
    assert state == ConsentState(True, T0, "m1", "keyword", "stop")


def test_start_after_stop_opts_back_in():
    out = apply_reply(None, STOP, message_id="m1", event_time=T0)
    back = apply_reply(out, START, message_id="m2", event_time=T0)
    assert back is not None and back.opted_out is False and back.message_id == "m2"


def test_no_change_cases():
    out = apply_reply(None, STOP, message_id="m1", event_time=T0)
    assert apply_reply(out, STOP, message_id="m3", event_time=T0) is None  # already out
    assert apply_reply(None, START, message_id="m4", event_time=T0) is None  # never out
    assert apply_reply(out, OTHER, message_id="m5", event_time=T0) is None
    assert apply_reply(None, OTHER, message_id="m6", event_time=T0) is None


def test_json_round_trip():
    state = ConsentState(True, T0, "m1", "keyword", "stop")
    assert ConsentState.from_json(state.to_json()) == state
