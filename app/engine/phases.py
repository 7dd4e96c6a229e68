"""The phase of each routed partition (a task with state), with its legal transitions
(as Kafka Streams' ``Task.State``)::

    CLOSED ──assigned──▶ RESTORING ──changelog read to its end──▶ RUNNING
      ▲                    │   ▲                                    │
      └────revoked─────────┘   └──────────rewound───────────────────┘
      ▲                                                             │
      └─────────────────────────revoked─────────────────────────────┘

- ``CLOSED``: not ours (never assigned, revoked, or a rebalance took it while it was
  restoring): no state, nothing held, its records are not processed.
- ``RESTORING``: ours, paused; its changelog is read up to the end offset observed when
  restoring began, however long that takes (fail closed: its sends wait).
- ``RUNNING``: its state is complete; its records are processed and its sends decided.

A move not drawn above is a bug in the loop: :class:`IllegalTransition`.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    CLOSED = "closed"
    RESTORING = "restoring"
    RUNNING = "running"


LEGAL: dict[Phase, frozenset[Phase]] = {
    Phase.CLOSED: frozenset({Phase.RESTORING}),
    Phase.RESTORING: frozenset({Phase.RUNNING, Phase.CLOSED}),
    Phase.RUNNING: frozenset({Phase.RESTORING, Phase.CLOSED}),
}


class IllegalTransition(AssertionError):
    """The loop moved a partition along an edge the diagram does not have."""


class Phases:
    """Every routed partition's phase (CLOSED unless said otherwise)."""

    def __init__(self) -> None:
        self._of: dict[int, Phase] = {}

    def of(self, partition: int) -> Phase:
        return self._of.get(partition, Phase.CLOSED)

    def move(self, partition: int, to: Phase) -> None:
        now = self.of(partition)
        if to not in LEGAL[now]:
            raise IllegalTransition(f"partition {partition}: {now} -> {to}")
        if to is Phase.CLOSED:
            del self._of[partition]
        else:
            self._of[partition] = to

    def close(self, partition: int) -> None:
        """Revoked: CLOSED whatever it was (closing a CLOSED partition changes nothing)."""
        if self.of(partition) is not Phase.CLOSED:
            self.move(partition, Phase.CLOSED)

    def held(self) -> set[int]:
        """The partitions that are ours (RESTORING or RUNNING)."""
        return set(self._of)

    def in_phase(self, phase: Phase) -> list[int]:
        return sorted(p for p, at in self._of.items() if at is phase)
