"""Phone numbers for the chaos runs: all valid for ``phonenumbers`` (so a send is
decided on its opt-out state, never suppressed as ``invalid_number``), and the
routed partition each one lands on (the runtime's ``murmur2(E.164) % partitions``)."""

from __future__ import annotations

import phonenumbers
from aiokafka.partitioner import murmur2

# NANP exchanges whose subscriber numbers phonenumbers holds valid (checked at use).
CONTACT_PREFIXES = ("+1617555", "+1646555", "+1718555", "+1415555")
PROBE_PREFIX = "+1857555"  # never replies: probe sends are always deliverable


def is_valid(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def routed_partition(number: str, partitions: int) -> int:
    """The routed-topic partition (and table partition) of an E.164 number."""
    return (murmur2(number.encode()) & 0x7FFFFFFF) % partitions


def contact_numbers(count: int) -> list[str]:
    """``count`` distinct valid E.164 numbers, deterministic."""
    out: list[str] = []
    for prefix in CONTACT_PREFIXES:
        for n in range(10000):
            number = f"{prefix}{n:04d}"
            if is_valid(number):
                out.append(number)
                if len(out) == count:
                    return out
    raise ValueError(f"only {len(out)} valid numbers available, {count} asked")


def probe_numbers(partitions: int) -> dict[int, str]:
    """One valid number per routed partition, outside the contact numbers."""
    found: dict[int, str] = {}
    for n in range(10000):
        number = f"{PROBE_PREFIX}{n:04d}"
        p = routed_partition(number, partitions)
        if p not in found and is_valid(number):
            found[p] = number
            if len(found) == partitions:
                return found
    raise ValueError(f"no probe number for partitions {sorted(set(range(partitions)) - found.keys())}")
