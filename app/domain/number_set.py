"""An exact set of phone numbers as integers, eight bytes a number (pure).

The parse caches (:mod:`app.domain.numbers`) hold a key string and a parsed result per
number, about 400 bytes: 65,536 of them in 24 MiB. A worker that texts a million people
thrashed them, and a number not in them costs a full parse and validation again (about
32 µs in phonenumbers). This set remembers only which numbers, written in E.164 exactly as
their E.164 form, were valid: the digits after the ``+`` as one integer (injective for
those strings: no leading zero, at most 15 digits, below 2**63). A million take 16 MiB.

Open addressing with linear probing over a flat array of 64-bit slots, 0 meaning empty,
never more than half full (short probes). Two generations bound it: when the young table
is half full it becomes the old one and the previous old one is dropped, so the set holds
between ``capacity`` and ``2 * capacity`` of the most recently added numbers, in
``max_bytes``. The memory is zero-filled by the kernel when first written (a ``bytearray``
of zeros is calloc'd): an idle worker's RSS does not pay for it.
"""

from __future__ import annotations

_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: consecutive numbers spread over the table
_U64 = (1 << 64) - 1
SLOT_BYTES = 8


class NumberSet:
    __slots__ = ("capacity", "max_bytes", "_bits", "_mask", "_young", "_old", "_count")

    def __init__(self, max_bytes: int) -> None:
        """Two tables of a power of two slots each, together within ``max_bytes``."""
        bits = 1
        while 2 * SLOT_BYTES << (bits + 1) <= max_bytes:
            bits += 1
        if 2 * SLOT_BYTES << bits > max_bytes:
            raise ValueError(f"{max_bytes} bytes hold no table of numbers")
        self._bits = bits
        self._mask = (1 << bits) - 1
        self.capacity = (1 << bits) // 2  # numbers a generation holds
        self.max_bytes = 2 * SLOT_BYTES << bits
        self._young = self._table()
        self._old: memoryview | None = None
        self._count = 0

    def _table(self) -> memoryview:
        return memoryview(bytearray(SLOT_BYTES << self._bits)).cast("q")

    def _slot(self, number: int) -> int:
        return ((number * _GOLDEN) & _U64) >> (64 - self._bits)

    def __contains__(self, number: int) -> bool:
        mask = self._mask
        start = self._slot(number)
        for table in (self._young, self._old):
            if table is None:
                return False
            i = start
            while (held := table[i]) != 0:
                if held == number:
                    return True
                i = (i + 1) & mask
        return False

    def add(self, number: int) -> None:
        """Remember ``number`` (1 <= number < 2**63)."""
        if not 0 < number < 1 << 63:
            raise ValueError("a number set holds integers from 1 to 2**63 - 1")
        if number in self:
            return
        if self._count >= self.capacity:
            self._old, self._young, self._count = self._young, self._table(), 0
        table, mask = self._young, self._mask
        i = self._slot(number)
        while table[i] != 0:
            i = (i + 1) & mask
        table[i] = number
        self._count += 1

    def __len__(self) -> int:
        """Numbers held (those of the old generation included)."""
        return self._count + (self.capacity if self._old is not None else 0)
