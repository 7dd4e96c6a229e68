"""`sms.provider`: a send request cleared for delivery."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from schemas.outbound import OutboundRequest


class ProviderMessage(OutboundRequest):
    """The outbound object, every field kept, with `to` rewritten to E.164."""

    model_config = ConfigDict(title="sms.provider")

    to: str = Field(pattern=r"^\+[1-9]\d{1,14}$", description="Recipient in E.164.")
    category: str | None = Field(
        default=None,
        description="'compliance' for messages this service sends itself (opt-out/opt-in confirmations, "
        "help text); those are exempt from the opt-out filter. Otherwise whatever upstream sent.",
    )
    in_reply_to: str | None = Field(
        default=None, description="For compliance messages: the message_id of the reply that triggered it."
    )
