"""The consent timeline of a number and account (pure): what the decider keeps of every
consent record it writes, bounded, and what ``GET /optouts/{number}/history`` answers.

Kept in the number's table partition (co-partitioned with the opt-out state, recovered
from the same changelog; the consent log is never read to answer; the keys are
:mod:`app.stream.keys`'s):

- ``<E.164>|<account>|history``: ``{"next": n, "ring": r, "left_out": n, "left_out_from": t,
  "left_out_until": t}``, and one key per kept entry, ``history|<E.164>|<account>|<slot>``
  (``{"seq": n, "entry": {...}}``: the event it holds, and the entry; :func:`append_event`,
  :func:`read_history`). One entry per ``sms.consent`` record, in processing order,
  holding what the record says (the reply's text, intent, rule, matched
  words, source and its details, the number written to, event and processing times,
  verdict, the confirmation's message id, the keyword lists' id) and where the record is in
  ``sms.consent`` (``consent``: partition and offset, filled in when the broker
  acknowledged it; :mod:`app.engine.checkpoint`). Bounded: beyond ``max_events`` the
  earliest :data:`HEAD` and the latest are kept, and the events left out in between
  are counted (with the range of their event times). Each entry is held under
  ``max_bytes`` (texts are cut, their full length kept).

  The latest entries are a ring of ``max_events - HEAD`` slots: an event is one write of
  its own size, whatever the length of the timeline, and the entry it pushes out is
  overwritten in place (no key is ever added beyond the bound, none deleted). Kept as one
  value rewritten whole, every reply re-read, re-encoded and re-wrote its number's whole
  history: the work and the memory of a reply grew with the history (``make soak``).
  Timelines stored as one value (``{"events": [...]}``) by an earlier version are read as
  they are, and moved to slots at their next event.
- ``<E.164>|<account>|suppressed``: ``{"count": n, "since": t, "opt_out": id}``, the sends
  suppressed (opted out) since the latest opt-out was applied (reset by it).
- ``keywords|configs`` and ``keywords|<config id>``: the keyword configurations that
  classified replies in this partition (the configuration file's text and the default
  locales), at most :data:`MAX_CONFIGS`; the evidence packet rebuilds an event's keyword
  lists from them (:mod:`app.reports.evidence_packet`).

``as_of`` is read in **event time**: the state as of T is what the ordering rule gives
over the consent events dated at or before T (the newest by ``(event time, opt-out
first, message id)`` wins), so a STOP sent at 10:00 and processed at 10:05 counts at
10:02. That is the question a claim asks (had the person revoked consent when the text
was sent?); the processing time of every event is in the answer too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from app.stream.keys import CONFIGS_KEY, config_key, history_key, slot_key

HEAD = 10  # the earliest events, always kept
BODY_CHARS = 480  # of a reply's text in an entry (the full text is in sms.consent at its coordinates)
TEXT_CHARS = 160  # of every other free text (reason, note, requested_by, ...)
RECORD_BYTES = 880_000  # a timeline's entries together stay under this (the broker's record limit: 1 MiB)
MAX_CONFIGS = 64  # keyword configurations remembered per partition (each a configuration change)
MAX_CONFIG_BYTES = 256 * 1024  # of a configuration file's text kept (beyond: its SHA-256 only)
LEFT_OUT = ("left_out", "left_out_from", "left_out_until")  # a timeline's count of the entries it left out

# what an entry may hold (answer order); "code" is a provider's error code
FIELDS = ("event_time", "processed_at", "intent", "source", "rule", "matched", "body", "to", "verdict",
          "previous_state", "new_state", "message_id", "confirmation_message_id", "requested_by", "reason",
          "provider", "code", "review_id", "decided_by", "note", "keywords_id", "consent")
EXTRA = ("account_id", "review_deadline", "body_chars", "message_id_clash")
_FROM_RECORD = ("event_time", "processed_at", "intent", "source", "rule", "matched", "body", "to", "verdict",
                "previous_state", "new_state", "message_id", "requested_by", "reason", "provider", "review_id",
                "decided_by", "note", "keywords_id", "account_id", "review_deadline", "message_id_clash")
_TEXTS = ("matched", "to", "requested_by", "reason", "provider", "decided_by", "note", "rule", "message_id",
          "review_id", "account_id", "code")
CONSENT_INTENTS = ("opt_out", "opt_in")
CONSENT_VERDICTS = ("applied", "unchanged", "stale")


# ------------------------------------------------------------ entries


def entry_budget(max_events: int) -> int:
    """Bytes an entry may take so that ``max_events`` of them fit in one record."""
    return RECORD_BYTES // max_events


def entry(record: Mapping[str, Any], consent: dict | None, confirmation: str | None, max_bytes: int) -> dict:
    """The timeline entry of the consent log record ``record`` (None fields left out).
    ``consent`` is the record's coordinates, held by reference (a
    :class:`app.records.Receipt` the producer fills in on acknowledgement)."""
    out: dict[str, Any] = {k: v for k in _FROM_RECORD if (v := record.get(k)) is not None}
    if record.get("source") == "provider" and record.get("matched") is not None:
        out["code"] = record["matched"]
    if confirmation is not None:
        out["confirmation_message_id"] = confirmation
    _fit(out, max_bytes)
    out["consent"] = consent  # last: its offsets are filled in later (counted in the budget below)
    return out


def _cut(entry: dict, name: str, chars: int) -> None:
    value = entry.get(name)
    if isinstance(value, str) and len(value) > chars:
        entry[name] = value[:chars]
        if name == "body":
            entry["body_chars"] = len(value)


def _fit(entry: dict, max_bytes: int) -> None:
    """Hold ``entry`` under ``max_bytes`` encoded (the coordinates' ~40 bytes included)."""
    _cut(entry, "body", BODY_CHARS)
    for name in _TEXTS:
        _cut(entry, name, TEXT_CHARS)
    room = max_bytes - 48
    size = len(orjson.dumps(entry))
    chars = BODY_CHARS
    while size > room and chars > 0 and isinstance(entry.get("body"), str) and entry["body"]:
        chars //= 2
        full = entry.get("body_chars", len(entry["body"]))
        entry["body"] = entry["body"][:chars]
        entry["body_chars"] = full
        size = len(orjson.dumps(entry))
    chars = TEXT_CHARS
    while size > room and chars > 8:
        chars //= 2
        for name in _TEXTS:
            _cut(entry, name, chars)
        size = len(orjson.dumps(entry))


def append(history: dict | None, new: dict, max_events: int) -> dict:
    """``history`` with ``new`` appended (in place when given), bounded to ``max_events``:
    the earliest :data:`HEAD` and the latest kept, the ones in between counted."""
    if not history:
        history = {"events": []}
    events = history["events"]
    events.append(new)
    while len(events) > max_events:
        _left_out(history, events.pop(HEAD))
    return history


def _slot(seq: int, ring: int) -> int:
    return seq if seq < HEAD else HEAD + (seq - HEAD) % ring


def _kept(count: int, ring: int) -> list[int]:
    """The sequence numbers kept of ``count`` events: the first :data:`HEAD`, then the latest ``ring``."""
    return [*range(min(HEAD, count)), *range(max(HEAD, count - ring), count)]


def _entry(stored: Mapping[str, Any] | None, seq: int) -> dict | None:
    """The entry a slot holds if it is event ``seq``'s. A slot names the event it holds: after
    a kill part-way through a checkpoint's changelog records, the replay may see the counts
    of an event without its slot, which still holds the entry of an earlier round of the ring
    (never shown as a later one)."""
    return stored["entry"] if stored and stored.get("seq") == seq else None


def _left_out(meta: dict, dropped: Mapping[str, Any] | None) -> None:
    meta["left_out"] = int(meta.get("left_out") or 0) + 1
    when = (dropped or {}).get("event_time")
    if when:
        first, last = meta.get("left_out_from"), meta.get("left_out_until")
        meta["left_out_from"] = when if first is None or _time(when) < _time(first) else first
        meta["left_out_until"] = when if last is None or _time(when) > _time(last) else last


def append_event(table: Any, number: str, account_id: str, new: dict, max_events: int) -> None:
    """Store ``new`` as the next entry of the timeline of ``number`` and ``account_id`` in
    ``table`` (``get`` and item assignment), bounded to ``max_events`` as :func:`append`
    bounds a whole history: two small writes (the entry, the timeline's counters), and one
    read of the entry it pushes out once the timeline is full."""
    meta_key = history_key(number, account_id)
    meta = table.get(meta_key)
    ring = max_events - HEAD
    if meta is None:
        meta = {"next": 0, "ring": ring}
    elif "events" in meta or meta.get("ring") != ring:  # stored as one value, or the bound changed
        meta = _relaid(table, number, account_id, meta, max_events)
    seq = int(meta["next"])
    slot = slot_key(number, account_id, _slot(seq, ring))
    if seq >= HEAD + ring:  # the slot holds the entry that leaves the timeline now
        _left_out(meta, _entry(table.get(slot), seq - ring))
    table[slot] = {"seq": seq, "entry": new}
    meta["next"] = seq + 1
    table[meta_key] = meta


def _relaid(table: Any, number: str, account_id: str, meta: dict, max_events: int) -> dict:
    """The timeline in slots of the current bound: its entries appended again, in order."""
    history = read_history(table.get, number, account_id) or {}
    if "events" not in meta:  # slots of another bound: clear those beyond the new ring
        for slot in range(max_events, HEAD + int(meta.get("ring") or 0)):
            if table.get(slot_key(number, account_id, slot)) is not None:
                table[slot_key(number, account_id, slot)] = None
    fresh = {"next": 0, "ring": max_events - HEAD,
             **{k: history[k] for k in LEFT_OUT if k in history}}
    table[history_key(number, account_id)] = fresh
    for event in history.get("events") or ():
        append_event(table, number, account_id, event, max_events)
    return table.get(history_key(number, account_id))


def read_history(get: Any, number: str, account_id: str) -> dict | None:
    """The timeline of ``number`` and ``account_id`` as one history (``{"events": [...],
    "left_out": ...}``, events in processing order) from ``get`` (a state's ``get``: decoded
    values); None when it has none."""
    meta = get(history_key(number, account_id))
    if not meta:
        return None
    if "events" in meta:  # stored as one value by an earlier version
        return meta
    ring = int(meta.get("ring") or 1)
    events = [e for seq in _kept(int(meta.get("next") or 0), ring)
              if (e := _entry(get(slot_key(number, account_id, _slot(seq, ring))), seq)) is not None]
    return {"events": events, **{k: meta[k] for k in LEFT_OUT if k in meta}}


def count_suppressed(current: dict | None) -> dict:
    """The counter after one more send suppressed (in place when given)."""
    if current is None:
        return {"count": 1}
    current["count"] = int(current.get("count") or 0) + 1
    return current


def reset_suppressed(event_time: str, message_id: str) -> dict:
    return {"count": 0, "since": event_time, "opt_out": message_id}


# ------------------------------------------------------------ keyword configurations


def keyword_config(keywords_file: Path | str | None, default_locales: str) -> dict:
    """What identifies the running keyword configuration: the file's text (None: the
    built-in packs only) and the default locales; ``config_id`` is a digest of both."""
    text: str | None = None
    sha = None
    if keywords_file is not None:
        try:
            raw = Path(keywords_file).read_bytes()
        except OSError:  # read at start-up by the policy already; gone since: not known
            raw = b""
        sha = hashlib.sha256(raw).hexdigest()
        text = raw.decode("utf-8", "replace") if len(raw) <= MAX_CONFIG_BYTES else None
    digest = hashlib.sha256(f"{sha or '-'}\n{default_locales}".encode()).hexdigest()[:16]
    return {"config_id": f"cfg-{digest}", "file": str(keywords_file) if keywords_file else None,
            "file_sha256": sha, "text": text, "default_locales": default_locales}


def remember_config(table: Any, config: dict, seen_at: str) -> None:
    """Record ``config`` in the partition once (a get per call: the index is small)."""
    index = table.get(CONFIGS_KEY)
    cid = config["config_id"]
    if index is not None and cid in index:
        return
    index = dict(index or {})
    index[cid] = seen_at
    while len(index) > MAX_CONFIGS:
        oldest = min(index, key=lambda k: index[k])
        del index[oldest]
        table[config_key(oldest)] = None
    table[config_key(cid)] = {**config, "first_seen": seen_at}
    table[CONFIGS_KEY] = index


def remembered_configs(table: Any) -> list[dict]:
    """The keyword configurations recorded in a partition (oldest first)."""
    index = table.get(CONFIGS_KEY) or {}
    found = [table.get(config_key(cid)) for cid in sorted(index, key=lambda k: index[k])]
    return [c for c in found if c]


# ------------------------------------------------------------ the answer


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shown(event: Mapping[str, Any]) -> dict:
    out = {k: event.get(k) for k in FIELDS}
    for k in EXTRA:
        if event.get(k) is not None:
            out[k] = event[k]
    return out


def ordered(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Oldest first by event time (ties: in the order they were processed)."""
    indexed = list(enumerate(events))
    indexed.sort(key=lambda ie: (_time(ie[1]["event_time"]) if ie[1].get("event_time") else _EARLIEST, ie[0]))
    return [e for _, e in indexed]


def _order_key(event: Mapping[str, Any]) -> tuple:
    # the ordering rule (app.domain.consent): event time, an opt-out outranks an opt-in, message id
    return _time(event["event_time"]), event["intent"] == "opt_out", str(event.get("message_id") or "")


def is_consent_event(event: Mapping[str, Any]) -> bool:
    """An event that asks for a state (an opt-out or opt-in that was applied, changed nothing, or
    came late): what the ordering rule orders. HELP, review and dismissed items ask for none."""
    return (event.get("intent") in CONSENT_INTENTS and event.get("verdict") in CONSENT_VERDICTS
            and bool(event.get("event_time")))


def state_as_of(events: Iterable[Mapping[str, Any]], as_of: datetime) -> dict | None:
    """The state the ordering rule gives over the consent events dated at or before ``as_of``
    (None: none was). ``changed_at`` and the evidence are those of the event that set it."""
    consent = sorted((e for e in events if is_consent_event(e) and _time(e["event_time"]) <= as_of),
                     key=_order_key)
    opted_out: bool | None = None
    changed: Mapping[str, Any] | None = None
    for event in consent:
        wants = event["intent"] == "opt_out"
        if wants != opted_out:
            opted_out, changed = wants, event
    if changed is None:
        return None
    return {"opted_out": opted_out, "changed_at": changed["event_time"], "source": changed.get("source"),
            "rule": changed.get("rule"), "matched": changed.get("matched"), "message_id": changed.get("message_id")}


def current_state(state: Mapping[str, Any] | None) -> dict | None:
    """The shown part of a stored :class:`app.domain.consent.ConsentState` (its JSON)."""
    if not state:
        return None
    return {"opted_out": bool(state.get("opted_out")), "changed_at": state.get("changed_at"),
            "source": state.get("source"), "rule": state.get("rule"), "matched": state.get("matched"),
            "message_id": state.get("message_id")}


def answer(number: str, account_id: str, state: Mapping[str, Any] | None, history: Mapping[str, Any] | None,
           suppressed: Mapping[str, Any] | None, as_of: datetime | None = None, scope: str = "account") -> dict:
    """The answer of ``GET /optouts/{number}/history``."""
    history = history or {}
    # an entry whose record the broker has not acknowledged yet (made in the current checkpoint
    # interval, read from the state's overlay) is not shown: it may never be stored
    events = ordered(e for e in history.get("events") or () if (e.get("consent") or {}).get("offset") is not None)
    left_out = int(history.get("left_out") or 0)
    body: dict[str, Any] = {"number": number, "account_id": account_id, "scope": scope,
                            "as_of": as_of.isoformat() if as_of else None}
    if as_of is None:
        body["state"] = current_state(state)
    else:
        events = [e for e in events if e.get("event_time") and _time(e["event_time"]) <= as_of]
        body["state"] = state_as_of(events, as_of)
        first = history.get("left_out_from")
        # exact unless events left out of the bounded timeline are dated before as_of
        body["as_of_exact"] = not (left_out and first and _time(first) <= as_of)
    body["suppressed_since_opt_out"] = int((suppressed or {}).get("count") or 0)
    body["events"] = [_shown(e) for e in events]
    body["events_left_out"] = left_out
    body["events_left_out_between"] = ([history.get("left_out_from"), history.get("left_out_until")]
                                       if left_out else None)
    return body

