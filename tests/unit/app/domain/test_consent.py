from datetime import UTC, datetime, timedelta

import pytest

from app.domain.consent import (
    RECENT_IDS,
    ConsentEvent,
    ConsentState,
    Source,
    Verdict,
    apply_event,
    fingerprint,
    token_id,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stop(mid: str, minutes: int = 0, source: Source = Source.KEYWORD) -> ConsentEvent:
    return ConsentEvent(True, source, mid, T0 + timedelta(minutes=minutes), rule="keyword", matched="stop")


def start(mid: str, minutes: int = 0) -> ConsentEvent:
    return ConsentEvent(False, Source.KEYWORD, mid, T0 + timedelta(minutes=minutes), rule="keyword", matched="start")


def run(*events: ConsentEvent):
    state, verdicts = None, []
    for event in events:
        transition = apply_event(state, event)
        verdicts.append(transition.verdict)
        if transition.new is not None:
            state = transition.new
    return state, verdicts


def test_stop_opts_out_with_its_evidence():
    state, verdicts = run(stop("m1"))
    assert verdicts == [Verdict.APPLIED]
    assert state.opted_out and state.changed_at == T0 and state.message_id == "m1"
    assert state.source is Source.KEYWORD and state.matched == "stop"


def test_start_after_stop_opts_back_in():
    state, verdicts = run(stop("m1"), start("m2", 1))
    assert verdicts == [Verdict.APPLIED, Verdict.APPLIED]
    assert not state.opted_out and state.message_id == "m2"


def test_second_stop_changes_nothing_but_moves_the_clock():
    state, verdicts = run(stop("m1"), stop("m2", 5))
    assert verdicts == [Verdict.APPLIED, Verdict.UNCHANGED]
    assert state.changed_at == T0 and state.message_id == "m1"  # evidence of the change kept
    assert state.last_event_at == T0 + timedelta(minutes=5) and state.last_message_id == "m2"


def test_replayed_message_id_changes_nothing():
    state, verdicts = run(stop("m1"), start("m2", 1), stop("m1"), start("m2", 1))
    assert verdicts == [Verdict.APPLIED, Verdict.APPLIED, Verdict.DUPLICATE, Verdict.DUPLICATE]
    assert not state.opted_out


def test_older_event_does_not_override_newer_state():
    state, verdicts = run(start("m2", 10), stop("m1", 5))
    assert verdicts == [Verdict.UNCHANGED, Verdict.STALE]
    assert state.opted_out is False


def test_late_start_older_than_a_repeated_stop_does_not_opt_in():
    # STOP t0, STOP t10, then START t5 arrives late: the newest event (t10) is a STOP
    state, verdicts = run(stop("a", 0), stop("b", 10), start("c", 5))
    assert verdicts[-1] is Verdict.STALE and state.opted_out


def test_same_time_ties_go_to_the_opt_out_whatever_the_order():
    one, _ = run(stop("m-a"), start("m-b"))
    other, _ = run(start("m-b"), stop("m-a"))
    assert one.opted_out is other.opted_out is True  # fail closed: an opt-out outranks an opt-in


def test_same_time_same_kind_ties_break_by_message_id():
    one, _ = run(stop("m-a"), stop("m-b"))
    other, _ = run(stop("m-b"), stop("m-a"))
    assert one.last_message_id == other.last_message_id == "m-b"


def test_reused_id_with_other_content_is_processed_and_flagged():
    state = apply_event(None, start("X")).new
    transition = apply_event(state, stop("X"))  # same id, same time: a STOP, not a replay
    assert transition.verdict is Verdict.APPLIED and transition.clash
    assert transition.new.opted_out


def test_reused_id_with_other_text_is_not_a_replay():
    first = ConsentEvent(True, Source.KEYWORD, "X", T0, digest=fingerprint("STOP"))
    again = ConsentEvent(True, Source.KEYWORD, "X", T0 + timedelta(minutes=1), digest=fingerprint("stop all"))
    state = apply_event(None, first).new
    transition = apply_event(state, again)
    assert transition.verdict is Verdict.UNCHANGED and transition.clash


def test_replay_with_same_content_is_a_duplicate_without_clash():
    event = ConsentEvent(True, Source.KEYWORD, "X", T0, digest=fingerprint("STOP"))
    state = apply_event(None, event).new
    transition = apply_event(state, event)
    assert transition.verdict is Verdict.DUPLICATE and not transition.clash


def test_an_opt_out_is_never_the_replay_of_an_opt_in():
    state = None
    for minutes in range(RECENT_IDS + 2):  # ids of opt-ins remembered, then a STOP reusing each
        transition = apply_event(state, start(f"id{minutes}", minutes))
        state = transition.new or state
    for minutes in range(RECENT_IDS + 2):
        transition = apply_event(state, stop(f"id{minutes}", 100 + minutes))
        assert transition.verdict is not Verdict.DUPLICATE
        state = transition.new or state
    assert state.opted_out


@pytest.mark.parametrize("source", [Source.OPERATOR, Source.PROVIDER, Source.PHRASE])
def test_other_sources_opt_out(source):
    state, verdicts = run(stop("x", source=source))
    assert verdicts == [Verdict.APPLIED] and state.source is source


def test_opt_in_for_unknown_number_is_remembered_without_change():
    transition = apply_event(None, start("m1"))
    assert transition.verdict is Verdict.UNCHANGED and transition.previous is None
    assert transition.new is not None and transition.new.opted_out is False


def test_recent_ids_are_bounded():
    events = [stop(f"m{i}", i) for i in range(RECENT_IDS * 2)]
    state, _ = run(*events)
    assert len(state.recent_ids) == RECENT_IDS and token_id(state.recent_ids[-1]) == f"m{RECENT_IDS * 2 - 1}"


def test_json_round_trip():
    state, _ = run(stop("m1"), stop("m2", 3))
    assert ConsentState.from_json(state.to_json()) == state
