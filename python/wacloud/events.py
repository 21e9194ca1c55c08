"""Inbound event types: what :func:`wacloud.webhook.parse` turns Meta's webhook
bodies into. Every event keeps ``raw``, the JSON object it came from, so a
field this module does not model is still at hand. A parsed event makes each
field's value on first read (docs/api/webhooks.md)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

try:
    from enum import StrEnum
except ImportError:  # Python 3.10

    class StrEnum(str, enum.Enum):  # type: ignore[no-redef]
        def __str__(self) -> str:
            return str(self.value)


class EventType(StrEnum):
    MESSAGE = "message"
    STATUS = "status"
    ERROR = "error"
    TEMPLATE_STATUS = "template_status"
    FIELD_UPDATE = "field_update"
    INVALID = "invalid"
    USER_ID_UPDATE = "user_id_update"


class MessageStatus(StrEnum):
    """Meta's status strings. ``StatusUpdate.status`` stays a plain ``str`` so a
    status Meta adds later still arrives; compare it with these members."""

    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    DELETED = "deleted"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    code: int
    title: str
    message: str
    details: str  # error_data.details (older bodies: details beside title)
    href: str


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Media of an image, audio, video, document or sticker message; download it by ``id``."""

    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    url: str | None = None
    voice: bool | None = None  # audio recorded as a voice note
    animated: bool | None = None  # sticker


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class InteractiveReply:
    """A reply to an interactive message. ``type`` is Meta's: ``button_reply`` and
    ``list_reply`` fill ``id``/``title``(/``description``); ``nfm_reply`` (a Flow)
    fills ``response_json``, ``body`` and ``name``; ``call_permission_reply`` fills
    ``response``, ``response_source`` and ``expiration``. ``content`` is the
    kind's own object (``raw["interactive"][type]``) for every kind, newer ones too."""

    type: str
    id: str | None = None
    title: str | None = None
    description: str | None = None
    response_json: str | None = None
    body: str | None = None
    name: str | None = None
    response: str | None = None  # call_permission_reply: "accept" or "reject"
    response_source: str | None = None  # call_permission_reply, e.g. "user_action"
    expiration: datetime | None = None  # call_permission_reply: when the permission ends
    # Left out of ==: it repeats the fields above (and raw) for the kinds they cover.
    content: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def flow_response(self) -> dict[str, Any] | None:
        """An ``nfm_reply``'s ``response_json`` (what the user submitted in the Flow, with
        its ``flow_token``) as a dict; ``None`` for other kinds, or text that is not a JSON
        object (``response_json`` keeps it as sent)."""
        if self.type != "nfm_reply" or not self.response_json:
            return None
        try:
            parsed = json.loads(self.response_json)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    @property
    def flow_token(self) -> str | None:
        """The ``flow_token`` the Flow was sent with (in ``response_json``), if any."""
        token = (self.flow_response or {}).get("flow_token")
        return token if isinstance(token, str) else None


@dataclass(frozen=True, slots=True)
class ButtonReply:
    """A tap on a template's quick-reply button."""

    payload: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class Reaction:
    message_id: str  # the message reacted to
    emoji: str | None  # None: the reaction was removed


