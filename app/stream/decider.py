"""Step 2: apply consent events to the opt-out table and decide each send (no Faust here).

Runs on the routed topic, whose partition holds the number's opt-out state,
so ``table`` is the partition-local view the adapter hands in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

from app.domain.business_days import add_business_days
from app.domain.consent import (
    RECENT_IDS,
    ConsentEvent,
    ConsentState,
    Source,
    Transition,
    Verdict,
    apply_event,
    fingerprint,
    replay_token,
    token_id,
)
from app.domain.decision import decide
from app.domain.keywords import Intent, Rule
from app.domain.policy import Policy
from app.records import Output, Receipt, dumps, from_timestamp_ms, iso, loads, utcnow
from app.settings import Settings
from app.stream import review_queue, timeline
from app.stream.counters import Stats
from app.stream.keys import GLOBAL_ACCOUNT, consent_key, replies_key, suppressed_key
from app.stream.partitioner import partition_for
from app.stream.routed import Kind, RoutedReply, RoutedReview, RoutedSend
from app.stream.suppression import suppressed

logger = logging.getLogger(__name__)
Table = MutableMapping[bytes, dict]


def _state_name(opted_out: bool | None) -> str | None:
    return None if opted_out is None else ("opted_out" if opted_out else "subscribed")


class Decider:
    def __init__(self, settings: Settings, stats: Stats, policy: Policy | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self.settings = settings
        self.stats = stats
        self.policy = policy or Policy()
        self.scope = settings.scope
        # the consent timeline (app.stream.timeline): entries of the record being processed, appended
        # once it is processed (a record that fails half-way leaves none: it is dead-lettered)
        self.keyword_config = timeline.keyword_config(settings.keywords_file, settings.default_locales)
        self._max_events = settings.timeline_max_events
        self._entry_bytes = timeline.entry_budget(settings.timeline_max_events)
        self._entries: list[tuple[str, str, dict]] = []  # (number, state account, entry)

    # ------------------------------------------------------------ dispatch

    def process(self, value: bytes, table: Table) -> list[Output]:
        self._entries = []
        outputs = self._process(value, table)
        for number, account, entry in self._entries:
            timeline.append_event(table, number, account, entry, self._max_events)
        self._entries = []
        return outputs

    def _process(self, value: bytes, table: Table) -> list[Output]:
        routed = loads(value)
        kind = routed["kind"]
        if kind == Kind.SEND:
            return [self._send(routed, table)]
        if kind == Kind.REPLY:
            return self._reply(routed, table)
        if kind == Kind.OPERATOR:
            self.stats.count("operator_opt_outs")
            event = ConsentEvent(True, Source.OPERATOR, routed["message_id"], _time(routed), rule="operator",
                                 digest=fingerprint(routed["reason"], routed["requested_by"]),
                                 decided_now=True)  # dated by the serving worker's clock: never stale
            extra = {"reason": routed["reason"], "requested_by": routed["requested_by"]}
            return self._consent(routed, table, event, extra=extra)[1]
        if kind == Kind.PROVIDER:
            self.stats.count("provider_opt_outs")
            event = ConsentEvent(True, Source.PROVIDER, routed["message_id"], _time(routed),
                                 rule=routed["rule"], matched=routed["error_code"],
                                 digest=fingerprint(routed["provider"], routed["rule"], routed["error_code"]))
            return self._consent(routed, table, event, extra={"provider": routed["provider"]})[1]
        if kind in (Kind.REVIEW_DECISION, Kind.REVIEW_EXPIRED):
            return self._review_decided(routed, table)
        raise ValueError(f"unknown routed record kind {kind!r}")

    # ------------------------------------------------------------ state

    def state_account(self, account_id: str) -> str:
        return GLOBAL_ACCOUNT if self.scope == "global" else account_id

    def lookup(self, table: Table, number: str, account_id: str) -> ConsentState | None:
        """The state that decides a send: in global scope an opt-out under either key counts."""
        if self.scope != "global":  # one key (the hot path: once per send)
            raw = table.get(consent_key(number, account_id))
            return ConsentState.from_json(raw) if raw else None
        keys = [consent_key(number, account_id)]
        if self.scope == "global":
            keys.insert(0, consent_key(number, GLOBAL_ACCOUNT))
        states = [ConsentState.from_json(raw) for key in keys if (raw := table.get(key))]
        opted_out = [s for s in states if s.opted_out]
        return opted_out[0] if opted_out else (states[0] if states else None)

    def _apply(self, table: Table, routed: dict, event: ConsentEvent) -> Transition:
        key = consent_key(routed["number"], self.state_account(routed["account_id"]))
        raw = table.get(key)
        transition = apply_event(ConsentState.from_json(raw) if raw else None, event)
        if transition.new is not None:
            table[key] = transition.new.to_json()
        if transition.verdict is Verdict.APPLIED:
            self.stats.count("opt_outs" if event.opted_out else "opt_ins")
        elif transition.verdict is Verdict.DUPLICATE:
            self.stats.count("duplicates")
        elif transition.verdict is Verdict.STALE:
            self.stats.count("stale")
        return transition

    # ------------------------------------------------------------ replies

    def _reply(self, routed: RoutedReply, table: Table) -> list[Output]:
        policy = self.policy.for_reply(routed["account_id"], routed.get("locale"))
        found = policy.classifier.classify(routed["body"])
        rule = found.rule.value if found.rule else None
        evidence = {"to": routed.get("to"), "keywords_id": policy.keywords_id}
        if found.intent is not Intent.NONE:  # its record names the keyword lists: keep what made them
            timeline.remember_config(table, self.keyword_config, iso(self.clock()))
        if found.intent in (Intent.OPT_OUT, Intent.OPT_IN):
            source = Source.PHRASE if found.rule is Rule.PHRASE else Source.KEYWORD
            if found.intent is Intent.OPT_IN:
                routed = _opt_in_not_after_its_record(routed)
            claimed = routed.get("claimed_event_time")
            event = ConsentEvent(found.intent is Intent.OPT_OUT, source, routed["message_id"], _time(routed),
                                 rule=rule, matched=found.matched, digest=fingerprint(routed["body"]),
                                 not_before=datetime.fromisoformat(claimed) if claimed else None,
                                 origin=_origin(routed.get("origin")))
            purpose = "opt-out" if event.opted_out else "opt-in"
            transition, outputs = self._consent(routed, table, event, body=routed["body"], intent=found.intent,
                                                extra=evidence, confirm=purpose)
            if transition.verdict is Verdict.APPLIED:
                texts = policy.texts_for(found)  # in the language of the word that matched
                text = texts.opt_out_confirmation if event.opted_out else texts.opt_in_confirmation
                outputs.append(self._compliance_sms(routed, text, purpose))
            return outputs
        if found.intent in (Intent.HELP, Intent.REVIEW) and not self._first_time(table, routed, found.intent):
            self.stats.count("duplicates")
            return []  # a replayed HELP or review reply: answered or queued already
        if found.intent is Intent.HELP:
            self.stats.count("help")
            state = self.lookup(table, routed["number"], routed["account_id"])
            log = self._log(routed, Intent.HELP, Source.KEYWORD, rule, found.matched, routed["body"],
                            verdict="logged", previous=state, new=state, extra=evidence, table=table,
                            confirmation=f"{routed['message_id']}:help")
            return [log, self._compliance_sms(routed, policy.texts_for(found).help, "help")]
        if found.intent is Intent.REVIEW:
            return self._queue_review(routed, table, policy, found, rule, evidence)
        return []

    # ------------------------------------------------------------ review queue

    def _queue_review(self, routed: RoutedReply, table: Table, policy, found, rule: str | None,  # type: ignore[no-untyped-def]
                      evidence: dict[str, Any]) -> list[Output]:
        s = self.settings
        event_time = _time(routed)
        deadline = add_business_days(event_time, s.review_business_days)
        state = self.lookup(table, routed["number"], routed["account_id"])
        source = Source.PHRASE if found.rule in (Rule.NEGATED_PHRASE, Rule.QUALIFIED_PHRASE) else Source.KEYWORD
        rid = review_queue.review_id(partition_for(routed["number"], s.partitions), routed["number"],
                                  routed["account_id"], routed["message_id"])
        item = {
            "review_id": rid,
            "account_id": routed["account_id"],
            "number": routed["number"],
            "message_id": routed["message_id"],
            "body": routed["body"],
            "matched": found.matched,
            "rule": rule,
            "event_time": iso(event_time),
            "deadline": iso(deadline),
            "queued_at": iso(self.clock()),
        }
        kept = {**item, "deadline_ms": int(deadline.timestamp() * 1000), "locale": routed.get("locale"),
                "to": routed.get("to"), "keywords_id": evidence["keywords_id"], "source": source.value}
        if not review_queue.enqueue(table, kept, s.review_max_pending):
            # the partition's queue is full (a flood): fail closed, decide it as an opt-out now
            self.stats.count("review_overflow")
            return self._review_opt_out(kept, table, Source.REVIEW_DEADLINE, "review_queue_full",
                                        {"review_id": rid, "note": "review queue full: opted out at once"})
        self.stats.count("review")
        log = self._log(routed, Intent.REVIEW, source, rule, found.matched, routed["body"], verdict="logged",
                        previous=state, new=state,
                        extra={"review_deadline": iso(deadline), "review_id": rid, **evidence}, table=table)
        return [log, Output(s.review_topic, dumps(item), key=routed["number"].encode())]

    def _review_decided(self, routed: RoutedReview, table: Table) -> list[Output]:
        """A person's decision, or the deadline: applied once (a decided item is not pending)."""
        expired = routed["kind"] == Kind.REVIEW_EXPIRED
        if expired and self.settings.review_expiry == "keep":
            return []
        decision = "opt_out" if expired else routed.get("decision")
        if decision not in review_queue.DECISIONS:
            raise ValueError(f"unknown review decision {decision!r}")
        decided = {"decision": decision, "decided_by": "deadline" if expired else routed.get("decided_by"),
                   "note": routed.get("note"), "decided_at": routed["event_time"]}
        item = review_queue.record_decision(table, routed["review_id"], decided)
        if item is None:
            self.stats.count("duplicates")
            return []  # decided already, or never queued here
        extra = {"review_id": item["review_id"], "decided_by": decided["decided_by"], "note": decided["note"]}
        if decision == "opt_out":
            self.stats.count("review_deadline_opt_outs" if expired else "review_opt_outs")
            source = Source.REVIEW_DEADLINE if expired else Source.REVIEW
            return self._review_opt_out(item, table, source, source.value, extra)
        self.stats.count("review_dismissed")
        reply = _reply_of(item)
        state = self.lookup(table, item["number"], item["account_id"])
        return [self._log(reply, Intent.REVIEW, Source.REVIEW, "review", item.get("matched"), item["body"],
                          verdict="dismissed", previous=state, new=state,
                          extra={**extra, "to": item.get("to"), "keywords_id": item.get("keywords_id")}, table=table)]

    def _review_opt_out(self, item: dict, table: Table, source: Source, rule: str,
                        extra: dict[str, Any]) -> list[Output]:
        """An opt-out for a queued reply: dated when the person wrote it, confirmed like a STOP."""
        reply = _reply_of(item)
        event = ConsentEvent(True, source, item["message_id"], _time(reply), rule=rule, matched=item.get("matched"),
                             digest=fingerprint(item["body"]))
        transition, outputs = self._consent(reply, table, event, body=item["body"], intent=Intent.OPT_OUT,
                                            extra={**extra, "to": item.get("to"),
                                                   "keywords_id": item.get("keywords_id")}, confirm="opt-out")
        if transition.verdict is Verdict.APPLIED:
            texts = self.policy.for_reply(item["account_id"], item.get("locale")).texts
            outputs.append(self._compliance_sms(reply, texts.opt_out_confirmation, "opt-out"))
        return outputs

    def _first_time(self, table: Table, routed: dict, intent: Intent) -> bool:
        """Remember a reply that changes no consent state (HELP, review), so that its replay
        is answered or queued only once. The same id with another text is not a replay."""
        key = replies_key(routed["number"], routed["account_id"])
        seen = table.get(key) or {}
        tokens = list(seen.get("recent_ids") or ())
        token = replay_token(routed["message_id"], intent.value, fingerprint(routed["body"]))
        if token in tokens:
            return False
        if any(token_id(t) == routed["message_id"] for t in tokens):
            self._clash(routed)
        table[key] = {"recent_ids": [*tokens, token][-RECENT_IDS:]}
        return True

    def _clash(self, routed: dict) -> None:
        self.stats.count("message_id_clashes")
        logger.warning("message id %r was seen before with other content for the number ending %s: "
                    "processed as a new reply, not a replay", routed["message_id"][:80], routed["number"][-4:])

    def _consent(self, routed: dict, table: Table, event: ConsentEvent, *, body: str | None = None,
                 intent: Intent = Intent.OPT_OUT, extra: dict[str, Any] | None = None, confirm: str | None = None,
                 ) -> tuple[Transition, list[Output]]:
        """Apply one consent event; log it unless it is a replay. ``confirm``: the purpose of
        the confirmation the caller sends when the event is applied (its message id is kept)."""
        transition = self._apply(table, routed, event)
        if transition.verdict is Verdict.DUPLICATE:
            return transition, []
        if transition.clash:
            self._clash(routed)
            extra = {**(extra or {}), "message_id_clash": True}
        applied = transition.verdict is Verdict.APPLIED
        if applied and event.opted_out:  # the suppressed sends are counted from this opt-out on
            key = suppressed_key(routed["number"], self.state_account(routed["account_id"]))
            table[key] = timeline.reset_suppressed(routed["event_time"], routed["message_id"])
        record = self._log(routed, intent, event.source, event.rule, event.matched, body,
                           verdict=transition.verdict.value, previous=transition.previous,
                           new=transition.new or transition.previous, extra=extra, table=table,
                           confirmation=f"{routed['message_id']}:{confirm}" if confirm and applied else None)
        return transition, [record]

    def _compliance_sms(self, routed: dict, text: str, purpose: str) -> Output:
        """A reply the rules require: straight to the provider, exempt from the filter."""
        self.stats.count("confirmations")
        message = {
            "message_id": f"{routed['message_id']}:{purpose}",
            "account_id": routed["account_id"],
            "to": routed["number"],
            "from": routed.get("to"),
            "body": text,
            "category": "compliance",
            "in_reply_to": routed["message_id"],
        }
        return Output(self.settings.provider_topic, dumps(message), key=routed["number"].encode())

    def _log(self, routed: dict, intent: Intent, source: Source, rule: str | None, matched: str | None,
             body: str | None, *, verdict: str, previous: ConsentState | None, new: ConsentState | None,
             extra: dict[str, Any] | None = None, table: Table | None = None,
             confirmation: str | None = None) -> Output:
        """A consent log record; with ``table``, also the entry of the number's timeline that
        points to it (appended once the record is processed, :meth:`process`)."""
        record = {
            "account_id": self.state_account(routed["account_id"]) if intent in (Intent.OPT_OUT, Intent.OPT_IN)
            else routed["account_id"],
            "number": routed["number"],
            "intent": intent.value,
            "source": source.value,
            "rule": rule,
            "matched": matched,
            "body": body,
            "message_id": routed["message_id"],
            "event_time": routed["event_time"],
            "processed_at": iso(self.clock()),
            "previous_state": _state_name(previous.opted_out if previous else None),
            "new_state": _state_name(new.opted_out if new else None),
            "verdict": verdict,
            "scope": self.scope,
            **(extra or {}),
        }
        if routed.get("coerced"):
            record["coerced"] = routed["coerced"]
        if table is None:
            return Output(self.settings.consent_topic, dumps(record), key=routed["number"].encode())
        receipt = Receipt()
        entry = timeline.entry(record, receipt, confirmation, self._entry_bytes)
        if self.scope == "global":
            entry["account_id"] = routed["account_id"]
        else:
            entry.pop("account_id", None)
        self._entries.append((routed["number"], self.state_account(routed["account_id"]), entry))
        return Output(self.settings.consent_topic, dumps(record), key=routed["number"].encode(), receipt=receipt)

    # ------------------------------------------------------------ sends

    def send_or_suppress(self, routed: RoutedSend, table: Table) -> list[Output]:
        """A send's one output: to the provider, or suppressed (:func:`app.domain.decision.decide`)."""
        return [self._send(routed, table)]

    def _send(self, routed: RoutedSend, table: Table) -> Output:
        number = routed["number"]
        message = routed["message"]
        state = self.lookup(table, number, routed["account_id"])
        requested_at = None
        after = None
        if state is not None and state.resubscribed_at is not None:  # only then can it matter
            requested_ms = routed.get("requested_at_ms")
            requested_at = from_timestamp_ms(requested_ms) if isinstance(requested_ms, int) else None
            after = _replies_before(routed.get("after"))
        decision = decide(state, requested_at, after)
        if decision.deliver:
            self.stats.count("forwarded")
            return Output(self.settings.provider_topic, dumps({**message, "to": number}), key=number.encode())
        self.stats.suppressed(decision.reason)
        if state is not None:  # opted out (now, or when it was requested): one small write
            key = suppressed_key(number, self.state_account(routed["account_id"]))
            table[key] = timeline.count_suppressed(table.get(key))
        return suppressed(
            self.settings.suppressed_topic, message, decision, opted_out_at=state.changed_at if state else None
        )


