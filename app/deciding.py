"""Step 2: apply consent events to the opt-out table and decide each send (no Faust here).

Runs on the routed topic, whose partition holds the number's opt-out state,
so ``table`` is the partition-local view the adapter hands in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

from app.domain.business_days import REVIEW_BUSINESS_DAYS, add_business_days
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
from app.records import Output, dumps, from_timestamp_ms, iso, loads, utcnow
from app.routing import KIND_OPERATOR, KIND_PROVIDER, KIND_REPLY, KIND_SEND
from app.settings import Settings
from app.stats import Stats
from app.suppression import suppressed

logger = logging.getLogger(__name__)
GLOBAL_ACCOUNT = "*"
Table = MutableMapping[bytes, dict]


def table_key(number: str, account_id: str) -> bytes:
    """Table key: E.164 first (never contains '|'), then the account ('*' in global scope)."""
    return f"{number}|{account_id}".encode()


def replies_key(number: str, account_id: str) -> bytes:
    """Key of the message ids of recent HELP / review replies (not a consent state)."""
    return f"{number}|{account_id}|replies".encode()


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

    # ------------------------------------------------------------ dispatch

    def process(self, value: bytes, table: Table) -> list[Output]:
        routed = loads(value)
        kind = routed["kind"]
        if kind == KIND_SEND:
            return [self._send(routed, table)]
        if kind == KIND_REPLY:
            return self._reply(routed, table)
        if kind == KIND_OPERATOR:
            self.stats.count("operator_opt_outs")
            event = ConsentEvent(True, Source.OPERATOR, routed["message_id"], _time(routed), rule="operator",
                                 digest=fingerprint(routed["reason"], routed["requested_by"]))
            extra = {"reason": routed["reason"], "requested_by": routed["requested_by"]}
            return self._consent(routed, table, event, extra=extra)[1]
        if kind == KIND_PROVIDER:
            self.stats.count("provider_opt_outs")
            event = ConsentEvent(True, Source.PROVIDER, routed["message_id"], _time(routed),
                                 rule=routed["rule"], matched=routed["error_code"],
                                 digest=fingerprint(routed["provider"], routed["rule"], routed["error_code"]))
            return self._consent(routed, table, event, extra={"provider": routed["provider"]})[1]
        raise ValueError(f"unknown routed record kind {kind!r}")

    # ------------------------------------------------------------ state

    def state_account(self, account_id: str) -> str:
        return GLOBAL_ACCOUNT if self.scope == "global" else account_id

    def lookup(self, table: Table, number: str, account_id: str) -> ConsentState | None:
        """The state that decides a send: in global scope an opt-out under either key counts."""
        if self.scope != "global":  # one key (the hot path: once per send)
            raw = table.get(f"{number}|{account_id}".encode())
            return ConsentState.from_json(raw) if raw else None
        keys = [table_key(number, account_id)]
        if self.scope == "global":
            keys.insert(0, table_key(number, GLOBAL_ACCOUNT))
        states = [ConsentState.from_json(raw) for key in keys if (raw := table.get(key))]
        opted_out = [s for s in states if s.opted_out]
        return opted_out[0] if opted_out else (states[0] if states else None)

    def _apply(self, table: Table, routed: dict, event: ConsentEvent) -> Transition:
        key = table_key(routed["number"], self.state_account(routed["account_id"]))
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

    def _reply(self, routed: dict, table: Table) -> list[Output]:
        policy = self.policy.for_reply(routed["account_id"], routed.get("locale"))
        found = policy.classifier.classify(routed["body"])
        rule = found.rule.value if found.rule else None
        if found.intent in (Intent.OPT_OUT, Intent.OPT_IN):
            source = Source.PHRASE if found.rule is Rule.PHRASE else Source.KEYWORD
            if found.intent is Intent.OPT_IN:
                routed = _opt_in_not_after_its_record(routed)
            event = ConsentEvent(found.intent is Intent.OPT_OUT, source, routed["message_id"], _time(routed),
                                 rule=rule, matched=found.matched, digest=fingerprint(routed["body"]))
            transition, outputs = self._consent(routed, table, event, body=routed["body"], intent=found.intent)
            if transition.verdict is Verdict.APPLIED:
                texts = policy.texts_for(found)  # in the language of the word that matched
                text = texts.opt_out_confirmation if event.opted_out else texts.opt_in_confirmation
                outputs.append(self._compliance_sms(routed, text, "opt-out" if event.opted_out else "opt-in"))
            return outputs
        if found.intent in (Intent.HELP, Intent.REVIEW) and not self._first_time(table, routed, found.intent):
            self.stats.count("duplicates")
            return []  # a replayed HELP or review reply: answered or queued already
        if found.intent is Intent.HELP:
            self.stats.count("help")
            state = self.lookup(table, routed["number"], routed["account_id"])
            log = self._log(routed, Intent.HELP, Source.KEYWORD, rule, found.matched, routed["body"],
                            verdict="logged", previous=state, new=state)
            return [log, self._compliance_sms(routed, policy.texts_for(found).help, "help")]
        if found.intent is Intent.REVIEW:
            self.stats.count("review")
            event_time = _time(routed)
            deadline = add_business_days(event_time, REVIEW_BUSINESS_DAYS)
            state = self.lookup(table, routed["number"], routed["account_id"])
            source = Source.PHRASE if found.rule in (Rule.NEGATED_PHRASE, Rule.QUALIFIED_PHRASE) else Source.KEYWORD
            log = self._log(routed, Intent.REVIEW, source, rule, found.matched, routed["body"],
                            verdict="logged", previous=state, new=state, extra={"review_deadline": iso(deadline)})
            item = {
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
            return [log, Output(self.settings.review_topic, dumps(item), key=routed["number"].encode())]
        return []

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
                 intent: Intent = Intent.OPT_OUT, extra: dict[str, Any] | None = None,
                 ) -> tuple[Transition, list[Output]]:
        """Apply one consent event; log it unless it is a replay."""
        transition = self._apply(table, routed, event)
        if transition.verdict is Verdict.DUPLICATE:
            return transition, []
        if transition.clash:
            self._clash(routed)
            extra = {**(extra or {}), "message_id_clash": True}
        record = self._log(routed, intent, event.source, event.rule, event.matched, body,
                           verdict=transition.verdict.value, previous=transition.previous,
                           new=transition.new or transition.previous, extra=extra)
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
             extra: dict[str, Any] | None = None) -> Output:
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
        return Output(self.settings.consent_topic, dumps(record), key=routed["number"].encode())

    # ------------------------------------------------------------ sends

    def decide_send(self, routed: dict, table: Table) -> list[Output]:
        return [self._send(routed, table)]

    def _send(self, routed: dict, table: Table) -> Output:
        number = routed["number"]
        message = routed["message"]
        state = self.lookup(table, number, routed["account_id"])
        requested_at = None
        if state is not None and state.resubscribed_at is not None:  # only then can it matter
            requested_ms = routed.get("requested_at_ms")
            requested_at = from_timestamp_ms(requested_ms) if isinstance(requested_ms, int) else None
        decision = decide(state, requested_at)
        if decision.deliver:
            self.stats.count("forwarded")
            return Output(self.settings.provider_topic, dumps({**message, "to": number}), key=number.encode())
        self.stats.suppressed(decision.reason)
        return suppressed(
            self.settings.suppressed_topic, message, decision, opted_out_at=state.changed_at if state else None
        )


def _time(routed: dict) -> datetime:
    return datetime.fromisoformat(routed["event_time"])


def _opt_in_not_after_its_record(routed: dict) -> dict:
    """An opt-in is never dated after its record reached us (the router's trusted time): the
    allowed clock skew may date an opt-out a little late (fail closed), never an opt-in, which
    would make an opt-out sent in between stale."""
    trusted_ms = routed.get("trusted_ms")
    if not isinstance(trusted_ms, int) or _time(routed) <= from_timestamp_ms(trusted_ms):
        return routed
    trusted = iso(from_timestamp_ms(trusted_ms))
    coerced = {**(routed.get("coerced") or {}),
               "event_time": f"{routed['event_time']} is after the record's time: an opt-in is dated {trusted}"}
    return {**routed, "event_time": trusted, "coerced": coerced}
