"""Meta's Graph API error objects, as the Cloud API answers them.

Codes, titles and HTTP statuses follow Meta's Cloud API error-code reference.
The title goes into ``message`` as ``(#code) title``, the way Meta writes it;
``error_subcode`` is only sent where Meta still sends one (100/33 for unknown
objects, template-management subcodes)."""

from __future__ import annotations

import base64
import os
from typing import Any

# Meta writes the error-codes link of a failed status relative to its developers site.
ERROR_CODES_HREF = "/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (title, HTTP status, default details)
CATALOGUE: dict[int, tuple[str, int, str]] = {
    1: ("API Unknown", 400, "Invalid request or possible server error."),
    2: ("Service temporarily unavailable", 503, "Temporary due to downtime or due to being overloaded."),
    100: ("Invalid parameter", 400, "The request included one or more unsupported or misspelled parameters."),
    190: ("Invalid OAuth access token - Cannot parse access token", 401, ""),
    130429: ("Rate limit hit", 400, "Cloud API message throughput has been reached."),
    131000: ("Something went wrong", 500, "Message failed to send due to an unknown error."),
    131008: ("Required parameter is missing", 400, "The request is missing a required parameter."),
    131009: ("Parameter value is not valid", 400, "One or more parameter values are invalid."),
    131026: ("Message undeliverable", 400, "Message Undeliverable."),
    131047: (
        "Re-engagement message",
        400,
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
    ),
    131048: (
        "Spam rate limit hit",
        400,
        "Message failed to send because there are restrictions on how many messages can be sent from this "
        "phone number. This may be because too many previous messages were blocked or flagged as spam.",
    ),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        400,
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131051: ("Unsupported message type", 400, "Message type is not currently supported."),
    131053: ("Media upload error", 400, "Unable to upload the media used in the message."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        400,
        "Message failed to send because there were too many messages sent from this phone number "
        "to the same phone number in a short period of time.",
    ),
    132000: (
        "Number of parameters does not match the expected number of params",
        400,
        "The number of parameters provided does not match the expected number of parameters.",
    ),
    132001: (
        "Template name does not exist in the translation",
        404,
        "The template does not exist in the specified language or the template has not been approved.",
    ),
    132012: (
        "Parameter format does not match format in the created template",
        400,
        "Variable parameter values formatted incorrectly.",
    ),
    132015: ("Template is Paused", 400, "Template is paused due to low quality so it cannot be sent."),
    132016: ("Template is Disabled", 400, "Template has been paused too many times due to low quality."),
}

RETRIABLE_CODES = frozenset({1, 2, 130429, 131000, 131056})


def fbtrace_id() -> str:
    """An opaque trace id shaped like Meta's (base64url, 23 chars)."""
    return base64.urlsafe_b64encode(os.urandom(17)).decode()[:23]


class GraphError(Exception):
    """Raised by request handlers; the server turns it into Meta's error response."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        http_status: int | None = None,
        extra: dict[str, Any] | None = None,
        with_error_data: bool = True,
    ) -> None:
        title, status, default_details = CATALOGUE.get(code, ("Unknown error", 400, ""))
        self.code = code
        self.title = title
        self.message = message if message is not None else f"(#{code}) {title}"
        self.details = default_details if details is None else details
        self.subcode = subcode
        self.error_type = error_type
        self.http_status = http_status or status
        self.extra = extra or {}
        self.with_error_data = with_error_data
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error.update(self.extra)
        if self.with_error_data:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.code in RETRIABLE_CODES:
            error["is_transient"] = True
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}

    def headers(self) -> dict[str, str]:
        if self.code == 190:
            # Graph announces OAuth failures in WWW-Authenticate too.
            return {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'}
        return {}


def webhook_error(code: int, details: str | None = None) -> dict[str, Any]:
    """The error object inside a ``failed`` status webhook (no HTTP status there)."""
    title, _status, default_details = CATALOGUE.get(code, ("Unknown error", 400, ""))
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": default_details if details is None else details},
        "href": ERROR_CODES_HREF,
    }


def unknown_object(object_id: str, method: str) -> GraphError:
    """Graph's answer for an id that does not exist or is not reachable with this token."""
    return GraphError(
        100,
        message=(
            f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation. "
            "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        subcode=33,
        error_type="GraphMethodException",
        with_error_data=False,
    )


def nonexisting_field(name: str, node_type: str) -> GraphError:
    return GraphError(
        100,
        message=f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})",
        with_error_data=False,
    )


def missing(param: str) -> GraphError:
    return GraphError(131008, f"The parameter {param} is required.")


def invalid(details: str) -> GraphError:
    return GraphError(131009, details)


def invalid_parameter(details: str) -> GraphError:
    return GraphError(100, details)
