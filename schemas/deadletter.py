"""`sms.deadletter`: a record the worker could not process, with the original bytes."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="forbid", title="sms.deadletter")

    source_topic: str
    partition: int
    offset: int
    error: str = Field(description="Human-readable reason.")
    payload: str | None = Field(description="The original bytes: as text, or base64 (see payload_encoding).")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    key: str | None = Field(default=None, description="The original record key, as text (base64 if not UTF-8).")
    at: AwareDatetime
