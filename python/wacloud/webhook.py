"""Webhook bodies -> typed events. The C++ core parses and validates the JSON
(Boost.JSON); this module turns its field dicts into :mod:`wacloud.events`
dataclasses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from . import _core
from .errors import WebhookPayloadError
from .events import (
    ButtonReply,
    ErrorDetail,
    Event,
    EventType,
    FieldUpdate,
    InboundMessage,
    InteractiveReply,
    Location,
    MediaRef,
    MessageContext,
    Reaction,
    StatusUpdate,
    TemplateStatusUpdate,
    WebhookError,
)

BytesLike = bytes | bytearray | str

#: Bodies nesting deeper than this are refused (Boost.JSON's default limit;
#: the core's kWebhookMaxDepth, which the tests check this matches).
MAX_DEPTH = 32

#: Bodies handed to the core per call in parse_many (each call releases the GIL).
_CHUNK = 256

_UTC = timezone.utc
_from_timestamp = datetime.fromtimestamp


def _errors(items: list[dict[str, Any]]) -> list[ErrorDetail]:
    return [ErrorDetail(**item) for item in items]


def _message(fields: dict[str, Any]) -> InboundMessage:
    # Only the nested values that are present need wrapping.
    if fields["media"] is not None:
        fields["media"] = MediaRef(**fields["media"])
    if fields["location"] is not None:
        fields["location"] = Location(**fields["location"])
    if fields["interactive"] is not None:
        fields["interactive"] = InteractiveReply(**fields["interactive"])
    if fields["button"] is not None:
        fields["button"] = ButtonReply(**fields["button"])
    if fields["reaction"] is not None:
        fields["reaction"] = Reaction(**fields["reaction"])
    if fields["context"] is not None:
        fields["context"] = MessageContext(**fields["context"])
    if fields["errors"]:
        fields["errors"] = _errors(fields["errors"])
    return InboundMessage(**fields)


def _status(fields: dict[str, Any]) -> StatusUpdate:
    if fields["conversation_expiration"] is not None:
        fields["conversation_expiration"] = _from_timestamp(fields["conversation_expiration"], _UTC)
    if fields["errors"]:
        fields["errors"] = _errors(fields["errors"])
    return StatusUpdate(**fields)


def _error(fields: dict[str, Any]) -> WebhookError:
    fields["errors"] = _errors(fields["errors"])
    return WebhookError(**fields)


_BUILDERS: dict[str, tuple[EventType, Callable[[dict[str, Any]], Event]]] = {
    "message": (EventType.MESSAGE, _message),
    "status": (EventType.STATUS, _status),
    "error": (EventType.ERROR, _error),
    "template_status": (EventType.TEMPLATE_STATUS, lambda fields: TemplateStatusUpdate(**fields)),
    "field_update": (EventType.FIELD_UPDATE, lambda fields: FieldUpdate(**fields)),
}


def _events(items: list[dict[str, Any]]) -> list[Event]:
    events = []
    for fields in items:
        event_type, build = _BUILDERS[fields["event_type"]]
        fields["event_type"] = event_type
        if fields["timestamp"] is not None:
            fields["timestamp"] = _from_timestamp(fields["timestamp"], _UTC)
        events.append(build(fields))
    return events


def parse(body: BytesLike) -> list[Event]:
    """The events of one webhook body, in payload order.

    Raises :class:`~wacloud.WebhookPayloadError` (``path`` names the offending
    field, ``"$"`` the body as a whole) when the body is not JSON or not shaped
    as Meta documents it. Unknown message types and fields are returned as
    events carrying their raw JSON, never dropped."""
    return _events(_core.parse_webhook(body))


def parse_many(
    bodies: Sequence[BytesLike], *, return_exceptions: bool = False
) -> list[list[Event] | WebhookPayloadError]:
    """Parse many bodies in one call to the core, with the GIL released while
    the JSON is parsed. Returns one event list per body, in order.

    A bad body raises its :class:`~wacloud.WebhookPayloadError` (the first one
    in order) unless ``return_exceptions`` is true, in which case the error
    takes that body's place in the result and the others are still parsed."""
    results: list[list[Event] | WebhookPayloadError] = []
    # In chunks: parsing a whole large batch before building any event kept every
    # intermediate dict alive at once, which ran at half the speed of parse().
    for start in range(0, len(bodies), _CHUNK):
        for item in _core.parse_webhooks(bodies[start : start + _CHUNK]):
            if isinstance(item, WebhookPayloadError):
                if not return_exceptions:
                    raise item
                results.append(item)
            else:
                results.append(_events(item))
    return results


__all__ = ["MAX_DEPTH", "parse", "parse_many"]
