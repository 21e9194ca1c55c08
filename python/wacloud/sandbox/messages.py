"""Validation of ``POST /{phone-number-id}/messages`` bodies, type by type.

Limits are Meta's documented ones (text 4096 characters, captions 1024, at most
3 reply buttons with titles of 20, list rows of 24/72, ...). Missing fields are
answered with 131008, bad values with 131009, unknown parameters with 100."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .graph_errors import GraphError, invalid, invalid_parameter, missing

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
MESSAGE_TYPES = (
    "text",
    *MEDIA_TYPES,
    "location",
    "contacts",
    "reaction",
    "template",
    "interactive",
)
INTERACTIVE_TYPES = (
    "button",
    "list",
    "cta_url",
    "flow",
    "location_request_message",
    "product",
    "product_list",
    "catalog_message",
    "address_message",
    "call_permission_request",
)
CAPTIONED = ("image", "video", "document")
# MIME types Meta accepts per media message type.
ACCEPTED_MIME = {
    "image": ("image/jpeg", "image/png"),
    "audio": ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"),
    "video": ("video/mp4", "video/3gpp"),
    "sticker": ("image/webp",),
    "document": (
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
}
_PHONE_DECORATION = re.compile(r"[\s\-().+]")
# A business-scoped user id: a two-letter country code, a period and up to 128 letters and
# digits ("US.13491208655302741918"); a parent id adds "ENT." (sandbox/users.py).
USER_ID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")

MediaLookup = Callable[[str], "str | None"]  # media id -> MIME type, None when unknown


@dataclass
class OutboundMessage:
    """What the rest of the sandbox needs to know about an accepted send."""

    to: str
    wa_id: str
    type: str
    payload: dict[str, Any]
    template_name: str | None = None
    template_language: str | None = None
    template_components: list[Any] = field(default_factory=list)
    context_id: str | None = None
    callback_data: str | None = None
    user_id: str | None = None  # sent by business-scoped user id (``recipient``)
    unknown_user: bool = False  # ... that nobody holds now: the message fails with 131026

    @property
    def free_form(self) -> bool:
        return self.type != "template"


def check_user_id(value: Any) -> str:
    """The ``recipient`` of a send (a business-scoped user id), or Meta's code-100 error."""
    if not isinstance(value, str) or not USER_ID.fullmatch(value):
        raise invalid_parameter(
            f"Param recipient ({value!r}) must be a business-scoped user id, such as US.13491208655302741918."
        )
    return value


def normalize_recipient(to: Any) -> str:
    if not isinstance(to, str) or not to.strip():
        raise invalid_parameter("Param to must be a non-empty string.")
    digits = to if to.isdigit() else _PHONE_DECORATION.sub("", to)  # most come bare
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise invalid(f"Param to ({to!r}) is not a valid WhatsApp phone number.")
    return digits


def _object(payload: dict[str, Any], key: str, required_hint: str) -> dict[str, Any]:
    value = payload.get(key)
    if value is None:
        raise missing(required_hint)
    if not isinstance(value, dict):
        raise invalid(f"Param {key} must be a JSON object.")
    return value


