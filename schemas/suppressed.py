"""`sms.suppressed`: a send request that was not delivered, and why."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SuppressionReason = Literal["opted_out", "no_phone", "invalid_number"]


class SuppressedMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", title="sms.suppressed")

    reason: SuppressionReason
    message: dict[str, Any] = Field(description="The original outbound object, untouched.")
    suppressed_at: AwareDatetime
    opted_out_at: AwareDatetime | None = Field(
        default=None, description="For opted_out: event time of the reply that opted the number out."
    )
    detail: str | None = Field(default=None, description="Human-readable detail (e.g. why a number is invalid).")
