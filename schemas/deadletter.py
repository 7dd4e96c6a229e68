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
    key: str | None = Field(default=None, description="The original record key, as text (base64 if not UTF-8); "
                            "keys over 1,024 bytes are cut.")
    payload_truncated: bool = Field(default=False, description="True when the original did not fit: `payload` is "
                                    "then a prefix (64 KiB of bytes, or 16,384 characters of text).")
    payload_size: int | None = Field(default=None, description="Size of the original in bytes, when truncated.")
    payload_sha256: str | None = Field(default=None, description="SHA-256 (hex) of the original, when truncated.")
    at: AwareDatetime
