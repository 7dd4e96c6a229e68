"""Holds a chaos run's outputs against what the product promises.

Everything here is a pure function over lists of dicts: the generator's model (see
``chaos.generator``) and the decoded output records (``chaos.collector``). ``check``
puts the pieces together into a ``CheckResult``.

Invariants, and how the model decides them (times are the generator's clock, µs):

1. *opted_out_at_request*: a delivered send whose number was opted out at the time the
   send was requested (``t_us``), by event time: the latest STOP/START with an event
   time before it is a STOP. Split in two: a STOP of that opted-out period had been
   acknowledged by the broker before the send was produced (``opted_out_at_request``,
   always a failure), or every STOP of the period was still in flight, produced but not
   yet on the broker, when the send was produced (``opted_out_at_request_in_flight``).
   The second kind happens in steady state only in the milliseconds a STOP takes to be
   acknowledged, and in bulk when the broker is away (STOPs and sends are buffered by the
   producer and land together); it is a failure only with ``strict_in_flight``.
2. *after_stop_ack*: a delivered send produced after a STOP for its number was
   acknowledged, with no START acknowledged in between (the latest reply by event time
   among those acknowledged before the send is a STOP). Not a violation (``in_flight``)
   when a START with an event time between that STOP and the send was still in flight.
   Suppression is never checked here: it is acceptable for any number that was ever
   opted out (the runtime fails closed). A suppression of a number that never sent a
   STOP is a violation of its own (``suppressed_never_opted_out``).
3. *accounting*: every send ends in exactly one of provider / suppressed / deadletter
   (lost = none, duplicated = more than one, and delivered-and-suppressed on its own);
   every STOP/START has its ``consent`` record (any verdict; duplicates counted); every
   applied STOP/START has its compliance confirmation on ``provider``
   (``<reply id>:opt-out`` / ``:opt-in``).
4. *table*: ``GET /optouts/{number}`` equals the model's final state (latest reply by
   event time).

Records whose produce failed (``error`` set) have an unknown fate: a failed send is not
counted lost, a failed reply never causes a violation, and a number with a failed reply
is left out of the table check.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chaos.collector import send_id_of

EXAMPLES = 5
OPT_OUT, OPT_IN = "opt_out", "opt_in"
CONFIRMATION_SUFFIX = {OPT_OUT: ":opt-out", OPT_IN: ":opt-in"}


def _iso(t_us: int | None) -> str | None:
    if t_us is None:
        return None
    return datetime.fromtimestamp(t_us / 1e6, UTC).isoformat(timespec="milliseconds")


def _ok(entry: dict) -> bool:
    return entry.get("error") is None


# ------------------------------------------------------------------ outcomes


def send_outcomes(outputs: dict[str, list[dict]]) -> dict[str, list[str]]:
    """message_id -> every outcome seen for it: "provider", "suppressed:<reason>", "deadletter".

    Compliance messages on provider are the service's own and not outcomes; dead letters
    are keyed by their original record's message_id (a send's or a reply's)."""
    ids: dict[str, list[str]] = defaultdict(list)
    for record in outputs.get("provider", []):
        mid = send_id_of("provider", record)
        if mid is not None:
            ids[mid].append("provider")
    for record in outputs.get("suppressed", []):
        mid = send_id_of("suppressed", record)
        if mid is not None:
            ids[mid].append(f"suppressed:{record.get('reason')}")
    for record in outputs.get("deadletter", []):
        mid = send_id_of("deadletter", record)
        ids[mid if mid is not None else f"deadletter@{record.get('source_topic')}:{record.get('partition')}:"
            f"{record.get('offset')}"].append("deadletter")
    return dict(ids)


