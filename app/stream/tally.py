"""What one batch of decided records made, counted from their outputs (no Kafka here).

The processor (:mod:`app.engine.processor`) hands each routed partition's outputs of a
batch to :meth:`Tally.count_outputs`, once per batch: sends forwarded (``sms.provider``
records that are not confirmations), suppressed by reason (``sms.suppressed``), dead
letters by reason (``sms.deadletter``), consent records by intent, source, rule and
verdict (``sms.consent``), confirmations (the ``sms.provider`` record that follows the
consent record it confirms, ``category: compliance`` with its ``in_reply_to``), review
items queued. Sends cost a topic comparison; only suppressions, consent records,
confirmations and dead letters are read back (they are a small share of the traffic).

Records dead-lettered or suppressed while being routed (malformed records, sends with no
or invalid number) have no routed partition: the processor counts them per input
partition as :data:`ROUTE_OUTCOMES` and publishes one small tally record per batch to a
routed partition chosen from the input partition's name, where they are counted like
the rest (:meth:`Tally.count_route_outcomes`).
"""

from __future__ import annotations

from datetime import datetime

from app.records import Output, dumps, loads
from app.stream import histogram

OTHER = "(other)"
MAX_CONSENT_KINDS = 256  # distinct intent|source|rule|verdict kept per partition; the rest are OTHER
SUPPRESSED, DEAD_LETTERED = "s", "d"  # kinds of routing-stage outcomes in a tally record


def dead_letter_reason(error: str) -> str:
    """A fixed name for a dead letter's free-text error (a bounded label set)."""
    text = error.lower()
    for prefix, name in (
        ("internal error", "internal_error"),
        ("empty record", "empty"),
        ("record is ", "too_large"),
        ("not valid json", "not_json"),
        ("expected a json object", "not_object"),
        ("body is ", "body_too_long"),
        ("cannot be passed on as json", "not_reencodable"),
        ("field 'from'", "invalid_sender"),
        ("opt-out receipt", "invalid_receipt"),
        ("invalid ", "invalid_fields"),
        ("record from unexpected topic", "unexpected_topic"),
    ):
        if text.startswith(prefix):
            return name
    return "other"


def _ms(iso_text: object) -> int | None:
    if not isinstance(iso_text, str):
        return None
    try:
        return int(datetime.fromisoformat(iso_text).timestamp() * 1000)
    except ValueError:
        return None


