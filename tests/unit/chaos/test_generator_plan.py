"""The generator's plan (no Kafka): sizes, valid numbers, alternating replies, probes."""

from __future__ import annotations

from collections import Counter

from chaos.config import SCALES
from chaos.generator import iso_us, make_plan
from chaos.numbers import contact_numbers, is_valid, probe_numbers, routed_partition


def test_plan_has_the_scale_and_alternates_replies_per_number():
    scale = SCALES["small"]
    plan = make_plan(scale, seed=3)
    kinds = Counter(kind for _, kind, _ in plan.events)
    assert kinds["send"] == scale.sends
    assert len(plan.numbers) == scale.numbers and len(set(plan.replying)) == scale.replying
    assert [e[0] for e in plan.events] == sorted(e[0] for e in plan.events)
    assert all(0 <= e[0] <= scale.duration_s for e in plan.events)
    per_number: dict[str, list[str]] = {}
    for _, kind, number in plan.events:
        if kind != "send":
            per_number.setdefault(number, []).append(kind)
    assert set(per_number) == set(plan.replying)
    for intents in per_number.values():
        assert intents[0] == "opt_out"
        # alternating, except an occasional repeated STOP (an "unchanged" verdict)
        for a, b in zip(intents, intents[1:]):
            assert (a, b) != ("opt_in", "opt_in")
    assert make_plan(scale, seed=3).events == plan.events


def test_numbers_are_valid_and_probes_cover_every_partition():
    numbers = contact_numbers(500)
    assert len(set(numbers)) == 500 and all(is_valid(n) for n in numbers[::25])
    probes = probe_numbers(8)
    assert sorted(probes) == list(range(8))
    assert all(routed_partition(n, 8) == p for p, n in probes.items())
    assert not set(probes.values()) & set(contact_numbers(2000))


def test_received_at_is_iso_with_offset_and_microseconds():
    assert iso_us(1_700_000_000_123_456) == "2023-11-14T22:13:20.123456+00:00"
