"""wacloud: the WhatsApp Business Cloud API for Python and Django, with a C++ core."""

from __future__ import annotations

from . import media, messages, phone, webhook
from .client import REQUIRED_TOKEN_SCOPES, Client, GranularScope, RemoteMedia, SendResult, TokenInfo
from .errors import (
    AuthenticationError,
    DeliveryUnknown,
    GraphAPIError,
    InvalidParameter,
    InvalidPhoneNumber,
    MediaError,
    MediaRejected,
    PermissionDenied,
    RateLimited,
    RecipientError,
    ReEngagementRequired,
    TemplateError,
    TransientError,
    WacloudError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from .events import (
    ErrorDetail,
    Event,
    EventType,
    FieldUpdate,
    InboundMessage,
    InvalidItem,
    MediaRef,
    MessageStatus,
    StatusUpdate,
    TemplateStatusUpdate,
    WebhookError,
)
from .media import MediaInfo, MediaKind
from .phone import NumberType, PhoneNumber
from .ratelimit import RateLimiter, RedisRateLimiter, create_rate_limiter
from .security import sign, verify_signature, verify_subscription

__version__ = "0.1.0"

__all__ = [
    "REQUIRED_TOKEN_SCOPES",
    "AuthenticationError",
    "Client",
    "DeliveryUnknown",
    "ErrorDetail",
    "Event",
    "EventType",
    "FieldUpdate",
    "GranularScope",
    "GraphAPIError",
    "InboundMessage",
    "InvalidItem",
    "InvalidParameter",
    "InvalidPhoneNumber",
    "MediaError",
    "MediaInfo",
    "MediaKind",
    "MediaRef",
    "MediaRejected",
    "MessageStatus",
    "NumberType",
    "PermissionDenied",
    "PhoneNumber",
    "RateLimited",
    "RateLimiter",
    "ReEngagementRequired",
    "RecipientError",
    "RedisRateLimiter",
    "RemoteMedia",
    "SendResult",
    "StatusUpdate",
    "TemplateError",
    "TemplateStatusUpdate",
    "TokenInfo",
    "TransientError",
    "WacloudError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "__version__",
    "create_rate_limiter",
    "media",
    "messages",
    "phone",
    "sign",
    "verify_signature",
    "verify_subscription",
    "webhook",
]
