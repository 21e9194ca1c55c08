"""Webhook security: Meta's X-Hub-Signature-256 and the subscription handshake."""

from __future__ import annotations

import hmac

from . import _core
from .errors import WebhookVerificationError

BytesLike = bytes | bytearray | str


def sign(app_secret: BytesLike, body: BytesLike) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``: ``"sha256=<hex>"``."""
    return _core.sign(app_secret, body)


def verify_signature(app_secret: BytesLike, body: BytesLike, header: str | bytes | None) -> bool:
    """Whether ``header`` is Meta's signature of ``body``. Constant time; never
    raises for a missing, malformed, wrong-algorithm or wrong-length header."""
    if not isinstance(header, (str, bytes, bytearray)):
        return False
    return _core.verify_signature(app_secret, body, header)


def verify_subscription(
    mode: str | None, token: str | None, challenge: str | None, expected_token: str
) -> str:
    """Answer Meta's GET handshake: return ``challenge`` when ``mode`` is
    ``subscribe`` and ``token`` equals ``expected_token``, else raise
    :class:`WebhookVerificationError`."""
    if mode != "subscribe":
        raise WebhookVerificationError(f"hub.mode must be 'subscribe', got {mode!r}")
    if not expected_token:
        raise WebhookVerificationError("no verify token is configured")
    if token is None or not hmac.compare_digest(token.encode(), expected_token.encode()):
        raise WebhookVerificationError("hub.verify_token does not match the configured verify token")
    if not challenge:
        raise WebhookVerificationError("hub.challenge is missing")
    return challenge