def account_sends(sends: list[dict], outcomes: dict[str, list[str]], replies: Iterable[dict] = ()) -> dict[str, Any]:
    reply_ids = {r["message_id"] for r in replies}
    send_ids = set()
    lost, duplicated, both = [], [], []
    delivered = suppressed = deadlettered = duplicate_records = failed = 0
    reasons: Counter[str] = Counter()
    for s in sends:
        mid = s["message_id"]
        send_ids.add(mid)
        seen = outcomes.get(mid, [])
        if not _ok(s):
            failed += 1
        if not seen:
            if _ok(s):
                lost.append(s)
            continue
        kinds = {o.split(":", 1)[0] for o in seen}
        delivered += "provider" in kinds
        suppressed += "suppressed" in kinds
        deadlettered += "deadletter" in kinds
        for o in seen:
            if o.startswith("suppressed:"):
                reasons[o.split(":", 1)[1]] += 1
        if len(seen) > 1:
            duplicated.append((s, seen))
            duplicate_records += len(seen) - 1
        if {"provider", "suppressed"} <= kinds:
            both.append((s, seen))
    unknown = sorted(mid for mid in outcomes if mid not in send_ids and mid not in reply_ids)
    return {
        "sends": len(sends),
        "probes": sum(1 for s in sends if s.get("probe")),
        "produce_failed": failed,
        "delivered": delivered,
        "suppressed": suppressed,
        "suppressed_by_reason": dict(reasons),
        "deadlettered": deadlettered,
        "lost": len(lost),
        "lost_examples": [_send_example(s) for s in lost[:EXAMPLES]],
        "duplicated": len(duplicated),
        "duplicate_records": duplicate_records,
        "duplicated_examples": [{**_send_example(s), "outcomes": seen} for s, seen in duplicated[:EXAMPLES]],
        "delivered_and_suppressed": len(both),
        "delivered_and_suppressed_examples": [{**_send_example(s), "outcomes": seen} for s, seen in both[:EXAMPLES]],
        "unknown_outputs": len(unknown),
        "unknown_output_examples": unknown[:EXAMPLES],
    }


def _send_example(s: dict) -> dict:
    return {"message_id": s["message_id"], "number": s["number"], "requested_at": _iso(s["t_us"]),
            "acked_at": _iso(s.get("acked_us")), "error": s.get("error")}


# ------------------------------------------------------------------ opt-out invariants


def replies_by_number(replies: Iterable[dict], *, ok_only: bool = True) -> dict[str, list[dict]]:
    """number -> its replies sorted by event time (then message_id, the runtime's order)."""
    out: dict[str, list[dict]] = defaultdict(list)
    for r in replies:
        if not ok_only or _ok(r):
            out[r["number"]].append(r)
    for rs in out.values():
        rs.sort(key=lambda r: (r["t_us"], r["message_id"]))
    return dict(out)


def classify_delivery(t_us: int, replies: list[dict], acked_us: int | None = None,
                      ) -> tuple[str | None, str | None, dict | None]:
    """For a send requested at ``t_us`` (and acknowledged at ``acked_us``, if known) and
    delivered, given its number's (acknowledged or in-flight, not failed) replies sorted by
    event time: the verdict of invariant 1 and of invariant 2, each None (fine), "violation"
    or "in_flight"; and the STOP concerned.

    A START acknowledged before the send itself was (the send still in its producer's buffer,
    e.g. while the broker was away) comes first in the broker's order, the only order the
    runtime can know without trusting the producer's clock: "in_flight", as a STOP still in
    flight is."""
    inv1: str | None = None
    inv2: str | None = None
    stop: dict | None = None
    before = [r for r in replies if r["t_us"] < t_us]
    if before and before[-1]["intent"] == OPT_OUT:
        last_start = max((i for i, r in enumerate(before) if r["intent"] == OPT_IN), default=-1)
        period = before[last_start + 1:]
        acked = [r for r in period if r.get("acked_us") is not None and r["acked_us"] < t_us]
        inv1 = "violation" if acked and not _start_landed_first(replies, period[0], acked_us) else "in_flight"
        stop = acked[0] if acked else period[0]
    acked_before = [r for r in replies if r.get("acked_us") is not None and r["acked_us"] < t_us]
    if acked_before and acked_before[-1]["intent"] == OPT_OUT:
        latest = acked_before[-1]
        start_in_flight = any(r["intent"] == OPT_IN and latest["t_us"] < r["t_us"] < t_us for r in replies)
        inv2 = "in_flight" if start_in_flight or _start_landed_first(replies, latest, acked_us) else "violation"
        stop = stop or latest
    return inv1, inv2, stop


def _start_landed_first(replies: list[dict], stop: dict, send_acked_us: int | None) -> bool:
    """A START newer than ``stop`` was acknowledged before the send was."""
    return send_acked_us is not None and any(
        r["intent"] == OPT_IN and r["t_us"] > stop["t_us"] and r.get("acked_us") is not None
        and r["acked_us"] < send_acked_us for r in replies)