@dataclass(frozen=True, slots=True)
class MessageContext:
    message_id: str | None  # the message replied to
    from_wa_id: str | None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: dict[str, Any] | None = None  # catalog_id, product_retailer_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    event_type: EventType
    field: str  # the webhook field, e.g. "messages"
    waba_id: str  # entry[].id
    phone_number_id: str | None
    display_phone_number: str | None
    timestamp: datetime | None  # UTC-aware
    raw: dict[str, Any]  # the JSON object this event came from


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage(Event):
    """A message from a user (field ``messages``) or, with ``is_echo``, one the
    business sent from another client (field ``smb_message_echoes``)."""

    message_id: str
    from_wa_id: str | None
    type: str  # Meta's type string, kept as sent
    # The sender's business-scoped user id (BSUID): the message's from_user_id, else the
    # user_id of its contacts[] entry. Neither it nor from_wa_id: the sender is unknown.
    from_user_id: str | None = None
    from_parent_user_id: str | None = None  # the same for the parent BSUID (managed businesses)
    to_wa_id: str | None = None  # echoes: the user the message went to
    to_user_id: str | None = None  # echoes: the user's business-scoped user id
    to_parent_user_id: str | None = None
    group_id: str | None = None  # messages sent in a group
    contact_name: str | None = None
    contact: dict[str, Any] | None = None  # the value.contacts[] entry of the user
    edited_type: str | None = None  # edit: the type of the new content
    text: str | None = None
    media: MediaRef | None = None
    location: Location | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)  # shared contact cards
    interactive: InteractiveReply | None = None
    button: ButtonReply | None = None
    reaction: Reaction | None = None
    order: dict[str, Any] | None = None
    system: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None
    context: MessageContext | None = None
    original_message_id: str | None = None  # edit, revoke
    unsupported_type: str | None = None  # unsupported: the type Meta could not show
    errors: list[ErrorDetail] = field(default_factory=list)
    is_echo: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate(Event):
    message_id: str
    status: str  # see MessageStatus
    recipient_id: str | None  # None for a message sent to a business-scoped user id alone
    # The recipient's business-scoped user ids: the status's own, else its contacts[] entry's
    # (Meta spells the parent one parent_recipient_user_id).
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    recipient_type: str | None = None  # "group" for group messages
    recipient_participant_id: str | None = None
    contact: dict[str, Any] | None = None  # the value.contacts[] entry of the recipient
    conversation_id: str | None = None
    conversation_origin: str | None = None
    conversation_expiration: datetime | None = None
    pricing_category: str | None = None
    pricing_model: str | None = None
    pricing_type: str | None = None
    billable: bool | None = None
    errors: list[ErrorDetail] = field(default_factory=list)
    biz_opaque_callback_data: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookError(Event):
    """``value.errors``: Meta reports a problem with the change itself."""

    errors: list[ErrorDetail]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateStatusUpdate(Event):
    """Field ``message_template_status_update``."""

    template_id: str
    template_name: str
    language: str
    status: str  # value.event, e.g. APPROVED, REJECTED, PAUSED
    reason: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldUpdate(Event):
    """Any other field (account_update, calls, template quality, user_preferences,
    ...). ``value`` is the change's value, the same object as ``raw``."""

    value: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class UserIdUpdate(Event):
    """Field ``user_id_update``: a user's business-scoped user id changed from
    ``previous_user_id`` to ``user_id`` (one event per entry of the change). ``wa_id`` is
    the user's number when Meta may share it; ``timestamp`` is the entry's (else the
    webhook entry's ``time``)."""

    previous_user_id: str
    user_id: str
    previous_parent_user_id: str | None = None
    parent_user_id: str | None = None
    wa_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidItem(Event):
    """One message, status, echo or user id update the parser could not read; its
    neighbours were parsed."""

    kind: str  # "message", "status", "message_echo" or "user_id_update"
    path: str  # e.g. "entry[0].changes[0].value.messages[1].type"
    reason: str  # what WebhookPayloadError would have said
    item_id: str | None = None


# Events that webhook.parse returns make each field's value when it is first read: the binding
# puts its field descriptors on the event classes here, in place of the slots' own (same slots,
# same dataclasses), so the classes are the same before and after a first parse.
from . import _core  # noqa: E402  (needs the classes above)

_core.install_webhook_fields()

__all__ = [
    "ButtonReply",
    "ErrorDetail",
    "Event",
    "EventType",
    "FieldUpdate",
    "InboundMessage",
    "InteractiveReply",
    "InvalidItem",
    "Location",
    "MediaRef",
    "MessageContext",
    "MessageStatus",
    "Reaction",
    "StatusUpdate",
    "TemplateStatusUpdate",
    "UserIdUpdate",
    "WebhookError",
]
