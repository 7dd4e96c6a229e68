"""Body of ``POST /optouts``: an operator records an opt-out on a contact's behalf."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OperatorOptOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="POST /optouts")

    number: str = Field(min_length=1, description="Any common format.")
    account_id: str = Field(default="default", min_length=1)
    reason: str = Field(min_length=1, max_length=1000, description="Why, e.g. 'asked by phone on 2026-11-20'.")
    requested_by: str = Field(min_length=1, max_length=200, description="Who asked for it (operator id or email).")


class ReviewDecision(BaseModel):
    """Body of ``POST /reviews/{review_id}``: a person decides a queued reply. There is no
    decision that opts anyone in."""

    model_config = ConfigDict(extra="forbid", title="POST /reviews/{review_id}")

    decision: Literal["opt_out", "dismiss"] = Field(description="opt_out: record an opt-out (source review); "
                                                    "dismiss: the reply is no opt-out.")
    decided_by: str = Field(min_length=1, max_length=200, description="Who decided (operator id or email).")
    note: str | None = Field(default=None, max_length=2000)
