"""wacloud: the WhatsApp Business Cloud API for Python and Django, with a C++ core."""

from __future__ import annotations

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
from .security import sign, verify_signature, verify_subscription

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "DeliveryUnknown",
    "GraphAPIError",
    "InvalidParameter",
    "InvalidPhoneNumber",
    "MediaError",
    "MediaRejected",
    "PermissionDenied",
    "RateLimited",
    "ReEngagementRequired",
    "RecipientError",
    "TemplateError",
    "TransientError",
    "WacloudError",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "__version__",
    "sign",
    "verify_signature",
    "verify_subscription",
]