def _origin(value: Any) -> tuple[str, int, int] | None:
    if isinstance(value, list) and len(value) == 3:
        return str(value[0]), int(value[1]), int(value[2])
    return None


def _replies_before(value: Any) -> tuple[str, list[int]] | None:
    """A routed send's ``after``: ``[reply topic, [offset per partition]]`` (None: not known)."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], list):
        return value[0], value[1]
    return None


def _time(routed: dict) -> datetime:
    return datetime.fromisoformat(routed["event_time"])


def _reply_of(item: dict) -> dict:
    """The fields of the original reply a review item keeps, as the consent log wants them."""
    return {"number": item["number"], "account_id": item["account_id"], "message_id": item["message_id"],
            "event_time": item["event_time"], "to": item.get("to")}


def _opt_in_not_after_its_record(routed: RoutedReply) -> RoutedReply:
    """An opt-in is never ordered after its record reached us (the router's trusted time): the
    allowed clock skew may date an opt-out a little late (fail closed), never an opt-in, which
    would make an opt-out sent in between stale. It still lets sends through only from the
    time it claims (``claimed_event_time``): fail closed both ways."""
    trusted_ms = routed.get("trusted_ms")
    event_time = _time(routed)
    if not isinstance(trusted_ms, int) or int(event_time.timestamp() * 1000) <= trusted_ms:
        return routed  # (within the record's millisecond: not after it)
    trusted = iso(from_timestamp_ms(trusted_ms))
    coerced = {**(routed.get("coerced") or {}),
               "event_time": f"{routed['event_time']} is after the record's time: the opt-in is ordered at "
                             f"{trusted}, sends go through from {routed['event_time']}"}
    return {**routed, "event_time": trusted, "claimed_event_time": routed["event_time"], "coerced": coerced}
