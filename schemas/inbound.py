"""`sms.inbound`: a contact's reply, as upstream produces it."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class InboundReply(BaseModel):
    """A contact's SMS reply. Unknown fields are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", title="sms.inbound")

    message_id: str = Field(min_length=1, description="Unique id of the reply (idempotency key).")
    account_id: str = Field(default="default", min_length=1, description="Tenant that owns the conversation.")
    from_: str = Field(alias="from", description="The contact's number, in any common format.")
    to: str | None = Field(default=None, description="Our number the contact replied to.")
    body: str = Field(description="The reply text; may be empty.")
    locale: str | None = Field(
        default=None, description="Locale of the reply (e.g. 'fr'); selects configured keywords and reply texts."
    )
    received_at: AwareDatetime | None = Field(
        default=None, description="RFC 3339 time the reply was received; default: the record's timestamp."
    )