def _text(obj: dict[str, Any], key: str, where: str, limit: int, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise missing(f"{where}['{key}']")
        return None
    if not isinstance(value, str):
        raise invalid(f"Param {where}['{key}'] must be a string.")
    if len(value) > limit:
        raise invalid(f"Param {where}['{key}'] must be at most {limit} characters long.")
    return value


def _link(value: Any, where: str) -> None:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise invalid(f"Param {where} must be a valid http or https URL.")


def _media(obj: dict[str, Any], kind: str, where: str, lookup: MediaLookup) -> None:
    media_id, link = obj.get("id"), obj.get("link")
    if media_id is None and link is None:
        raise missing(f"{where}['id'] or {where}['link']")
    if media_id is not None and link is not None:
        raise invalid(f"Param {where} must have either 'id' or 'link', not both.")
    if media_id is not None:
        mime = lookup(str(media_id))
        if mime is None:
            raise invalid(f"Invalid media id: {media_id} does not exist or was deleted.")
        if kind in ACCEPTED_MIME and mime.split(";")[0] not in ACCEPTED_MIME[kind]:
            raise invalid(
                f"Media {media_id} has MIME type {mime}, which is not accepted for {kind} messages."
            )
    else:
        _link(link, f"{where}['link']")
    if kind in CAPTIONED:
        _text(obj, "caption", where, 1024, required=False)
    if kind == "document":
        _text(obj, "filename", where, 240, required=False)


def _location(obj: dict[str, Any]) -> None:
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = obj.get(key)
        if value is None:
            raise missing(f"location['{key}']")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise invalid(f"Param location['{key}'] must be a number.") from None
        if not -bound <= number <= bound:
            raise invalid(f"Param location['{key}'] must be between -{bound} and {bound}.")
    _text(obj, "name", "location", 1000, required=False)
    _text(obj, "address", "location", 1000, required=False)


MAX_CONTACTS = 5  # contact cards per contacts message


def _contacts(value: Any) -> None:
    if value is None:
        raise missing("contacts")
    if not isinstance(value, list) or not value:
        raise invalid("Param contacts must be a non-empty array.")
    if len(value) > MAX_CONTACTS:
        raise invalid(f"Param contacts must have at most {MAX_CONTACTS} contacts.")
    for index, contact in enumerate(value):
        where = f"contacts[{index}]"
        if not isinstance(contact, dict) or not isinstance(contact.get("name"), dict):
            raise missing(f"{where}['name']")
        _text(contact["name"], "formatted_name", f"{where}['name']", 1000)
        phones = contact.get("phones", [])
        if not isinstance(phones, list) or not all(isinstance(p, dict) for p in phones):
            raise invalid(f"Param {where}['phones'] must be an array of objects.")


def _interactive(obj: dict[str, Any], lookup: MediaLookup) -> None:
    kind = obj.get("type")
    if kind is None:
        raise missing("interactive['type']")
    if kind not in INTERACTIVE_TYPES:
        raise invalid(f"Param interactive['type'] must be one of {{{', '.join(INTERACTIVE_TYPES)}}}.")
    action = obj.get("action")
    if kind != "product" or action is None:
        if not isinstance(action, dict):
            raise missing("interactive['action']")
    # A single product takes an optional body and no header; a product list needs both.
    body_optional = kind == "product"
    body = obj.get("body")
    if body is None and not body_optional:
        raise missing("interactive['body']")
    if body is not None:
        if not isinstance(body, dict):
            raise invalid("Param interactive['body'] must be a JSON object.")
        _text(body, "text", "interactive['body']", 4096 if kind == "list" else 1024)
    footer = obj.get("footer")
    if footer is not None:
        if not isinstance(footer, dict):
            raise invalid("Param interactive['footer'] must be a JSON object.")
        _text(footer, "text", "interactive['footer']", 60)
    header = obj.get("header")
    if header is None and kind == "product_list":
        raise missing("interactive['header']")
    if header is not None and kind == "product":
        raise invalid("Param interactive['header'] is not allowed for product messages.")
    if header is not None and kind in ("list", "product_list"):
        if not isinstance(header, dict) or header.get("type") != "text":
            raise invalid(f"Param interactive['header']['type'] must be 'text' for {kind} messages.")
    if header is not None:
        if not isinstance(header, dict) or header.get("type") not in ("text", "image", "video", "document"):
            raise invalid(
                "Param interactive['header']['type'] must be one of {text, image, video, document}."
            )
        if header["type"] == "text":
            _text(header, "text", "interactive['header']", 60)
        else:
            _media(
                _object(header, header["type"], f"interactive['header']['{header['type']}']"),
                header["type"],
                f"interactive['header']['{header['type']}']",
                lookup,
            )
    check = _ACTIONS.get(kind)
    if check is not None:
        check(action)


def _buttons(action: dict[str, Any]) -> None:
    buttons = action.get("buttons")
    if buttons is None:
        raise missing("interactive['action']['buttons']")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise invalid("Param interactive['action']['buttons'] must have between 1 and 3 buttons.")
    ids, titles = set(), set()
    for index, button in enumerate(buttons):
        where = f"interactive['action']['buttons'][{index}]"
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise invalid(f"Param {where}['type'] must be 'reply'.")
        reply = button.get("reply")
        if not isinstance(reply, dict):
            raise missing(f"{where}['reply']")
        ids.add(_text(reply, "id", f"{where}['reply']", 256))
        title = _text(reply, "title", f"{where}['reply']", 20)
        if title in titles:
            raise invalid("Button titles must be unique.")
        titles.add(title)
    if len(ids) != len(buttons):
        raise invalid("Button ids must be unique.")


def _list(action: dict[str, Any]) -> None:
    _text(action, "button", "interactive['action']", 20)
    sections = action.get("sections")
    if sections is None:
        raise missing("interactive['action']['sections']")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise invalid("Param interactive['action']['sections'] must have between 1 and 10 sections.")
    row_ids: set[Any] = set()
    total = 0
    for s_index, section in enumerate(sections):
        where = f"interactive['action']['sections'][{s_index}]"
        if not isinstance(section, dict):
            raise invalid(f"Param {where} must be a JSON object.")
        _text(section, "title", where, 24, required=len(sections) > 1)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise missing(f"{where}['rows']")
        for r_index, row in enumerate(rows):
            row_where = f"{where}['rows'][{r_index}]"
            if not isinstance(row, dict):
                raise invalid(f"Param {row_where} must be a JSON object.")
            row_id = _text(row, "id", row_where, 200)
            if row_id in row_ids:
                raise invalid("Row ids must be unique across sections.")
            row_ids.add(row_id)
            _text(row, "title", row_where, 24)
            _text(row, "description", row_where, 72, required=False)
            total += 1
    if total > 10:
        raise invalid("A list message can have at most 10 rows in total.")


def _named_action(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def check(action: dict[str, Any]) -> dict[str, Any]:
        if action.get("name") != name:
            raise invalid(f"Param interactive['action']['name'] must be '{name}'.")
        parameters = action.get("parameters", {})
        if not isinstance(parameters, dict):
            raise invalid("Param interactive['action']['parameters'] must be a JSON object.")
        return parameters

    return check


def _cta_url(action: dict[str, Any]) -> None:
    parameters = _named_action("cta_url")(action)
    _text(parameters, "display_text", "interactive['action']['parameters']", 20)
    if "url" not in parameters:
        raise missing("interactive['action']['parameters']['url']")
    _link(parameters["url"], "interactive['action']['parameters']['url']")


def _flow(action: dict[str, Any]) -> None:
    parameters = _named_action("flow")(action)
    where = "interactive['action']['parameters']"
    if str(parameters.get("flow_message_version", "")) != "3":
        raise invalid(f"Param {where}['flow_message_version'] must be '3'.")
    if not parameters.get("flow_id") and not parameters.get("flow_name"):
        raise missing(f"{where}['flow_id'] or {where}['flow_name']")
    _text(parameters, "flow_cta", where, 30)
    if parameters.get("flow_action", "navigate") not in ("navigate", "data_exchange"):
        raise invalid(f"Param {where}['flow_action'] must be 'navigate' or 'data_exchange'.")


def _product(action: dict[str, Any]) -> None:
    for key in ("catalog_id", "product_retailer_id"):
        if not action.get(key):
            raise missing(f"interactive['action']['{key}']")


def _product_list(action: dict[str, Any]) -> None:
    """Meta's multi-product message: 1-10 sections (titled when more than one), 30 products in all."""
    if not action.get("catalog_id"):
        raise missing("interactive['action']['catalog_id']")
    sections = action.get("sections")
    if sections is None:
        raise missing("interactive['action']['sections']")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise invalid("Param interactive['action']['sections'] must have between 1 and 10 sections.")
    total = 0
    for index, section in enumerate(sections):
        where = f"interactive['action']['sections'][{index}]"
        if not isinstance(section, dict):
            raise invalid(f"Param {where} must be a JSON object.")
        _text(section, "title", where, 24, required=len(sections) > 1)
        items = section.get("product_items")
        if not isinstance(items, list) or not items:
            raise missing(f"{where}['product_items']")
        for number, item in enumerate(items):
            if not isinstance(item, dict) or not item.get("product_retailer_id"):
                raise missing(f"{where}['product_items'][{number}]['product_retailer_id']")
        total += len(items)
    if total > 30:
        raise invalid("A product list message can have at most 30 products in total.")


_ACTIONS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "button": _buttons,
    "list": _list,
    "cta_url": _cta_url,
    "flow": _flow,
    "location_request_message": _named_action("send_location"),
    "product": _product,
    "product_list": _product_list,
}


def parse_send(payload: dict[str, Any], lookup: MediaLookup) -> OutboundMessage:
    """Check a send request; raise :class:`GraphError` exactly where Meta would refuse it."""
    recipient_type = payload.get("recipient_type", "individual")
    if recipient_type not in ("individual", "group"):
        raise invalid_parameter("Param recipient_type must be one of {individual, group}.")
    if payload.get("to") is None and payload.get("recipient") is None:
        raise GraphError(100, "The parameter to is required.", message="(#100) The parameter to is required.")
    # A phone number in "to" or a business-scoped user id in "recipient"; "to" wins when both.
    user_id = None if payload.get("to") is not None else check_user_id(payload["recipient"])
    wa_id = normalize_recipient(payload["to"]) if user_id is None else ""  # users.address_outbound
    kind = payload.get("type", "text")  # Graph defaults a missing type to text
    if kind not in MESSAGE_TYPES:
        raise invalid_parameter(f"Param type must be one of {{{', '.join(MESSAGE_TYPES)}}} - got {kind!r}.")
    to = payload["to"] if user_id is None else user_id
    message = OutboundMessage(to=to, wa_id=wa_id, type=kind, payload=payload, user_id=user_id)
    if kind == "text":
        _text(_object(payload, "text", "text['body']"), "body", "text", 4096)
    elif kind in MEDIA_TYPES:
        _media(_object(payload, kind, f"{kind}['id'] or {kind}['link']"), kind, kind, lookup)
    elif kind == "location":
        _location(_object(payload, "location", "location['latitude']"))
    elif kind == "contacts":
        _contacts(payload.get("contacts"))
    elif kind == "reaction":
        reaction = _object(payload, "reaction", "reaction['message_id']")
        _text(reaction, "message_id", "reaction", 256)
        if not isinstance(reaction.get("emoji"), str):
            raise missing("reaction['emoji']")
    elif kind == "template":
        template = _object(payload, "template", "template['name']")
        message.template_name = _text(template, "name", "template", 512)
        language = template.get("language")
        if not isinstance(language, dict) or not language.get("code"):
            raise missing("template['language']['code']")
        message.template_language = str(language["code"])
        components = template.get("components", [])
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise invalid("Param template['components'] must be an array of objects.")
        message.template_components = components
    else:
        _interactive(_object(payload, "interactive", "interactive['type']"), lookup)
    callback_data = payload.get("biz_opaque_callback_data")
    if callback_data is not None:
        # Echoed in every status webhook of the message; Meta caps it at 512 characters.
        if not isinstance(callback_data, str) or len(callback_data) > 512:
            raise invalid("Param biz_opaque_callback_data must be a string of at most 512 characters.")
        message.callback_data = callback_data
    context = payload.get("context")
    if context is not None:
        if not isinstance(context, dict) or not isinstance(context.get("message_id"), str):
            raise missing("context['message_id']")
        message.context_id = context["message_id"]
    return message


def parse_mark_read(payload: dict[str, Any]) -> str:
    """Check a mark-as-read request; return the message id."""
    if payload.get("status") != "read":
        raise invalid_parameter("Param status must be 'read'.")
    message_id = payload.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise GraphError(
            100,
            "The parameter message_id is required.",
            message="(#100) The parameter message_id is required.",
        )
    indicator = payload.get("typing_indicator")
    if indicator is not None and (not isinstance(indicator, dict) or indicator.get("type") != "text"):
        raise invalid_parameter("Param typing_indicator['type'] must be 'text'.")
    return message_id
