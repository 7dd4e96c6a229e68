"""Topic contracts: the single source of truth for every topic's value.

JSON Schema exports live in ``schemas/json/`` (``python -m schemas.export``).
"""

from schemas.deadletter import DeadLetter
from schemas.inbound import InboundReply
from schemas.outbound import OutboundRequest
from schemas.provider import ProviderMessage
from schemas.suppressed import SuppressedMessage

# default topic name -> model
TOPIC_MODELS = {
    "sms.inbound": InboundReply,
    "sms.outbound": OutboundRequest,
    "sms.provider": ProviderMessage,
    "sms.suppressed": SuppressedMessage,
    "sms.deadletter": DeadLetter,
}

__all__ = [
    "TOPIC_MODELS",
    "DeadLetter",
    "InboundReply",
    "OutboundRequest",
    "ProviderMessage",
    "SuppressedMessage",
]
