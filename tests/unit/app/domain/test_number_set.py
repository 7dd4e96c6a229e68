"""The exact set of numbers behind the parse caches (app/domain/number_set.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.number_set import NumberSet

KIB = 1024


def test_it_holds_exactly_what_was_added() -> None:
    numbers = NumberSet(64 * KIB)
    rng = random.Random(7)
    added = {rng.randrange(1, 10**15) for _ in range(1000)}
    for n in added:
        numbers.add(n)
    assert all(n in numbers for n in added)
    others = {rng.randrange(1, 10**15) for _ in range(20_000)} - added
    assert not any(n in numbers for n in others)
    assert len(numbers) == len(added)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 2**63 - 1), max_size=300), st.lists(st.integers(1, 2**63 - 1), max_size=300))
def test_membership_is_exact_for_any_integers(added: list[int], probed: list[int]) -> None:
    numbers = NumberSet(16 * KIB)  # 1,024 slots a generation: no flip below 512
    for n in added:
        numbers.add(n)
    for n in probed + added:
        assert (n in numbers) == (n in set(added))


def test_bounded_by_bytes_and_holds_at_least_the_last_capacity_numbers() -> None:
    numbers = NumberSet(32 * KIB)  # 2 x 2,048 slots of 8 bytes
    assert numbers.max_bytes == 32 * KIB and numbers.capacity == 1024
    sequence = list(range(10**10, 10**10 + 10 * numbers.capacity))  # consecutive numbers: the worst case
    for n in sequence:
        numbers.add(n)
        assert len(numbers) <= 2 * numbers.capacity
    assert all(n in numbers for n in sequence[-numbers.capacity:])
    assert not any(n in numbers for n in sequence[:-2 * numbers.capacity])


def test_a_million_numbers_take_the_thirty_two_mebibytes_the_parse_module_gives_it() -> None:
    from app.domain.numbers import E164_SET_BYTES

    numbers = NumberSet(E164_SET_BYTES)
    assert numbers.max_bytes <= E164_SET_BYTES and numbers.capacity >= 1_000_000


@pytest.mark.parametrize("bad", [0, -1, 2**63])
def test_only_positive_64_bit_integers(bad: int) -> None:
    with pytest.raises(ValueError):
        NumberSet(KIB).add(bad)


def test_too_few_bytes_for_a_table() -> None:
    with pytest.raises(ValueError):
        NumberSet(16)
