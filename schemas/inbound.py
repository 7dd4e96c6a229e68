"""`sms.inbound`: a contact's reply, as upstream produces it.

Lenient by design: a reply may be an opt-out, and an opt-out must never be lost
to its metadata. Only a missing or unparseable ``from`` and a ``body`` that is
not text make a reply invalid; every other field that is missing or malformed
is coerced or ignored as its description says, and the coercion is reported
(``coerced``) so that the consent record can say so.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

MAX_ID_CHARS = 256
MAX_ACCOUNT_CHARS = 128
_LOCALE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,3}")


def bounded_id(value: str, limit: int) -> str:
    """An id longer than ``limit``: its SHA-256, so that the same id always maps to the same key."""
    if len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _note(info: ValidationInfo, field: str, what: str) -> None:
    if isinstance(info.context, dict):
        info.context.setdefault("coerced", {})[field] = what


class InboundReply(BaseModel):
    """A contact's SMS reply. Unknown fields are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", title="sms.inbound")

    message_id: str | None = Field(
        default=None,
        description="Unique id of the reply (idempotency key). A number is read as text; missing, empty or of "
        f"another type: the record's position `<topic>:<partition>:<offset>`; over {MAX_ID_CHARS} characters: "
        "`sha256:<hex>` of it.")
    account_id: str = Field(
        default="default",
        description="Tenant that owns the conversation. A number is read as text; missing, empty or of another "
        f"type: `default`; over {MAX_ACCOUNT_CHARS} characters: `sha256:<hex>` of it (the same for sends).")
    from_: str = Field(alias="from", description="The contact's number, in any common format (a JSON number is "
                       "read as its digits). Required: missing or unparseable, the reply is dead-lettered.")
    to: str | None = Field(default=None, description="Our number the contact replied to. A number is read as "
                           "text; of another type or over 64 characters: ignored.")
    body: str = Field(description="The reply text; may be empty. Required, and must be a string: otherwise "
                      "the reply is dead-lettered. Over the body limit: classified on its beginning.")
    locale: str | None = Field(
        default=None, description="Locale of the reply (e.g. 'fr', 'es-MX'); selects configured keywords and reply "
        "texts. Not a language tag: ignored.")
    received_at: datetime | None = Field(
        default=None, description="RFC 3339 time the reply was received. Without an offset: read as UTC. Missing, "
        "not a string or unparseable: the record's timestamp. Later than the record's timestamp (or the worker's "
        "clock, if earlier) plus OPTOUT_MAX_CLOCK_SKEW_MS: that timestamp instead. An opt-in is never dated after "
        "its record's timestamp.")

    @field_validator("message_id", mode="before")
    @classmethod
    def _message_id(cls, value: Any, info: ValidationInfo) -> str | None:
        if _is_number(value):
            value = str(value)
        if isinstance(value, str) and value.strip():
            if len(value) > MAX_ID_CHARS:
                _note(info, "message_id", f"over {MAX_ID_CHARS} characters: its SHA-256")
            return bounded_id(value, MAX_ID_CHARS)
        _note(info, "message_id", "empty or not a string: the record's position")
        return None

    @field_validator("account_id", mode="before")
    @classmethod
    def _account_id(cls, value: Any, info: ValidationInfo) -> str:
        if _is_number(value):
            value = str(value)
        if isinstance(value, str) and value.strip():
            if len(value) > MAX_ACCOUNT_CHARS:
                _note(info, "account_id", f"over {MAX_ACCOUNT_CHARS} characters: its SHA-256")
            return bounded_id(value, MAX_ACCOUNT_CHARS)
        if value is not None:
            _note(info, "account_id", "empty or not a string: 'default'")
        return "default"

    @field_validator("from_", mode="before")
    @classmethod
    def _from(cls, value: Any) -> Any:
        return str(int(value)) if _is_number(value) and float(value).is_integer() else value

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: Any, info: ValidationInfo) -> str | None:
        if _is_number(value) and float(value).is_integer():
            value = str(int(value))
        if value is None or (isinstance(value, str) and len(value) <= 64):
            return value
        _note(info, "to", "not a string of at most 64 characters: ignored")
        return None

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: Any, info: ValidationInfo) -> str | None:
        if value is None or (isinstance(value, str) and _LOCALE.fullmatch(value)):
            return value
        _note(info, "locale", "not a language tag: ignored")
        return None

    @field_validator("received_at", mode="wrap")
    @classmethod
    def _received_at(cls, value: Any, handler, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):  # a number is not read as Unix time: seconds or milliseconds?
            _note(info, "received_at", "not an RFC 3339 string: the record's timestamp")
            return None
        try:
            moment = handler(value)
        except (ValidationError, ValueError, OverflowError):
            _note(info, "received_at", "not a time: the record's timestamp")
            return None
        if moment is not None and moment.tzinfo is None:
            _note(info, "received_at", "no offset: read as UTC")
            moment = moment.replace(tzinfo=UTC)
        return moment
