"""A routed partition's phases and their legal transitions."""

import itertools

import pytest

from app.engine.phases import LEGAL, IllegalTransition, Phase, Phases


def test_the_drawn_edges_are_the_legal_ones():
    assert LEGAL == {
        Phase.CLOSED: {Phase.RESTORING},
        Phase.RESTORING: {Phase.RUNNING, Phase.CLOSED},
        Phase.RUNNING: {Phase.RESTORING, Phase.CLOSED},
    }


@pytest.mark.parametrize(("start", "to"), list(itertools.product(Phase, Phase)))
def test_every_move_is_checked(start, to):
    phases = Phases()
    path = {Phase.CLOSED: [], Phase.RESTORING: [Phase.RESTORING], Phase.RUNNING: [Phase.RESTORING, Phase.RUNNING]}
    for step in path[start]:
        phases.move(3, step)
    assert phases.of(3) is start
    if to in LEGAL[start]:
        phases.move(3, to)
        assert phases.of(3) is to
    else:
        with pytest.raises(IllegalTransition):
            phases.move(3, to)
        assert phases.of(3) is start


def test_a_partition_never_seen_is_closed_and_closing_it_is_harmless():
    phases = Phases()
    assert phases.of(7) is Phase.CLOSED and phases.held() == set()
    phases.close(7)
    phases.move(7, Phase.RESTORING)
    phases.move(1, Phase.RESTORING)
    phases.move(1, Phase.RUNNING)
    assert phases.held() == {1, 7}
    assert phases.in_phase(Phase.RESTORING) == [7] and phases.in_phase(Phase.RUNNING) == [1]
    phases.close(1)
    assert phases.of(1) is Phase.CLOSED and phases.held() == {7}