class Tally:
    """The figures of one routed partition's batch; added to its state once per batch."""

    __slots__ = ("confirm_ms", "confirmations", "consent", "dead_lettered", "forwarded", "honour_ms", "prevented",
                 "review_queued", "suppressed")

    def __init__(self) -> None:
        self.forwarded = 0
        self.suppressed: dict[str, int] = {}
        self.dead_lettered: dict[str, int] = {}
        self.consent: dict[str, int] = {}  # "intent|source|rule|verdict" -> n
        self.confirmations: dict[str, int] = {}  # purpose (opt-out, opt-in, help) -> n
        self.honour_ms: list[int] = []  # applied opt-outs: processed_at - event_time
        self.confirm_ms: list[int] = []  # opt-out confirmations: produced - the reply's event time
        self.prevented: dict[str, int] = {}  # account -> sends suppressed because opted out
        self.review_queued = 0

    def __bool__(self) -> bool:
        return bool(self.forwarded or self.suppressed or self.dead_lettered or self.consent or self.review_queued)

    # ------------------------------------------------------------ from outputs

    def count_outputs(self, outputs: list[Output], topics: Topics, now_ms: int) -> None:
        """Count the outputs of a batch's decided records (in the order they were made)."""
        provider, consent_topic = topics.provider, topics.consent
        suppressed, deadletter, review = topics.suppressed, topics.deadletter, topics.review
        confirms: bytes | None = None  # the in_reply_to ending of a confirmation of the consent record just seen
        event_ms: int | None = None
        for output in outputs:
            topic = output.topic
            if topic == provider:
                if confirms is not None and output.value.endswith(confirms):
                    self._confirmation(output.value, event_ms, now_ms)
                else:
                    self.forwarded += 1
                confirms = None
                continue
            confirms = None
            if topic == suppressed:
                record = loads(output.value)
                reason = str(record.get("reason"))
                self.suppressed[reason] = self.suppressed.get(reason, 0) + 1
                if reason == "opted_out":
                    message = record.get("message")
                    account = message.get("account_id") if isinstance(message, dict) else None
                    account = account if isinstance(account, str) and account else "default"
                    self.prevented[account] = self.prevented.get(account, 0) + 1
            elif topic == consent_topic:
                record = loads(output.value)
                event_ms = self._consent(record)
                mid = record.get("message_id")
                if isinstance(mid, str):
                    confirms = b'"in_reply_to":' + dumps(mid) + b"}"
            elif topic == deadletter:
                reason = dead_letter_reason(str(loads(output.value).get("error", "")))
                self.dead_lettered[reason] = self.dead_lettered.get(reason, 0) + 1
            elif topic == review:
                self.review_queued += 1

    def _consent(self, record: dict) -> int | None:
        intent, verdict = record.get("intent"), record.get("verdict")
        kind = f"{intent}|{record.get('source')}|{record.get('rule')}|{verdict}"
        if kind not in self.consent and len(self.consent) >= MAX_CONSENT_KINDS:
            kind = f"{OTHER}|{OTHER}|{OTHER}|{OTHER}"
        self.consent[kind] = self.consent.get(kind, 0) + 1
        event_ms = _ms(record.get("event_time"))
        if intent == "opt_out" and verdict == "applied":
            processed_ms = _ms(record.get("processed_at"))
            if event_ms is not None and processed_ms is not None:
                self.honour_ms.append(processed_ms - event_ms)
        return event_ms

    def _confirmation(self, value: bytes, event_ms: int | None, now_ms: int) -> None:
        record = loads(value)
        mid = str(record.get("message_id", ""))
        purpose = mid.rsplit(":", 1)[-1] if ":" in mid else OTHER
        purpose = purpose if purpose in ("opt-out", "opt-in", "help") else OTHER
        self.confirmations[purpose] = self.confirmations.get(purpose, 0) + 1
        if purpose == "opt-out" and event_ms is not None:
            self.confirm_ms.append(now_ms - event_ms)

    # ------------------------------------------------------------ routing stage

    def count_route_outcomes(self, outcomes: list) -> None:
        """Entries ``[offset, kind, reason]`` of a tally record (already deduplicated)."""
        for entry in outcomes:
            kind, reason = entry[1], str(entry[2])
            if kind == SUPPRESSED:
                self.suppressed[reason] = self.suppressed.get(reason, 0) + 1
            elif kind == DEAD_LETTERED:
                self.dead_lettered[reason] = self.dead_lettered.get(reason, 0) + 1

    # ------------------------------------------------------------ views

    def applied(self, intent: str) -> int:
        return sum(n for kind, n in self.consent.items() if kind.startswith(f"{intent}|") and kind.endswith("|applied"))

    def histograms(self) -> tuple[dict, dict]:
        honour, confirm = histogram.empty(), histogram.empty()
        for ms in self.honour_ms:
            histogram.observe(honour, ms)
        for ms in self.confirm_ms:
            histogram.observe(confirm, ms)
        return honour, confirm


class Topics:
    """The output topic names a tally tells apart."""

    __slots__ = ("consent", "deadletter", "provider", "review", "suppressed")

    def __init__(self, provider: str, suppressed: str, deadletter: str, consent: str, review: str) -> None:
        self.provider, self.suppressed, self.deadletter = provider, suppressed, deadletter
        self.consent, self.review = consent, review


def route_outcome(output: Output, topics: Topics) -> tuple[str, str] | None:
    """A routing-stage output that ends a record's way: (kind, reason), or None (routed on)."""
    if output.topic == topics.suppressed:
        return SUPPRESSED, str(loads(output.value).get("reason"))
    if output.topic == topics.deadletter:
        return DEAD_LETTERED, dead_letter_reason(str(loads(output.value).get("error", "")))
    return None

