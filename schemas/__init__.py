"""Topic contracts: the single source of truth for every topic's value.

JSON Schema exports live in ``schemas/json/`` (``python -m schemas.export``).
"""

from schemas.consent import ConsentRecord
from schemas.deadletter import DeadLetter
from schemas.inbound import InboundReply
from schemas.operator import OperatorOptOut, ReviewDecision
from schemas.outbound import OutboundRequest
from schemas.provider import ProviderMessage
from schemas.review import ReviewItem
from schemas.status import StatusReceipt
from schemas.suppressed import SuppressedMessage

# default topic name -> model
TOPIC_MODELS = {
    "sms.inbound": InboundReply,
    "sms.outbound": OutboundRequest,
    "sms.provider": ProviderMessage,
    "sms.suppressed": SuppressedMessage,
    "sms.deadletter": DeadLetter,
    "sms.status": StatusReceipt,
    "sms.consent": ConsentRecord,
    "sms.review": ReviewItem,
    "http.post-optouts": OperatorOptOut,
    "http.post-reviews": ReviewDecision,
}

__all__ = [
    "TOPIC_MODELS",
    "ConsentRecord",
    "OperatorOptOut",
    "ReviewDecision",
    "ReviewItem",
    "StatusReceipt",
    "DeadLetter",
    "InboundReply",
    "OutboundRequest",
    "ProviderMessage",
    "SuppressedMessage",
]
