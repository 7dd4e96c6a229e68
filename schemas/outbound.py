"""`sms.outbound`: a send request from an upstream service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OutboundRequest(BaseModel):
    """A request to text a contact. Any other fields are passed through untouched."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", title="sms.outbound")

    message_id: str = Field(min_length=1, description="Unique id of the send request.")
    account_id: str = Field(default="default", min_length=1, description="Tenant sending the message.")
    to: str | None = Field(
        default=None, description="The contact's number, any common format; null or empty means no phone."
    )
    from_: str | None = Field(default=None, alias="from", description="Our sending number.")
    body: str = Field(description="The message text.")