def optout_violations(sends: list[dict], replies: list[dict], outcomes: dict[str, list[str]]) -> dict[str, Any]:
    ok_replies = replies_by_number(replies)
    ever_opted_out = {r["number"] for r in replies if r["intent"] == OPT_OUT}
    found: dict[str, list[dict]] = {k: [] for k in (
        "opted_out_at_request", "opted_out_at_request_in_flight", "after_stop_ack", "after_stop_ack_in_flight",
        "suppressed_never_opted_out")}
    for s in sends:
        seen = outcomes.get(s["message_id"], [])
        if not seen:
            continue
        if "provider" in seen:
            inv1, inv2, stop = classify_delivery(s["t_us"], ok_replies.get(s["number"], []), s.get("acked_us"))
            if inv1 or inv2:
                example = {**_send_example(s), "outcomes": seen}
                if stop is not None:
                    example.update(stop=stop["message_id"], stop_event_time=_iso(stop["t_us"]),
                                   stop_acked_at=_iso(stop.get("acked_us")))
                    if stop.get("acked_us") is not None:
                        example["send_after_stop_ack_ms"] = round((s["t_us"] - stop["acked_us"]) / 1000, 1)
            if inv1:
                found["opted_out_at_request" + ("_in_flight" if inv1 == "in_flight" else "")].append(example)
            if inv2:
                found["after_stop_ack" + ("_in_flight" if inv2 == "in_flight" else "")].append(example)
        wrongly = [o for o in seen if o.startswith("suppressed:")]
        if wrongly and s["number"] not in ever_opted_out:
            found["suppressed_never_opted_out"].append({**_send_example(s), "outcomes": seen})
    out: dict[str, Any] = {}
    for key, items in found.items():
        out[key] = len(items)
        out[f"{key}_examples"] = items[:EXAMPLES]
    return out


# ------------------------------------------------------------------ consent log and confirmations


def model_verdicts(replies: list[dict]) -> dict[str, str]:
    """reply message_id -> "applied" | "unchanged", replaying each number's (not failed)
    replies in event-time order from "subscribed"."""
    verdicts: dict[str, str] = {}
    for rs in replies_by_number(replies).values():
        opted_out = False
        for r in rs:
            wants = r["intent"] == OPT_OUT
            verdicts[r["message_id"]] = "applied" if wants != opted_out else "unchanged"
            opted_out = wants
    return verdicts


def account_consent(replies: list[dict], consent: list[dict], outcomes: dict[str, list[str]] | None = None
                    ) -> dict[str, Any]:
    per_id: dict[str, list[dict]] = defaultdict(list)
    for record in consent:
        per_id[str(record.get("message_id"))].append(record)
    missing, duplicated, wrong_intent = [], [], []
    verdicts: Counter[str] = Counter()
    deadlettered = 0
    for r in replies:
        records = per_id.get(r["message_id"], [])
        if outcomes and "deadletter" in outcomes.get(r["message_id"], []):
            deadlettered += 1
        if not records:
            if _ok(r):
                missing.append(r)
            continue
        for record in records:
            verdicts[str(record.get("verdict"))] += 1
        if len(records) > 1:
            duplicated.append((r, [rec.get("verdict") for rec in records]))
        if any(rec.get("intent") != r["intent"] for rec in records):
            wrong_intent.append((r, [rec.get("intent") for rec in records]))
    reply_ids = {r["message_id"] for r in replies}
    return {
        "replies": len(replies),
        "replies_produce_failed": sum(1 for r in replies if not _ok(r)),
        "consent_records": len(consent),
        "verdicts": dict(verdicts),
        "missing": len(missing),
        "missing_examples": [_reply_example(r) for r in missing[:EXAMPLES]],
        "duplicated": len(duplicated),
        "duplicated_examples": [{**_reply_example(r), "verdicts": v} for r, v in duplicated[:EXAMPLES]],
        "wrong_intent": len(wrong_intent),
        "wrong_intent_examples": [{**_reply_example(r), "logged": v} for r, v in wrong_intent[:EXAMPLES]],
        "replies_deadlettered": deadlettered,
        "unknown_records": sum(1 for mid in per_id if mid not in reply_ids),
    }


def _reply_example(r: dict) -> dict:
    return {"message_id": r["message_id"], "number": r["number"], "intent": r["intent"], "body": r.get("body"),
            "event_time": _iso(r["t_us"]), "acked_at": _iso(r.get("acked_us")), "error": r.get("error")}


