"""Output checks. Every figure is reported only after its outputs passed these."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

import orjson

PROVIDER, SUPPRESSED, DEADLETTER, COMPLIANCE = "provider", "suppressed", "deadletter", "compliance"


class VerificationError(RuntimeError):
    """Outputs do not match the expected routing: no figure may be reported."""


def parse_output(role: str, value: bytes) -> tuple[str, str, dict]:
    """(kind, message_id, send) of one output record; kind is the role, or 'compliance'
    for the project's own confirmations on the provider topic (message_id = in_reply_to)."""
    obj = orjson.loads(value)
    if role == PROVIDER:
        if obj.get("category") == "compliance":
            return COMPLIANCE, str(obj.get("in_reply_to")), obj
        return PROVIDER, str(obj.get("message_id")), obj
    if role == SUPPRESSED:
        message = obj.get("message") or {}
        if obj.get("reason") != "opted_out":
            return f"suppressed:{obj.get('reason')}", str(message.get("message_id")), message
        return SUPPRESSED, str(message.get("message_id")), message
    if role == DEADLETTER:
        return DEADLETTER, f"deadletter:{obj.get('error')}", obj
    raise ValueError(role)


def decisions_digest(outputs: Iterable[tuple[str, str]]) -> str:
    """sha256 (16 hex digits) of every send's decision, (message_id, kind) in message_id
    order, compliance confirmations left out: equal for two systems that decided alike."""
    digest = hashlib.sha256()
    for mid, kind in sorted((mid, kind) for kind, mid in outputs if kind != COMPLIANCE):
        digest.update(f"{mid} {kind}\n".encode())
    return digest.hexdigest()[:16]


def check(
    label: str,
    outputs: Iterable[tuple[str, str]],
    expected: dict[str, str],
    *,
    compliance: set[str] | None = None,
    complete: bool = True,
) -> dict[str, int]:
    """``outputs``: (kind, message_id) of every output seen; ``expected``: message_id ->
    the one topic it must reach. With ``complete``, every expected id must be there exactly
    once; without (a run bounded by time), only what arrived is checked. ``compliance``:
    the reply ids whose confirmation must be on the provider topic exactly once."""
    counts: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    confirmations: Counter[str] = Counter()
    problems: list[str] = []

    def problem(text: str) -> None:
        if len(problems) < 12:
            problems.append(text)

    for kind, mid in outputs:
        counts[kind] += 1
        if kind == COMPLIANCE:
            confirmations[mid] += 1
            if compliance is None or mid not in compliance:
                problem(f"unexpected compliance message in reply to {mid!r}")
            continue
        if kind not in (PROVIDER, SUPPRESSED):
            problem(f"{kind} output for {mid!r}")
            continue
        want = expected.get(mid)
        if want is None:
            problem(f"output {mid!r} on {kind} was never sent")
            continue
        seen[mid] += 1
        if seen[mid] == 2:
            problem(f"duplicate: {mid!r} came out more than once")
        if kind != want:
            problem(f"misroute: {mid!r} went to {kind}, expected {want}")
    dups = sum(c - 1 for c in seen.values() if c > 1)
    if complete:
        missing = [mid for mid in expected if mid not in seen]
        if missing:
            problem(f"{len(missing)} send(s) never came out, e.g. {missing[:3]}")
        want_counts = Counter(expected.values())
        for kind in (PROVIDER, SUPPRESSED):
            if counts[kind] != want_counts[kind]:
                problem(f"{kind}: {counts[kind]} records, expected exactly {want_counts[kind]}")
        if compliance is not None:
            absent = [m for m in compliance if m not in confirmations]
            if absent:
                problem(f"{len(absent)} STOP confirmation(s) missing, e.g. {absent[:3]}")
    extra = sum(c - 1 for c in confirmations.values() if c > 1)
    if extra:
        problem(f"{extra} duplicate STOP confirmation(s)")
    if problems:
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        raise VerificationError(f"{label}: output verification FAILED ({summary}; duplicates={dups}):\n  - "
                                + "\n  - ".join(problems))
    return dict(counts)
