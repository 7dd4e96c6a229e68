"""Step 2: apply replies to the opt-out table and decide each send (no Faust here).

Runs on the routed topic, whose partition holds the number's opt-out state,
so ``table`` is the partition-local view the adapter hands in.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime

from app.domain.consent import ConsentState, apply_reply
from app.domain.decision import decide
from app.domain.keywords import KeywordClassifier
from app.records import Output, dumps, loads
from app.routing import KIND_REPLY, KIND_SEND
from app.settings import Settings
from app.stats import Stats
from app.suppression import suppressed


def table_key(number: str, account_id: str) -> bytes:
    """Table key: E.164 first (never contains '|'), then the account."""
    return f"{number}|{account_id}".encode()


class Decider:
    def __init__(self, settings: Settings, stats: Stats, classifier: KeywordClassifier | None = None) -> None:
        self.settings = settings
        self.stats = stats
        self.classifier = classifier or KeywordClassifier()

    def process(self, value: bytes, table: MutableMapping[bytes, dict]) -> Output | None:
        routed = loads(value)
        kind = routed["kind"]
        if kind == KIND_SEND:
            return self._send(routed, table)
        if kind == KIND_REPLY:
            self._reply(routed, table)
            return None
        raise ValueError(f"unknown routed record kind {kind!r}")

    def _reply(self, routed: dict, table: MutableMapping[bytes, dict]) -> None:
        key = table_key(routed["number"], routed["account_id"])
        stored = table.get(key)
        current = ConsentState.from_json(stored) if stored else None
        new = apply_reply(
            current,
            self.classifier.classify(routed["body"]),
            message_id=routed["message_id"],
            event_time=datetime.fromisoformat(routed["event_time"]),
        )
        if new is None:
            return
        table[key] = new.to_json()
        self.stats.count("opt_outs" if new.opted_out else "opt_ins")

    def _send(self, routed: dict, table: MutableMapping[bytes, dict]) -> Output:
        number = routed["number"]
        message = routed["message"]
        stored = table.get(table_key(number, routed["account_id"]))
        state = ConsentState.from_json(stored) if stored else None
        decision = decide(state)
        if decision.deliver:
            self.stats.count("forwarded")
            return Output(self.settings.provider_topic, dumps({**message, "to": number}), key=number.encode())
        self.stats.suppressed(decision.reason)
        return suppressed(
            self.settings.suppressed_topic, message, decision, opted_out_at=state.changed_at if state else None
        )
