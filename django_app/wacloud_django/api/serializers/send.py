"""The send body of seeds 000 and 004, shaped into ``send_message`` arguments.

000: ``{"to", "type": "text|template|image|...|media|interactive", "content": {...}}``
(text ``body``; template ``name`` + ``language.code`` + ``components``; media
``media_id``/``link`` + ``caption``; interactive: Meta's interactive object).
004: ``{"to", "type", "content": {"text"} | {"templateName", "languageCode",
"components"}, "ticketId"}``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from wacloud import BusinessScopedUser
from wacloud.errors import InvalidParameter

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
TYPES = ("text", "template", "media", "interactive", *MEDIA_TYPES, "location", "contacts", "reaction")


class SendSerializer(serializers.Serializer):
    to = serializers.CharField(
        required=False, max_length=64, help_text="The recipient's number, e.g. +5511999999999."
    )
    recipient = serializers.CharField(
        required=False,
        max_length=140,
        help_text="Instead of to: a user's business-scoped user id, e.g. US.13491208655302741918.",
    )
    type = serializers.ChoiceField(choices=TYPES, default="text")
    content = serializers.JSONField(help_text="The message, by type (docs/api.md).")
    account = serializers.CharField(
        required=False,
        help_text="Phone number id of the sending account (default: the organization's only one).",
    )
    ticketId = serializers.CharField(required=False, max_length=64, help_text="Your reference (seed 004).")
    reference = serializers.CharField(
        required=False, max_length=64, help_text="Your reference for the message."
    )
    reply_to = serializers.CharField(required=False, max_length=255, help_text="wamid of the message quoted.")
    purpose = serializers.ChoiceField(
        choices=["whatsapp_messaging", "marketing"],
        default="whatsapp_messaging",
        help_text="The consent the message needs (a MARKETING template always needs marketing).",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("to" in data) == ("recipient" in data):
            raise serializers.ValidationError({"to": "give exactly one of to (a number) and recipient"})
        content = data["content"]
        if isinstance(content, str) and data["type"] == "text":
            content = {"body": content}
        if not isinstance(content, dict):
            raise serializers.ValidationError({"content": "must be an object"})
        kind = data["type"]
        try:
            shaped = _SHAPERS.get(kind, _passthrough)(kind, dict(content))
        except KeyError as missing:
            raise serializers.ValidationError(
                {"content": f"{missing.args[0]} is required for {kind}"}
            ) from None
        shaped["reference"] = str(data.get("ticketId") or data.get("reference") or "")
        shaped["to"] = data["to"] if "to" in data else _business_scoped_user(data["recipient"])
        shaped["account"] = data.get("account")
        shaped["reply_to"] = data.get("reply_to")
        shaped["purpose"] = data["purpose"]
        return shaped


def _business_scoped_user(user_id: str) -> BusinessScopedUser:
    try:
        return BusinessScopedUser(user_id)
    except InvalidParameter as error:
        raise serializers.ValidationError({"recipient": str(error).split(": ", 1)[-1]}) from None


def _text(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    body = content.get("body", content.get("text"))
    if isinstance(body, dict):  # Meta's own shape: {"text": {"body": ...}}
        body = body.get("body")
    if not isinstance(body, str):
        raise KeyError("content.body (or content.text)")
    fields = {"body": body}
    if "preview_url" in content:
        fields["preview_url"] = bool(content["preview_url"])
    return {"message_type": "text", "content": fields}


def _template(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    name = content.get("name", content.get("templateName"))
    language = content.get("language", content.get("languageCode", content.get("language_code")))
    if isinstance(language, dict):
        language = language.get("code")
    if not name:
        raise KeyError("content.name (or content.templateName)")
    if not language:
        raise KeyError("content.language.code (or content.languageCode)")
    return {
        "message_type": "template",
        "template_name": name,
        "template_language": language,
        "template_components": content.get("components"),
        "content": None,
    }


def _media(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    if kind == "media":
        kind = content.pop("media_type", None) or content.pop("type", None)
        if kind not in MEDIA_TYPES:
            raise KeyError(f"content.media_type (one of {', '.join(MEDIA_TYPES)})")
    media = {key: content.pop(key) for key in ("media_id", "id", "link", "url") if content.get(key)}
    if "url" in media:
        media["link"] = media.pop("url")
    if "id" in media:
        media["media_id"] = media.pop("id")
    if not media:
        raise KeyError("content.media_id or content.link")
    return {"message_type": kind, "content": content, "media": media}


def _interactive(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    """Meta's interactive object -> our Buttons / ListMessage / CtaUrl / Flow / Product /
    ProductList fields."""
    variant = content.get("type")
    body = (content.get("body") or {}).get("text")
    if not isinstance(body, str) and not (variant == "product" and body is None):  # optional there
        raise KeyError("content.body.text")
    footer = (content.get("footer") or {}).get("text")
    header = content.get("header")
    header_text = header.get("text") if isinstance(header, dict) and header.get("type") == "text" else None
    action = content.get("action") or {}
    common = {**({"body": body} if body is not None else {}), **({"footer": footer} if footer else {})}
    if variant == "button":
        buttons = [
            {"id": item["reply"]["id"], "title": item["reply"]["title"]}
            for item in action.get("buttons") or []
            if isinstance(item, dict) and isinstance(item.get("reply"), dict)
        ]
        if not buttons:
            raise KeyError("content.action.buttons")
        header_value = header_text or (header if isinstance(header, dict) else None)
        return {
            "message_type": "buttons",
            "content": {**common, "buttons": buttons, **({"header": header_value} if header_value else {})},
        }
    if variant == "list":
        if not action.get("sections") or not action.get("button"):
            raise KeyError("content.action.button and content.action.sections")
        extra = {"header": header_text} if header_text else {}
        return {
            "message_type": "list",
            "content": {**common, "button": action["button"], "sections": action["sections"], **extra},
        }
    if variant == "cta_url":
        parameters = action.get("parameters") or {}
        if not parameters.get("url") or not parameters.get("display_text"):
            raise KeyError("content.action.parameters.url and .display_text")
        extra = {"header": header_text} if header_text else {}
        return {
            "message_type": "cta_url",
            "content": {
                **common,
                "url": parameters["url"],
                "display_text": parameters["display_text"],
                **extra,
            },
        }
    if variant == "flow":
        parameters = action.get("parameters") or {}
        if not parameters.get("flow_cta") or not (parameters.get("flow_id") or parameters.get("flow_name")):
            raise KeyError("content.action.parameters.flow_cta and .flow_id (or .flow_name)")
        opening = parameters.get("flow_action_payload") or {}
        chosen = ("flow_id", "flow_name", "flow_token", "flow_action", "mode")
        fields = {key: parameters[key] for key in chosen if parameters.get(key)}
        fields.update({key: opening[key] for key in ("screen", "data") if key in opening})
        extra = {"header": header_text} if header_text else {}
        return {
            "message_type": "flow",
            "content": {**common, "flow_cta": parameters["flow_cta"], **fields, **extra},
        }
    if variant == "product":
        if not action.get("catalog_id") or not action.get("product_retailer_id"):
            raise KeyError("content.action.catalog_id and content.action.product_retailer_id")
        chosen = ("catalog_id", "product_retailer_id")
        return {"message_type": "product", "content": {**common, **{key: action[key] for key in chosen}}}
    if variant == "product_list":
        if not action.get("catalog_id") or not action.get("sections") or not header_text:
            raise KeyError("content.header.text, content.action.catalog_id and content.action.sections")
        return {
            "message_type": "product_list",
            "content": {**common, "header": header_text, "catalog_id": action["catalog_id"],
                        "sections": [_product_section(section) for section in action["sections"]]},
        }  # fmt: skip
    raise KeyError("content.type (button, list, cta_url, flow, product or product_list)")


def _product_section(section: Any) -> Any:
    """Meta's ``{"title", "product_items": [{"product_retailer_id"}]}`` -> ProductSection's fields
    (anything else goes on as given, for the message's own check to judge)."""
    if not isinstance(section, dict) or not isinstance(section.get("product_items"), list):
        return section
    items = section["product_items"]
    ids = [item.get("product_retailer_id") if isinstance(item, dict) else item for item in items]
    return {**({"title": section["title"]} if "title" in section else {}), "product_retailer_ids": ids}


def _passthrough(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"message_type": kind, "content": content}


_SHAPERS = {
    "text": _text,
    "template": _template,
    "interactive": _interactive,
    "media": _media,
    **{kind: _media for kind in MEDIA_TYPES},
}


class SentSerializer(serializers.Serializer):
    """The answer to a send (seed 004's ``{"success": true, "messageId": ...}``, and more)."""

    success = serializers.BooleanField()
    messageId = serializers.CharField(allow_null=True, help_text="The wamid; null while still queued.")
    id = serializers.IntegerField(help_text="The message row.")
    status = serializers.CharField()
    reference = serializers.CharField(allow_blank=True)
