"""The exception tree. ``WacloudError`` is the root; each error also subclasses
the builtin it means, so ``except ValueError`` keeps working for callers that
do not know about wacloud."""

from __future__ import annotations

import json
from typing import Any


class WacloudError(Exception):
    """Root of every error raised by wacloud."""


class InvalidPhoneNumber(WacloudError, ValueError):
    """A phone number that cannot be parsed or is not a possible number.

    ``reason`` is one of ``not_a_number``, ``invalid_country_code``,
    ``too_short``, ``too_long``, ``invalid_number``."""

    def __init__(self, message: str, reason: str = "invalid_number", input: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.input = input


class WebhookPayloadError(WacloudError, ValueError):
    """A webhook body that is not JSON or not shaped as Meta documents it.
    ``path`` names the offending field, e.g. ``entry[0].changes[0].value``."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class WebhookVerificationError(WacloudError, ValueError):
    """Meta's subscription handshake did not match (wrong mode or verify token)."""


class FlowDecryptionError(WacloudError, ValueError):
    """A WhatsApp Flows endpoint request (or answer) that does not decrypt: not the shape
    Meta sends, another key, or altered data. Endpoints answer it with HTTP 421."""


class MediaRejected(WacloudError, ValueError):
    """Media that Meta would refuse: unaccepted MIME type, too large, empty."""


class GraphAPIError(WacloudError):
    """A failed Graph API call, with Meta's error object unpacked.

    ``retriable`` says whether sending the same request again may succeed."""

    def __init__(
        self,
        message: str,
        *,
        code: int = 0,
        subcode: int = 0,
        http_status: int = 0,
        type: str = "",
        details: str = "",
        fbtrace_id: str = "",
        retriable: bool = False,
        retry_after: float | None = None,
        error_user_title: str = "",
        error_user_msg: str = "",
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.type = type
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.retriable = retriable
        self.retry_after = retry_after
        # Meta's explanation meant for people; template errors say nothing else useful.
        self.error_user_title = error_user_title
        self.error_user_msg = error_user_msg
        # What a partly done bulk call did (block_users' added and failed users), else None.
        self.result = result

    def __str__(self) -> str:
        if self.error_user_msg and self.error_user_msg not in self.message:
            title = f"{self.error_user_title}: " if self.error_user_title else ""
            return f"{self.message} ({title}{self.error_user_msg})"
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code}, subcode={self.subcode}, "
            f"http_status={self.http_status}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields must survive pickling (Celery ships errors between processes).
        return (_rebuild_graph_error, (type(self), self.message, self.__dict__.copy()))


def _rebuild_graph_error(cls: type[GraphAPIError], message: str, state: dict[str, Any]) -> GraphAPIError:
    error = cls(message)
    error.__dict__.update(state)
    return error


class AuthenticationError(GraphAPIError):
    """Invalid or expired access token (codes 190, 0)."""


class PermissionDenied(GraphAPIError):
    """The token lacks a permission (codes 10, 200-299), or the business account or number
    cannot send: 33 (number deleted), 131031 (locked), 131037 (display name not approved),
    131042 (payment issue), 133010 (number not registered), 130403, 368."""


class RateLimited(GraphAPIError):
    """Throttled by Meta (4, 80007, 130429, 131048, 131056); see ``retry_after``.
    131048 (spam rate limit: the number's quality caps it) is not ``retriable``."""


class ReEngagementRequired(GraphAPIError):
    """Free-form message outside the 24-hour customer service window (131047)."""


class RecipientError(GraphAPIError):
    """The recipient cannot receive the message (131026, 131049, 131050, ...)."""


class TemplateError(GraphAPIError):
    """Template missing, paused or with mismatched parameters (132xxx)."""


class MediaError(GraphAPIError):
    """Media could not be uploaded, fetched or checked (131052, 131053)."""


class InvalidParameter(GraphAPIError, ValueError):
    """A request Meta (or the local payload checks) refuses as invalid (100, 131008, 131009,
    131051 unsupported message type)."""


class TransientError(GraphAPIError):
    """A temporary failure worth retrying (1, 2, 131000, 131016, 5xx, timeouts)."""


class FlowError(GraphAPIError):
    """A Flow Meta refuses to change in its state (139001 update, 139002 publish, 139003
    deprecate, 139004 delete: e.g. publishing a Flow with validation errors, deleting a
    published one), or a Flow blocked for integrity (139000)."""


class DeliveryUnknown(GraphAPIError):
    """The request may have reached Meta but no answer came back. Meta has no
    idempotency key, so it is not resent automatically."""


_KIND_TO_CLASS: dict[str, type[GraphAPIError]] = {
    "other": GraphAPIError,
    "authentication": AuthenticationError,
    "permission_denied": PermissionDenied,
    "rate_limited": RateLimited,
    "re_engagement": ReEngagementRequired,
    "recipient": RecipientError,
    "template": TemplateError,
    "media": MediaError,
    "invalid_parameter": InvalidParameter,
    "transient": TransientError,
    "delivery_unknown": DeliveryUnknown,
    "flow": FlowError,
}


def graph_error_from_core(kind: str, message: str, **fields: Any) -> GraphAPIError:
    """Build the exception for a failure the C++ core classified as ``kind``."""
    result = fields.pop("result", "")
    if result:
        fields["result"] = json.loads(result)
    return _KIND_TO_CLASS.get(kind, GraphAPIError)(message, **fields)


__all__ = [
    name for name, value in globals().items() if isinstance(value, type) and issubclass(value, Exception)
]
