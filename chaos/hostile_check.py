"""Accounting for the hostile-input suite: which record became what (pure; no Kafka here).

Outputs are matched to the records they came from:

- a dead letter by the coordinates it names (``source_topic``/``partition``/``offset``; for one
  made from the internal routed topic, the ``origin`` inside the routed record it holds);
- a provider / suppressed record by the send's ``message_id``;
- a consent record by ``(message_id, intent)``, or, for a reply whose id the worker derives, by
  its number;
- a compliance message (confirmation) by ``in_reply_to``, or by its number.

A record with none of these is *processed without output* once the worker's consumer group
has committed past it (and, if it was routed, past its routed record, so it was decided too),
and the reader has read every output topic up to its last stable offset after that commit was
observed (the caller's job: ``Ledger.settle`` takes the committed offsets of such a moment).
Until then it is *pending*; pending at the end: *vanished*.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chaos.hostile_kinds import (
    DL,
    NO_OUTPUT,
    OPT_OUT,
    OUTBOUND,
    PROVIDER,
    SKEW_MS,
    HostileRecord,
)

Coords = tuple[str, int, int]
TP = tuple[str, int]


def hashed_account(account: str) -> str:
    """How the worker keys an account id over 128 characters (its SHA-256): accepted too."""
    return "sha256:" + hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()


def _hashable(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _time_ms(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text)).timestamp() * 1000)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def compact(kind: str, value: dict, partition: int, offset: int, routed_topic: str) -> dict:
    """What the ledger needs of one output record (the reader keeps nothing else)."""
    if kind == "routed":
        origin = value.get("origin")
        return {"p": partition, "o": offset, "origin": tuple(origin) if isinstance(origin, list) else None}
    if kind == "deadletter":
        from schemas import DeadLetter

        try:
            DeadLetter.model_validate(value)
            valid = True
        except ValueError:
            valid = False
        origin = None
        if value.get("source_topic") == routed_topic:
            try:
                payload = value.get("payload") or ""
                raw = base64.b64decode(payload) if value.get("payload_encoding") == "base64" else payload.encode()
                routed = json.loads(raw)
                if isinstance(routed, dict) and isinstance(routed.get("origin"), list):
                    origin = tuple(routed["origin"])
            except (ValueError, TypeError, binascii.Error):
                pass
        return {"coords": (value.get("source_topic"), value.get("partition"), value.get("offset")), "origin": origin,
                "error": value.get("error"), "valid": valid, "truncated": bool(value.get("payload_truncated"))}
    if kind == "provider":
        return {"message_id": _hashable(value.get("message_id")), "to": value.get("to"),
                "category": value.get("category"), "in_reply_to": _hashable(value.get("in_reply_to")),
                "account_id": value.get("account_id")}
    if kind == "suppressed":
        message = value.get("message") if isinstance(value.get("message"), dict) else {}
        return {"message_id": _hashable(message.get("message_id")), "reason": value.get("reason"),
                "detail": (value.get("detail") or "")[:200]}
    if kind == "consent":
        out = {k: v for k, v in value.items() if k not in ("body",) and not k.startswith("_")}
        out["message_id"] = _hashable(value.get("message_id"))
        return out
    return value


@dataclass
class Observed:
    tokens: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self, topic_names: dict[str, str], routed_topic: str) -> None:
        """``topic_names``: inbound / outbound / status -> topic name."""
        self.topic_names = topic_names
        self.routed_topic = routed_topic
        self.records: list[HostileRecord] = []
        self.by_coords: dict[Coords, HostileRecord] = {}
        self.sends_by_id: dict[str, HostileRecord] = {}
        self.replies_by_id: dict[tuple[str, str], HostileRecord] = {}  # (message id, intent)
        self.replies_by_number: dict[str, list[HostileRecord]] = defaultdict(list)  # derived ids
        self.observed: dict[int, Observed] = defaultdict(Observed)
        self.routed: dict[Coords, tuple[int, int]] = {}  # input coords -> routed (partition, offset)
        self.orphans: dict[str, list[dict]] = defaultdict(list)
        self.consent_numbers: set[str] = set()
        self._confirmations: list[dict] = []
        self._seen: Counter[str] = Counter()  # records ingested per output kind

    # ---------------------------------------------------------------- records

    def add(self, records: list[HostileRecord]) -> None:
        for r in records:
            self.records.append(r)
            if r.coords is not None:
                self.by_coords[r.coords] = r
            if r.message_id is None:
                if r.number and r.expect & {OPT_OUT, "consent:opt_in"}:
                    self.replies_by_number[r.number].append(r)
                continue
            if r.topic == OUTBOUND:
                self.sends_by_id[r.message_id] = r
            else:
                for token in r.expect:
                    if token.startswith("consent:"):
                        self.replies_by_id[(r.message_id, token.split(":", 1)[1])] = r

    # ---------------------------------------------------------------- outputs

    def ingest(self, outputs: dict[str, list[dict]]) -> None:
        """Index the outputs not seen yet (``outputs``: kind -> compact records, appended to)."""
        for kind in ("routed", "deadletter", "suppressed", "consent", "provider"):
            records = outputs.get(kind, [])
            start = self._seen[kind]
            self._seen[kind] = len(records)
            for value in records[start:]:
                getattr(self, f"_ingest_{kind}")(value)
        if self._confirmations:
            pending, self._confirmations = self._confirmations, []
            for value in pending:
                self._confirmation(value, final=False)

    def _ingest_routed(self, value: dict) -> None:
        if value["origin"] is not None:
            self.routed[value["origin"]] = (value["p"], value["o"])

    def _ingest_deadletter(self, value: dict) -> None:
        coords = value["origin"] or value["coords"]
        r = self.by_coords.get(coords)  # type: ignore[arg-type]
        if r is None:
            self.orphans["deadletter"].append(value)
            return
        obs = self.observed[r.n]
        obs.tokens.append(DL)
        obs.details.append(f"deadletter: {value['error']!r}")
        if not value["valid"] or not (isinstance(value["error"], str) and value["error"].strip()):
            obs.problems.append("dead letter without a reason or not matching schemas/deadletter.py")
        elif value["error"].startswith("internal error"):
            obs.problems.append(f"dead-lettered by an internal error (a bug), not for a reason: {value['error'][:160]}")

    def _ingest_suppressed(self, value: dict) -> None:
        r = self.sends_by_id.get(value["message_id"]) if value["message_id"] else None
        if r is None:
            self.orphans["suppressed"].append(value)
            return
        obs = self.observed[r.n]
        obs.tokens.append(f"suppressed:{value['reason']}")
        if value.get("detail"):
            obs.details.append(f"suppressed {value['reason']}: {value['detail']}")

    def _ingest_provider(self, value: dict) -> None:
        if value.get("category") == "compliance":
            self._confirmation(value, final=False)
            return
        r = self.sends_by_id.get(value["message_id"]) if value["message_id"] else None
        if r is None:
            self.orphans["provider"].append(value)
            return
        obs = self.observed[r.n]
        obs.tokens.append(PROVIDER)
        obs.details.append(f"provider to {value['to']}")
        if value["to"] != r.number:
            obs.problems.append(f"MISDELIVERED: provider `to` {value['to']} is not {r.number}, the E.164 of the "
                                "digits written")

    def _confirmation(self, value: dict, *, final: bool) -> None:
        reply = None
        if value.get("in_reply_to"):
            for intent in ("opt_out", "opt_in"):
                reply = reply or self.replies_by_id.get((value["in_reply_to"], intent))
        if reply is not None:
            if value["to"] != reply.number:
                self.observed[reply.n].problems.append(f"confirmation sent to {value['to']}, not {reply.number}")
        elif value["to"] not in self.consent_numbers:
            if final:
                self.orphans["confirmation"].append(value)
            else:
                self._confirmations.append(value)  # its consent record may come later

    def _ingest_consent(self, value: dict) -> None:
        intent = value.get("intent")
        number = value.get("number")
        if isinstance(number, str):
            self.consent_numbers.add(number)
        r = self.replies_by_id.get((value["message_id"], intent)) if value["message_id"] else None
        if r is None:
            candidates = [c for c in self.replies_by_number.get(number, []) if f"consent:{intent}" in c.expect]
            r = candidates[0] if candidates else None
        if r is None:
            self.orphans["consent"].append(value)
            return
        obs = self.observed[r.n]
        obs.tokens.append(f"consent:{intent}")
        extra = {k: value[k] for k in ("coerced", "clamped", "note") if k in value}
        obs.details.append(f"consent {intent} {number} account {value.get('account_id')!r} verdict "
                           f"{value.get('verdict')} event_time {value.get('event_time')}"
                           + (f" {extra}" if extra else ""))
        if number != r.number:
            obs.problems.append(f"consent recorded under {number}, not {r.number}")
        if value.get("account_id") not in (r.account, hashed_account(r.account)):
            obs.problems.append(f"consent under account {str(value.get('account_id'))[:80]!r}, not "
                                f"{r.account[:80]!r}")
        if r.opts_out and intent == "opt_out" and value.get("verdict") == "stale":
            obs.problems.append("STOP not honoured: verdict stale")
        self._check_event_time(r, value, obs)

    @staticmethod
    def _check_event_time(r: HostileRecord, value: dict, obs: Observed) -> None:
        if r.check_event is None:
            return
        how, at = r.check_event
        event_ms = _time_ms(value.get("event_time"))
        if event_ms is None:
            obs.problems.append(f"event_time {value.get('event_time')!r} is not a time")
            return
        if how == "at" and abs(event_ms - at) > 1:
            obs.problems.append(f"event_time {value.get('event_time')} is not the naive received_at read as UTC "
                                f"({at} ms)")
        elif how == "ts" and r.ts_ms is not None and abs(event_ms - r.ts_ms) > 1:
            obs.problems.append(f"event_time {value.get('event_time')} is not the record timestamp ({r.ts_ms} ms)")
        elif how == "ts_skew" and r.ts_ms is not None and event_ms > r.ts_ms + SKEW_MS + 1:
            obs.problems.append(f"event_time {value.get('event_time')} is later than the record timestamp + 5 min")

    # ---------------------------------------------------------------- state of a record

    def settled(self, r: HostileRecord, committed: dict[TP, int]) -> bool:
        """Its outcome is known: an output seen, or the worker committed past it (and past
        its routed record) with nothing made of it."""
        if r.coords is None:
            return True  # never produced
        if self.observed[r.n].tokens:
            return True
        topic, partition, offset = r.coords
        if committed.get((topic, partition), -1) <= offset:
            return False
        routed = self.routed.get(r.coords)
        return routed is None or committed.get((self.routed_topic, routed[0]), -1) > routed[1]

    def outcome(self, r: HostileRecord, committed: dict[TP, int]) -> tuple[str, list[str]]:
        """("dead_lettered" | "processed" | "vanished" | "not_produced", tokens)."""
        if r.coords is None:
            return "not_produced", []
        tokens = list(self.observed[r.n].tokens)
        if not tokens:
            if not self.settled(r, committed):
                return "vanished", []
            tokens = [NO_OUTPUT]
        return ("dead_lettered" if DL in tokens else "processed"), tokens

    def unexpected(self, r: HostileRecord, tokens: list[str]) -> list[str]:
        """Why this outcome breaks the contract (empty: it does not)."""
        why = [f"outcome {t} not allowed (expected {' or '.join(sorted(r.expect))})"
               for t in sorted(set(tokens)) if t not in r.expect]
        if r.topic == OUTBOUND and len(tokens) > 1:
            why.append(f"a send with {len(tokens)} outcomes: {tokens}")
        elif len(tokens) > len(set(tokens)):
            why.append(f"duplicated outcome: {tokens}")
        if r.opts_out and OPT_OUT not in tokens and OPT_OUT in r.expect and DL not in r.expect:
            why.append("STOP not honoured: no opt-out consent record")
        return why + self.observed[r.n].problems

    def finish(self) -> None:
        pending, self._confirmations = self._confirmations, []
        for value in pending:
            self._confirmation(value, final=True)


# -------------------------------------------------------------------- figures


def figures(ledger: Ledger, committed: dict[TP, int], kind_notes: dict[str, str]) -> dict[str, Any]:
    """Per kind: records, dead-lettered, processed, vanished, unexpected; and examples."""
    per_kind: dict[str, dict[str, Any]] = {}
    by_variant: dict[str, Counter] = defaultdict(Counter)
    examples: list[dict[str, Any]] = []
    totals: Counter[str] = Counter()
    misdelivered = 0
    for r in ledger.records:
        status, tokens = ledger.outcome(r, committed)
        why = [] if status in ("vanished", "not_produced") else ledger.unexpected(r, tokens)
        row = per_kind.setdefault(r.kind, {
            "kind": r.kind, "topic": r.topic, "valid": r.valid, "note": kind_notes.get(r.kind, r.note),
            "expected": set(), "records": 0, "dead_lettered": 0, "processed": 0, "vanished": 0, "not_produced": 0,
            "unexpected": 0, "outcomes": Counter(), "dead_letter_reasons": Counter()})
        row["records"] += 1
        row["expected"] |= r.expect
        row[status] += 1
        row["outcomes"]["+".join(tokens) or status] += 1
        for detail in ledger.observed[r.n].details:
            if detail.startswith("deadletter: "):
                row["dead_letter_reasons"][_reason_shape(detail[12:])] += 1
        totals["records"] += 1
        totals[status] += 1
        if why:
            row["unexpected"] += 1
            totals["unexpected"] += 1
            misdelivered += any(w.startswith("MISDELIVERED") for w in why)
            if sum(1 for e in examples if e["kind"] == r.kind) < 3:
                examples.append(example(ledger, r, tokens, why))
        elif status in ("vanished", "not_produced") and sum(1 for e in examples if e["kind"] == r.kind) < 3:
            examples.append(example(ledger, r, tokens, [status]))
        for variant in (f"key:{r.key_variant}", f"headers:{r.header_variant}"):
            by_variant[variant]["records"] += 1
            by_variant[variant]["as_expected"] += int(not why and status not in ("vanished", "not_produced"))
    rows = []
    for row in sorted(per_kind.values(), key=lambda x: (x["valid"], x["topic"], x["kind"])):
        row["expected"] = " or ".join(sorted(row["expected"]))
        row["outcomes"] = dict(row["outcomes"].most_common())
        row["dead_letter_reasons"] = dict(row["dead_letter_reasons"].most_common(4))
        rows.append(row)
    hostile = Counter()
    for row in rows:
        if not row["valid"] and not row["kind"].startswith("followup."):
            for k in ("records", "dead_lettered", "processed", "vanished", "unexpected"):
                hostile[k] += row[k]
    return {"per_kind": rows, "totals": dict(totals), "hostile_totals": dict(hostile),
            "by_variant": {k: dict(v) for k, v in sorted(by_variant.items())}, "examples": examples,
            "misdelivered": misdelivered,
            "orphans": {k: len(v) for k, v in ledger.orphans.items()},
            "orphan_examples": {k: [_short(x) for x in v[:3]] for k, v in ledger.orphans.items()}}


def _reason_shape(error: str) -> str:
    """The reason without its particulars (numbers, quoted values), to count alike ones."""
    out, depth = [], 0
    for ch in error[:160]:
        if ch.isdigit():
            if not out or out[-1] != "N":
                out.append("N")
            continue
        out.append(ch)
        depth += 1
    return "".join(out)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=True)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def example(ledger: Ledger, r: HostileRecord, tokens: list[str], why: list[str]) -> dict[str, Any]:
    value = r.value
    shown = None if value is None else _short(value.decode("utf-8", "backslashreplace"), 240)
    return {"kind": r.kind, "n": r.n, "coords": list(r.coords) if r.coords else None, "expected": sorted(r.expect),
            "outcome": tokens, "why": why, "details": ledger.observed[r.n].details[:4], "value": shown,
            "key": r.key_variant, "headers": r.header_variant, "produce_error": r.produce_error}


def opted_pairs(ledger: Ledger, committed: dict[TP, int]) -> tuple[list[tuple[str, str]], list[HostileRecord]]:
    """(number, account) pairs that must be opted out now: every STOP whose only allowed
    outcome is an opt-out, and those that may be dead-lettered but were recorded; the records."""
    pairs: dict[tuple[str, str], HostileRecord] = {}
    for r in ledger.records:
        if not r.opts_out or r.number is None:
            continue
        _, tokens = ledger.outcome(r, committed)
        if r.expect == {OPT_OUT} or OPT_OUT in tokens:
            pairs.setdefault((r.number, r.account), r)
    return list(pairs), list(pairs.values())


def followup_ok(ledger: Ledger, committed: dict[TP, int], pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """For each opted-out pair: its follow-up send was suppressed opted_out."""
    result = {p: False for p in pairs}
    for r in ledger.records:
        if r.kind == "followup.send_opted_out" and r.number is not None:
            _, tokens = ledger.outcome(r, committed)
            if len(tokens) == 1 and tokens[0] in r.expect:  # opted_out (invalid_number: a number not valid)
                result[(r.number, r.account)] = True
    return result