def account_confirmations(replies: list[dict], consent: list[dict], provider: list[dict]) -> dict[str, Any]:
    """Expected: replies whose consent record says "applied", and replies the model says
    change the state but that have no consent record at all."""
    by_id = {r["message_id"]: r for r in replies}
    sent: Counter[str] = Counter()
    for record in provider:
        if record.get("category") != "compliance":
            continue
        mid = str(record.get("message_id", ""))
        for intent, suffix in CONFIRMATION_SUFFIX.items():
            if mid.endswith(suffix):
                sent[(mid[: -len(suffix)], intent)] += 1
    logged = {str(rec.get("message_id")) for rec in consent}
    applied = {str(rec.get("message_id")) for rec in consent if rec.get("verdict") == "applied"}
    model = model_verdicts(replies)
    expected = [r for r in replies if r["message_id"] in applied
                or (r["message_id"] not in logged and model.get(r["message_id"]) == "applied")]
    missing = [r for r in expected if sent[(r["message_id"], r["intent"])] == 0]
    expected_keys = {(r["message_id"], r["intent"]) for r in expected}
    duplicated = [(key, n) for key, n in sent.items() if n > 1]
    unexpected = [key for key in sent if key not in expected_keys]
    disagree = [r for r in replies if r["message_id"] in logged and r["message_id"] in model
                and (model[r["message_id"]] == "applied") != (r["message_id"] in applied)]
    return {
        "expected": len(expected),
        "sent": sum(sent.values()),
        "missing": len(missing),
        "missing_examples": [_reply_example(r) for r in missing[:EXAMPLES]],
        "duplicated": len(duplicated),
        "duplicated_examples": [{"message_id": k[0], "intent": k[1], "count": n} for k, n in duplicated[:EXAMPLES]],
        "unexpected": len(unexpected),
        "unexpected_examples": [{"message_id": k[0], "intent": k[1], "known_reply": k[0] in by_id}
                                for k in unexpected[:EXAMPLES]],
        "verdicts_differing_from_model": len(disagree),
    }


# ------------------------------------------------------------------ the table


def expected_final_states(replies: list[dict], numbers: Iterable[str], opt_in_shift_us: int = 0,
                          ) -> dict[str, bool | None]:
    """number -> opted out at the end (latest reply by event time); None when a reply for it
    failed to produce (unknown), or when its latest reply is an opt-in with an opt-out less
    than ``opt_in_shift_us`` before it: a worker whose clock is that much behind orders an
    opt-in no later than its own clock (README: an opt-in is never ordered after its record
    reached us), so the opt-out may win (fail closed). Consent history is ordered by event
    times by design; only the reply-before-send gate must not depend on a clock."""
    uncertain = {r["number"] for r in replies if not _ok(r)}
    by_number = replies_by_number(replies)
    latest = {n: rs[-1]["intent"] == OPT_OUT for n, rs in by_number.items()}
    if opt_in_shift_us:
        for n, rs in by_number.items():
            last = rs[-1]
            if last["intent"] != OPT_OUT and any(r["intent"] == OPT_OUT and last["t_us"] - r["t_us"] <= opt_in_shift_us
                                                 for r in rs[:-1]):
                uncertain.add(n)
    out: dict[str, bool | None] = {}
    for number in numbers:
        out[number] = None if number in uncertain else latest.get(number, False)
    for number, state in latest.items():
        out.setdefault(number, None if number in uncertain else state)
    return out


def compare_table(expected: dict[str, bool | None], answers: dict[str, dict]) -> dict[str, Any]:
    """``answers``: number -> {"status": HTTP status (0: no answer), "opted_out": bool | None, ...}."""
    mismatches, unanswered = [], []
    checked = 0
    for number, answer in answers.items():
        want = expected.get(number)
        if want is None:
            continue
        checked += 1
        if answer.get("status") != 200:
            unanswered.append({"number": number, **answer})
        elif answer.get("opted_out") is not want:
            mismatches.append({"number": number, "expected_opted_out": want, **answer})
    return {
        "checked": checked,
        "expected_opted_out": sum(1 for n in answers if expected.get(n) is True),
        "mismatches": len(mismatches),
        "mismatch_examples": mismatches[:EXAMPLES],
        "unanswered": len(unanswered),
        "unanswered_examples": unanswered[:EXAMPLES],
    }


# ------------------------------------------------------------------ timing


def resume_times(probes: list[dict], first_seen: dict[str, int], since_us: int, partitions: int
                 ) -> dict[int, int | None]:
    """routed partition -> when the first outcome of a probe produced at/after ``since_us``
    was seen (None: none yet)."""
    resumed: dict[int, int | None] = {p: None for p in range(partitions)}
    for probe in probes:
        if probe["t_us"] < since_us:
            continue
        seen = first_seen.get(probe["message_id"])
        if seen is None:
            continue
        p = probe["routed_partition"]
        if resumed.get(p) is None or seen < resumed[p]:
            resumed[p] = seen
    return resumed


