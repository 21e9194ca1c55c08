"""Webhook bodies -> typed events. The C++ core parses and validates the JSON
(Boost.JSON) and the binding makes the :mod:`wacloud.events` dataclasses, whose
fields it turns into Python objects on first read."""

from __future__ import annotations

from collections.abc import Sequence

from . import _core
from .errors import WebhookPayloadError
from .events import Event

BytesLike = bytes | bytearray | str

#: Bodies nesting deeper than this are refused (Boost.JSON's default limit;
#: the core's kWebhookMaxDepth, which the tests check this matches).
MAX_DEPTH = 32

#: Bodies the core parses per GIL release in parse_many: few enough that their
#: parsed trees are still in the CPU cache when their events are built.
_CHUNK = 64


def parse(body: BytesLike) -> list[Event]:
    """The events of one webhook body, in payload order.

    Raises :class:`~wacloud.WebhookPayloadError` (``path`` names the offending
    field, ``"$"`` the body as a whole) when the body is not JSON or not shaped
    as Meta documents it. Unknown message types and fields are returned as
    events carrying their raw JSON, never dropped."""
    return _core.parse_webhook(body)


def parse_many(
    bodies: Sequence[BytesLike], *, return_exceptions: bool = False
) -> list[list[Event] | WebhookPayloadError]:
    """Parse many bodies in one call to the core, with the GIL released while
    the JSON is parsed. Returns one event list per body, in order.

    A bad body raises its :class:`~wacloud.WebhookPayloadError` (the first one
    in order) unless ``return_exceptions`` is true, in which case the error
    takes that body's place in the result and the others are still parsed."""
    return _core.parse_webhooks(bodies, return_exceptions, _CHUNK)


__all__ = ["MAX_DEPTH", "parse", "parse_many"]
