"""Every send request on exactly one of provider / suppressed / deadletter (pure).

A soak run makes millions of sends, too many to keep as dicts (chaos keeps each send and
each output record; here that would be gigabytes in the harness). Send ``i`` has the
message id ``s-<i>``; the :class:`Ledger` keeps, per send, one byte for its produce state
and one outcome counter per output kind (saturating at 255).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("provider", "suppressed", "deadletter")
PENDING, ACKED, FAILED = 0, 1, 2
SEND_PREFIX = "s-"
EXAMPLES = 5


def send_id(index: int) -> str:
    return f"{SEND_PREFIX}{index}"


def send_index(message_id: str | None) -> int | None:
    """The index of a soak send id (``s-<i>``); None for anything else."""
    if not message_id or not message_id.startswith(SEND_PREFIX):
        return None
    digits = message_id[len(SEND_PREFIX):]
    return int(digits) if digits.isdigit() else None


@dataclass
class Ledger:
    """Produce state and outcome counts per send index (grows as sends are made)."""

    produced: bytearray = field(default_factory=bytearray)
    seen: dict[str, bytearray] = field(default_factory=lambda: {k: bytearray() for k in OUTCOMES})
    unknown: int = 0  # outcomes whose send id is not one of ours
    accounted: int = 0  # sends with at least one outcome (the drain waits for every acked send)
    unknown_examples: list[str] = field(default_factory=list)

    def new_send(self) -> int:
        self.produced.append(PENDING)
        for counts in self.seen.values():
            counts.append(0)
        return len(self.produced) - 1

    def acked(self, index: int) -> None:
        self.produced[index] = ACKED

    def failed(self, index: int) -> None:
        self.produced[index] = FAILED

    def outcome(self, kind: str, message_id: str | None) -> None:
        index = send_index(message_id)
        counts = self.seen[kind]
        if index is None or index >= len(counts):
            self.unknown += 1
            if len(self.unknown_examples) < EXAMPLES:
                self.unknown_examples.append(f"{kind}:{message_id}")
            return
        if not any(c[index] for c in self.seen.values()):
            self.accounted += 1
        if counts[index] < 255:
            counts[index] += 1

    def acked_count(self) -> int:
        return self.produced.count(ACKED)


def account(ledger: Ledger) -> dict[str, Any]:
    """The accounting of every send: lost (acknowledged, no outcome), duplicated (more than
    one outcome record), delivered-and-suppressed; ``ok`` when nothing is lost or doubled."""
    p, s, d = (ledger.seen[k] for k in OUTCOMES)
    produced = ledger.produced
    delivered = suppressed = deadlettered = failed = pending = 0
    lost = duplicated = duplicate_records = both = 0
    lost_examples: list[str] = []
    duplicated_examples: list[dict[str, Any]] = []
    for i in range(len(produced)):
        state = produced[i]
        failed += state == FAILED
        pending += state == PENDING
        total = p[i] + s[i] + d[i]
        if total == 0:
            if state == ACKED:
                lost += 1
                if len(lost_examples) < EXAMPLES:
                    lost_examples.append(send_id(i))
            continue
        delivered += p[i] > 0
        suppressed += s[i] > 0
        deadlettered += d[i] > 0
        if total > 1:
            duplicated += 1
            duplicate_records += total - 1
            if len(duplicated_examples) < EXAMPLES:
                duplicated_examples.append({"message_id": send_id(i), "provider": p[i], "suppressed": s[i],
                                            "deadletter": d[i]})
        both += p[i] > 0 and s[i] > 0
    result = {
        "sends": len(produced),
        "acked": len(produced) - failed - pending,
        "produce_failed": failed,
        "produce_unconfirmed": pending,
        "delivered": delivered,
        "suppressed": suppressed,
        "deadlettered": deadlettered,
        "lost": lost,
        "lost_examples": lost_examples,
        "duplicated": duplicated,
        "duplicate_records": duplicate_records,
        "duplicated_examples": duplicated_examples,
        "delivered_and_suppressed": both,
        "unknown_outputs": ledger.unknown,
        "unknown_output_examples": list(ledger.unknown_examples),
    }
    result["failures"] = failures(result)
    result["ok"] = not result["failures"]
    return result


def failures(result: dict[str, Any]) -> list[str]:
    out = []
    if result["lost"]:
        out.append(f"{result['lost']:,} send(s) lost (acknowledged, on no output topic)")
    if result["duplicated"]:
        out.append(f"{result['duplicated']:,} send(s) on more than one output record "
                   f"({result['duplicate_records']:,} extra)")
    if result["produce_failed"] or result["produce_unconfirmed"]:
        out.append(f"{result['produce_failed'] + result['produce_unconfirmed']:,} send(s) not acknowledged by the "
                   f"broker (fate unknown)")
    if result["sends"] == 0:
        out.append("no send was made")
    return out