def outage_gaps(probes: list[dict], first_seen: dict[str, int], faults: list[dict], partitions: int
                ) -> list[dict[str, Any]]:
    """Per fault (``{"kind", "at_us", ...}``): seconds from the fault until outcomes for sends
    produced after it flow again on every routed partition (the slowest partition)."""
    out = []
    for fault in faults:
        at = fault["at_us"]
        resumed = resume_times(probes, first_seen, at, partitions)
        stalled = sorted(p for p, t in resumed.items() if t is None)
        gaps = {p: (t - at) / 1e6 for p, t in resumed.items() if t is not None}
        item = {k: v for k, v in fault.items() if k != "at_us"}
        item["at"] = _iso(at)
        item["gap_s"] = None if stalled else round(max(gaps.values()), 2)
        item["fastest_partition_s"] = round(min(gaps.values()), 2) if gaps else None
        item["stalled_partitions"] = stalled
        out.append(item)
    return out


def probe_latency_ms(probes: list[dict], first_seen: dict[str, int]) -> dict[str, float | None]:
    lat = sorted((first_seen[p["message_id"]] - p["t_us"]) / 1000 for p in probes if p["message_id"] in first_seen)
    if not lat:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(statistics.median(lat), 1), "p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
            "max": round(lat[-1], 1)}


# ------------------------------------------------------------------ the result


@dataclass
class CheckResult:
    sends: dict[str, Any]
    optout: dict[str, Any]
    consent: dict[str, Any]
    confirmations: dict[str, Any]
    table: dict[str, Any]
    outages: list[dict[str, Any]] = field(default_factory=list)
    probe_latency_ms: dict[str, Any] = field(default_factory=dict)
    no_duplicates: bool = False  # exactly-once asked: a duplicate is a failure too
    strict_in_flight: bool = False  # a delivery while the STOP was in flight is a failure too

    @property
    def failures(self) -> list[str]:
        f = []
        if self.sends["lost"]:
            f.append(f"{self.sends['lost']} send(s) lost (on no output topic)")
        for key, text in (
            ("opted_out_at_request", "delivered while opted out at request time"),
            ("after_stop_ack", "delivered after an acknowledged STOP"),
            ("suppressed_never_opted_out", "suppressed although the number never opted out"),
        ):
            if self.optout[key]:
                f.append(f"{self.optout[key]} send(s) {text}")
        if self.strict_in_flight and self.optout["opted_out_at_request_in_flight"]:
            f.append(f"{self.optout['opted_out_at_request_in_flight']} send(s) delivered while opted out at request "
                     f"time by a STOP still in flight (strict)")
        if self.consent["missing"]:
            f.append(f"{self.consent['missing']} STOP/START without a consent record")
        if self.consent["wrong_intent"]:
            f.append(f"{self.consent['wrong_intent']} consent record(s) with the wrong intent")
        if self.confirmations["missing"]:
            f.append(f"{self.confirmations['missing']} applied STOP/START without a confirmation")
        if self.table["mismatches"]:
            f.append(f"{self.table['mismatches']} table lookup(s) differ from the model")
        if self.table["unanswered"]:
            f.append(f"{self.table['unanswered']} table lookup(s) not answered with 200")
        if self.no_duplicates and (self.sends["duplicated"] or self.consent["duplicated"]
                                   or self.confirmations["duplicated"]):
            f.append(f"exactly-once asked, duplicates seen: {self.sends['duplicated']} send(s), "
                     f"{self.consent['duplicated']} consent, {self.confirmations['duplicated']} confirmation(s)")
        return f

    @property
    def ok(self) -> bool:
        return not self.failures

    def counts(self) -> dict[str, Any]:
        s, o, c, k, t = self.sends, self.optout, self.consent, self.confirmations, self.table
        return {
            "sends": s["sends"], "delivered": s["delivered"], "suppressed": s["suppressed"],
            "deadlettered": s["deadlettered"], "lost": s["lost"], "duplicated_sends": s["duplicated"],
            "duplicate_records": s["duplicate_records"], "delivered_and_suppressed": s["delivered_and_suppressed"],
            "produce_failed": s["produce_failed"],
            "violations_opted_out_at_request": o["opted_out_at_request"],
            "violations_after_stop_ack": o["after_stop_ack"],
            "violations_suppressed_never_opted_out": o["suppressed_never_opted_out"],
            "violations_opted_out_at_request_in_flight": o["opted_out_at_request_in_flight"],
            "after_stop_ack_start_in_flight": o["after_stop_ack_in_flight"],
            "replies": c["replies"], "consent_missing": c["missing"], "consent_duplicated": c["duplicated"],
            "confirmations_missing": k["missing"], "confirmations_duplicated": k["duplicated"],
            "table_checked": t["checked"], "table_mismatches": t["mismatches"], "table_unanswered": t["unanswered"],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": self.failures, "counts": self.counts(), "sends": self.sends,
                "optout": self.optout, "consent": self.consent, "confirmations": self.confirmations,
                "table": self.table, "outages": self.outages, "probe_latency_ms": self.probe_latency_ms}

    def summary(self) -> str:
        s, o, c, k, t = self.sends, self.optout, self.consent, self.confirmations, self.table
        lines = [
            f"sends {s['sends']:,} (probes {s['probes']:,}, produce failed {s['produce_failed']}): "
            f"delivered {s['delivered']:,}, suppressed {s['suppressed']:,} {s['suppressed_by_reason']}, "
            f"dead-lettered {s['deadlettered']}, LOST {s['lost']}",
            f"duplicates: {s['duplicated']} send(s) seen more than once ({s['duplicate_records']} extra records), "
            f"{s['delivered_and_suppressed']} both delivered and suppressed; unknown outputs {s['unknown_outputs']}",
            f"opt-out violations: opted out at request {o['opted_out_at_request']} (+ "
            f"{o['opted_out_at_request_in_flight']} with the STOP still in flight"
            f"{', failing: strict' if self.strict_in_flight else ', not failing'}), after STOP ack "
            f"{o['after_stop_ack']} (+ {o['after_stop_ack_in_flight']} with a START in flight, allowed), "
            f"suppressed never opted out {o['suppressed_never_opted_out']}",
            f"consent: {c['replies']} replies, {c['consent_records']} records {c['verdicts']}, missing {c['missing']}, "
            f"duplicated {c['duplicated']}, wrong intent {c['wrong_intent']}",
            f"confirmations: expected {k['expected']}, sent {k['sent']}, missing {k['missing']}, duplicated "
            f"{k['duplicated']}, unexpected {k['unexpected']}",
            f"table: {t['checked']} numbers checked ({t['expected_opted_out']} opted out), mismatches "
            f"{t['mismatches']}, unanswered {t['unanswered']}",
        ]
        if self.outages:
            gaps = ", ".join(f"{g['kind']} {g['gap_s'] if g['gap_s'] is not None else 'STALLED'}"
                             + ("s" if g["gap_s"] is not None else "") for g in self.outages)
            lines.append(f"outages (fault -> outcomes flowing on every partition): {gaps}")
        if self.probe_latency_ms:
            lines.append(f"probe latency ms: {self.probe_latency_ms}")
        lines.append("OK" if self.ok else "FAILED: " + "; ".join(self.failures))
        return "\n".join(lines)


