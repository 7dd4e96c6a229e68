"""One readable line per record of a topic (pure: no Kafka).

    12:01:03 suppressed +*******0100 acme  opted_out  s-123
    12:01:03 consent    +*******0100 acme  opt_out applied (keyword "stop")  r-7
    12:01:04 provider   +*******0100 acme  compliance opt-out "You are unsubscribed ..."  r-7:opt-out

Columns: the record's time (local, to the second), the topic (its short name), the
contact's number, the account, what happened, the message id. Whatever an upstream service
or a person wrote (numbers, accounts, bodies, message ids, errors) is masked with
:func:`app.domain.masking.mask` unless ``numbers`` is true; what the worker makes (review
ids, times, verdicts) needs no masking. Text is shown on one line, without control or
format characters, and cut at :data:`TEXT_CHARS` characters.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, tzinfo
from typing import Any

from app.domain.masking import mask
from app.records import loads
from app.settings import Settings

OUTCOMES = ("provider", "suppressed", "consent", "review", "deadletter")  # what ``tail`` shows unless told
INPUTS = ("inbound", "outbound", "status")
KINDS = OUTCOMES + INPUTS
TEXT_CHARS = 48
NUMBER_WIDTH = 13  # "+*******0100" and one more
KIND_WIDTH = 10


def topic_kinds(settings: Settings) -> dict[str, str]:
    """Topic name (as configured: OPTOUT_*_TOPIC) -> short name."""
    return {getattr(settings, f"{kind}_topic"): kind for kind in KINDS}


def text(value: Any, limit: int = TEXT_CHARS) -> str:
    """``value`` on one line: no control, format (bidi) or line-breaking characters; cut at ``limit``."""
    raw = "" if value is None else str(value)
    cleaned = "".join(" " if c.isspace() else "?" if unicodedata.category(c).startswith("C") else c for c in raw)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class _Line:
    """Parts of a line; those an upstream wrote are masked unless numbers are shown."""

    def __init__(self, numbers: bool) -> None:
        self.numbers = numbers

    def said(self, value: Any, limit: int = TEXT_CHARS) -> str:
        shown = text(value, limit)
        return shown if self.numbers else mask(shown)

    def quoted(self, value: Any, limit: int = TEXT_CHARS) -> str:
        return f'"{self.said(value, limit)}"'


def outcome_line(kind: str, value: bytes | None, timestamp_ms: int | None, *, numbers: bool = False,
                 tz: tzinfo | None = None) -> str:
    """The line of one record of the topic ``kind`` (one of :data:`KINDS`)."""
    when = "--:--:--" if timestamp_ms is None or timestamp_ms < 0 else \
        datetime.fromtimestamp(timestamp_ms / 1000, tz).strftime("%H:%M:%S")
    line = _Line(numbers)
    try:
        record = loads(value) if value is not None else None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        size = 0 if value is None else len(value)
        number, account, what, mid = "-", "-", f"not a JSON object ({size} bytes)", "-"
    else:
        number, account, what, mid = _DESCRIBE[kind](record, line)
    return f"{when} {kind:<{KIND_WIDTH}} {number:<{NUMBER_WIDTH}} {account}  {what}  {mid}"


def _number(line: _Line, value: Any) -> str:
    return line.said(value, 32) if value not in (None, "") else "-"


def _provider(r: dict, line: _Line) -> tuple[str, str, str, str]:
    if r.get("category") == "compliance":
        purpose = str(r.get("message_id", "")).rpartition(":")[2] or "reply"
        what = f"compliance {text(purpose, 20)} {line.quoted(r.get('body'))}"
    else:
        what = "cleared for delivery"
    return _number(line, r.get("to")), line.said(r.get("account_id", "default"), 32), what, \
        line.said(r.get("message_id"), 64)


def _suppressed(r: dict, line: _Line) -> tuple[str, str, str, str]:
    message = r.get("message") if isinstance(r.get("message"), dict) else {}
    what = text(r.get("reason"), 20)
    if r.get("reason") != "opted_out" and r.get("detail"):
        what += f" ({line.said(r.get('detail'), 60)})"
    return _number(line, message.get("to")), line.said(message.get("account_id") or "default", 32), what, \
        line.said(message.get("message_id"), 64)


def _consent(r: dict, line: _Line) -> tuple[str, str, str, str]:
    what = f"{text(r.get('intent'), 12)} {text(r.get('verdict'), 12)}"
    source, matched = r.get("source"), r.get("matched")
    if source == "provider":
        what += f" (provider {line.said(r.get('provider'), 20)} {line.said(matched, 20)})"
    elif source in ("keyword", "phrase"):
        what += f" ({source} {line.quoted(matched, 32)})" if matched else f" ({source})"
    elif source:
        what += f" ({text(source, 20)})"
    if r.get("previous_state") != r.get("new_state") and r.get("new_state"):
        before = f"{text(r.get('previous_state'), 12)} " if r.get("previous_state") else ""
        what += f" {before}-> {text(r.get('new_state'), 12)}"
    return _number(line, r.get("number")), line.said(r.get("account_id"), 32), what, line.said(r.get("message_id"), 64)


def _review(r: dict, line: _Line) -> tuple[str, str, str, str]:
    deadline = str(r.get("deadline") or "")[:10]
    what = f"review {text(r.get('review_id'), 40)} by {text(deadline, 10)}: {line.quoted(r.get('body'))}"
    return _number(line, r.get("number")), line.said(r.get("account_id"), 32), what, line.said(r.get("message_id"), 64)


def _deadletter(r: dict, line: _Line) -> tuple[str, str, str, str]:
    original: Any = None
    if r.get("payload_encoding", "utf-8") == "utf-8" and isinstance(r.get("payload"), str):
        try:
            original = loads(r["payload"].encode("utf-8", "surrogatepass"))
        except ValueError:
            original = None
    if not isinstance(original, dict):
        original = {}
    number = original.get("from", original.get("to"))
    where = f"{text(r.get('source_topic'), 40)}[{r.get('partition')}]@{r.get('offset')}"
    what = f"dead letter from {where}: {line.said(r.get('error'), 80)}"
    return _number(line, number if isinstance(number, str | int) else None), \
        line.said(original.get("account_id") or "-", 32), what, line.said(original.get("message_id") or "-", 64)


def _inbound(r: dict, line: _Line) -> tuple[str, str, str, str]:
    what = f"reply {line.quoted(r.get('body'))}" + (f" (locale {text(r.get('locale'), 16)})" if r.get("locale") else "")
    return _number(line, r.get("from")), line.said(r.get("account_id") or "default", 32), what, \
        line.said(r.get("message_id") or "-", 64)


def _outbound(r: dict, line: _Line) -> tuple[str, str, str, str]:
    return _number(line, r.get("to")), line.said(r.get("account_id") or "default", 32), \
        f"send request {line.quoted(r.get('body'))}", line.said(r.get("message_id") or "-", 64)


def _status(r: dict, line: _Line) -> tuple[str, str, str, str]:
    what = f"receipt {line.said(r.get('provider'), 20)} {line.said(r.get('status'), 20)}"
    if r.get("error_code") is not None:
        what += f" {line.said(r.get('error_code'), 40)}"
    return _number(line, r.get("to")), line.said(r.get("account_id") or "default", 32), what, \
        line.said(r.get("message_id") or "-", 64)


_DESCRIBE = {"provider": _provider, "suppressed": _suppressed, "consent": _consent, "review": _review,
             "deadletter": _deadletter, "inbound": _inbound, "outbound": _outbound, "status": _status}