def check(model: dict[str, Any], outputs: dict[str, list[dict]], table_answers: dict[str, dict] | None = None, *,
          faults: list[dict] | None = None, first_seen: dict[str, int] | None = None,
          no_duplicates: bool = False, strict_in_flight: bool = False, opt_in_shift_us: int = 0) -> CheckResult:
    """``model``: {"sends", "replies", "numbers", "partitions"}; ``outputs``: {"provider",
    "suppressed", "deadletter", "consent"} -> decoded records; ``table_answers``: number ->
    {"status", "opted_out"}; ``first_seen``: send message_id -> µs its first outcome was seen."""
    sends, replies = model["sends"], model["replies"]
    outcomes = send_outcomes(outputs)
    probes = [s for s in sends if s.get("probe")]
    expected = expected_final_states(replies, model.get("numbers", []), opt_in_shift_us)
    return CheckResult(
        sends=account_sends(sends, outcomes, replies),
        optout=optout_violations(sends, replies, outcomes),
        consent=account_consent(replies, outputs.get("consent", []), outcomes),
        confirmations=account_confirmations(replies, outputs.get("consent", []), outputs.get("provider", [])),
        table=compare_table(expected, table_answers or {}),
        outages=outage_gaps(probes, first_seen or {}, faults or [], model.get("partitions", 1)) if faults else [],
        probe_latency_ms=probe_latency_ms(probes, first_seen) if first_seen else {},
        no_duplicates=no_duplicates,
        strict_in_flight=strict_in_flight,
    )
