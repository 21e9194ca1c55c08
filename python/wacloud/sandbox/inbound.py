"""Inbound user messages injected through the control API, built into the
message objects Meta puts in a ``messages`` webhook.

Media types get real bytes (given as base64, or a small file with the right
magic bytes), stored like uploads so the receiver can download them and check
the SHA-256 the webhook announces."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from typing import Any

from .graph_errors import GraphError, invalid, invalid_parameter, missing
from .messages import ACCEPTED_MIME, MEDIA_TYPES, normalize_recipient

INBOUND_TYPES = (
    "text",
    *MEDIA_TYPES,
    "location",
    "contacts",
    "reaction",
    "button",
    "interactive",
    "order",
    "system",
    "unsupported",
)

# Meta's text for a message type its API cannot show (message__unsupported.json).
_UNSUPPORTED_ERROR = {
    "code": 131051,
    "title": "Message type unknown",
    "message": "Message type unknown",
    "error_data": {"details": "Message type is currently not supported."},
}
_REFERRAL_REQUIRED = ("source_url", "source_id", "source_type")
# The fields of Meta's referral object (message__referral.json); all strings.
_REFERRAL_FIELDS = (
    *_REFERRAL_REQUIRED,
    "headline",
    "body",
    "media_type",
    "image_url",
    "video_url",
    "thumbnail_url",
    "ctwa_clid",
)
_CURRENCY = re.compile(r"[A-Z]{3}")
DEFAULT_MIME = {
    "image": "image/jpeg",
    "audio": "audio/ogg",
    "video": "video/mp4",
    "document": "application/pdf",
    "sticker": "image/webp",
}
# Magic bytes, so content sniffing on the receiving side agrees with the MIME type.
_SAMPLE_HEADERS = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "audio/ogg": b"OggS\x00\x02",
    "audio/mpeg": b"ID3\x03\x00",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42",
    "application/pdf": b"%PDF-1.4\n",
    "text/plain": b"sandbox file\n",
}

StoreMedia = Callable[[bytes, str, "str | None"], dict[str, Any]]


def sample_bytes(mime_type: str) -> bytes:
    return _SAMPLE_HEADERS.get(mime_type.split(";")[0], b"") + os.urandom(256)


def _media_object(kind: str, spec: dict[str, Any], store: StoreMedia) -> tuple[dict[str, Any], str]:
    mime_type = str(spec.get("mime_type") or DEFAULT_MIME[kind])
    base_mime = mime_type.split(";")[0].strip()
    if base_mime not in ACCEPTED_MIME[kind]:
        raise invalid(f"{kind} MIME type must be one of {{{', '.join(ACCEPTED_MIME[kind])}}}.")
    if spec.get("data") is not None:
        try:
            data = base64.b64decode(str(spec["data"]), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"{kind}['data'] must be base64.") from None
    else:
        data = sample_bytes(base_mime)
    filename = spec.get("filename") if kind == "document" else None
    record = store(data, mime_type, filename)
    obj: dict[str, Any] = {}
    if kind in ("image", "video", "document") and spec.get("caption"):
        obj["caption"] = str(spec["caption"])
    if kind == "document":
        obj["filename"] = str(filename or "document.pdf")
    obj["mime_type"] = mime_type
    obj["sha256"] = base64.b64encode(bytes.fromhex(record["sha256"])).decode()
    obj["id"] = record["id"]
    if kind == "audio":
        obj["voice"] = bool(spec.get("voice", False))
    if kind == "sticker":
        obj["animated"] = bool(spec.get("animated", False))
    return obj, record["id"]


def _interactive(request: dict[str, Any]) -> dict[str, Any]:
    interactive = request.get("interactive")
    if interactive is None:
        for reply in ("button_reply", "list_reply", "nfm_reply"):
            if reply in request:
                interactive = {"type": reply, reply: request[reply]}
                break
    if not isinstance(interactive, dict):
        raise missing("interactive (button_reply, list_reply or nfm_reply)")
    kind = interactive.get("type")
    if kind not in ("button_reply", "list_reply", "nfm_reply") or not isinstance(interactive.get(kind), dict):
        raise invalid("interactive['type'] must be button_reply, list_reply or nfm_reply, with that object.")
    reply = interactive[kind]
    if kind == "nfm_reply":
        return {"type": kind, kind: _flow_reply(reply)}
    for key in ("id", "title"):
        if not isinstance(reply.get(key), str):
            raise missing(f"interactive['{kind}']['{key}']")
    return {"type": kind, kind: reply}


def _flow_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """A completed Flow (flow_completion__completion.json). ``response_json`` is the
    Flow's answers as a JSON *string* on the wire; an object is accepted here and
    serialized, so callers need not double-encode it."""
    answers = reply.get("response_json")
    if isinstance(answers, str):
        try:
            answers = json.loads(answers)
        except ValueError:
            raise invalid(
                "nfm_reply['response_json'] must be a JSON object (or a string holding one)."
            ) from None
    if not isinstance(answers, dict):
        raise missing("nfm_reply['response_json'] (a JSON object, or a string holding one)")
    # Meta always sends body "Sent" and name "flow"; they are only overridable for odd cases.
    body, name = reply.get("body", "Sent"), reply.get("name", "flow")
    if not isinstance(body, str) or not isinstance(name, str):
        raise invalid("nfm_reply['body'] and nfm_reply['name'] must be strings.")
    text = (
        reply["response_json"]
        if isinstance(reply["response_json"], str)
        else json.dumps(answers, separators=(",", ":"), ensure_ascii=False)
    )
    return {"response_json": text, "body": body, "name": name}


def build(
    request: dict[str, Any],
    *,
    wamid: str,
    timestamp: int,
    business_number: str,
    store: StoreMedia,
    known_name: Callable[[str], str | None] = lambda _wa_id: None,
) -> tuple[str, dict[str, Any]]:
    """Return (wa_id, message object) for an inject request; GraphError when it is malformed.

    ``known_name`` gives the profile name the sandbox already has for a number
    (a number-change notice names the user even when the request does not)."""
    if "from" not in request:
        raise missing("from")
    wa_id = normalize_recipient(request["from"])
    # Checked before the type's fields, so a bad request never leaves behind media stored for it.
    if not isinstance(request.get("name", ""), str):
        raise invalid("name must be a string.")
    kind = request.get("type", "text")
    if kind not in INBOUND_TYPES:
        raise invalid_parameter(f"Param type must be one of {{{', '.join(INBOUND_TYPES)}}}.")
    referral = _referral(request["referral"]) if "referral" in request else None
    message: dict[str, Any] = {}
    reply_to = request.get("reply_to") or (request.get("context") or {}).get("message_id")
    if reply_to:
        message["context"] = {"from": business_number, "id": str(reply_to)}
    elif request.get("forwarded") or request.get("frequently_forwarded"):
        message["context"] = {"forwarded": True}
        if request.get("frequently_forwarded"):
            message["context"]["frequently_forwarded"] = True
    message.update({"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": kind})
    if kind == "text":
        text = request.get("text")
        body = text.get("body") if isinstance(text, dict) else text
        if not isinstance(body, str) or not body:
            raise missing("text")
        message["text"] = {"body": body}
    elif kind in MEDIA_TYPES:
        spec = request.get(kind) if isinstance(request.get(kind), dict) else {}
        for key in ("mime_type", "data", "caption", "filename", "voice", "animated"):
            if key in request and key not in spec:
                spec = {**spec, key: request[key]}
        message[kind], _ = _media_object(kind, spec, store)
    elif kind == "location":
        location = request.get("location")
        if not isinstance(location, dict):
            raise missing("location")
        for key in ("latitude", "longitude"):
            if isinstance(location.get(key), bool) or not isinstance(location.get(key), (int, float)):
                raise missing(f"location['{key}'] (a number)")
        message["location"] = {
            k: location[k] for k in ("latitude", "longitude", "name", "address", "url") if k in location
        }
    elif kind == "contacts":
        contacts = request.get("contacts")
        if not isinstance(contacts, list) or not contacts or not all(isinstance(c, dict) for c in contacts):
            raise missing("contacts (a non-empty array of contact objects)")
        message["contacts"] = contacts
    elif kind == "reaction":
        reaction = request.get("reaction") or {k: request[k] for k in ("message_id", "emoji") if k in request}
        if not isinstance(reaction.get("message_id"), str):
            raise missing("reaction['message_id']")
        message["reaction"] = {"message_id": reaction["message_id"], "emoji": str(reaction.get("emoji", ""))}
    elif kind == "button":
        button = request.get("button") or {k: request[k] for k in ("payload", "text") if k in request}
        if not isinstance(button.get("payload"), str) or not isinstance(button.get("text"), str):
            raise missing("button['payload'] and button['text']")
        message["button"] = {"payload": button["payload"], "text": button["text"]}
    elif kind == "order":
        message["order"] = _order(request.get("order"))
    elif kind == "system":
        message.update(
            _system(request.get("system"), wa_id, timestamp, request.get("name") or known_name(wa_id))
        )
    elif kind == "unsupported":
        message["errors"] = [_UNSUPPORTED_ERROR]
        if request.get("unsupported_type") is not None:
            if not isinstance(request["unsupported_type"], str):
                raise invalid("unsupported_type must be a string such as 'pool'.")
            message["unsupported"] = {"type": request["unsupported_type"]}
    else:
        message["interactive"] = _interactive(request)
    if referral is not None:
        message["referral"] = referral
    return wa_id, message


def _order(order: Any) -> dict[str, Any]:
    """A cart sent from a catalog (message__order.json)."""
    if not isinstance(order, dict) or not isinstance(order.get("catalog_id"), str) or not order["catalog_id"]:
        raise missing("order['catalog_id'] (a string)")
    items = order.get("product_items")
    if not isinstance(items, list) or not items:
        raise missing("order['product_items'] (a non-empty array)")
    built = []
    for index, item in enumerate(items):
        where = f"order['product_items'][{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("product_retailer_id"), str):
            raise missing(f"{where}['product_retailer_id'] (a string)")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise invalid(f"{where}['quantity'] must be a positive integer, not {quantity!r}.")
        price = item.get("item_price")
        if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
            raise invalid(f"{where}['item_price'] must be a non-negative number, not {price!r}.")
        currency = item.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise invalid(f"{where}['currency'] must be an ISO 4217 code such as 'EUR', not {currency!r}.")
        # Only Meta's four keys: whatever else the request carried is not part of an order.
        built.append(
            {
                "product_retailer_id": item["product_retailer_id"],
                "quantity": quantity,
                "item_price": price,
                "currency": currency,
            }
        )
    text = order.get("text", "")
    if not isinstance(text, str):
        raise invalid("order['text'] must be a string.")
    return {"catalog_id": order["catalog_id"], "text": text, "product_items": built}


def _system(system: Any, wa_id: str, timestamp: int, name: str | None) -> dict[str, Any]:
    """The fields of a system message: a user changed number or identity
    (system__phone_number_change.json, system__identity_change.json)."""
    kind = system.get("type") if isinstance(system, dict) else None
    if kind == "user_changed_number":
        assert isinstance(system, dict)
        new_wa_id = system.get("new_wa_id")
        if not isinstance(new_wa_id, str) or not new_wa_id.strip():
            raise missing("system['new_wa_id'] (the user's new phone number)")
        try:
            new_wa_id = normalize_recipient(new_wa_id)
        except GraphError:
            raise invalid(f"system['new_wa_id'] ({new_wa_id!r}) is not a valid phone number.") from None
        if new_wa_id == wa_id:
            raise invalid("system['new_wa_id'] must differ from the number in 'from'.")
        # Meta's wording: "User <profile name> changed from <old> to <new>".
        who = f"User {name}" if name else "User"
        return {
            "system": {
                "body": f"{who} changed from {wa_id} to {new_wa_id}",
                "wa_id": new_wa_id,
                "type": "user_changed_number",
            }
        }
    if kind == "customer_identity_changed":
        return {
            "identity": {
                "acknowledged": True,
                "created_timestamp": str(timestamp),
                "hash": os.urandom(8).hex(),
            },
            "system": {"body": "User identity changed", "type": "customer_identity_changed"},
        }
    raise invalid(
        "system['type'] must be 'user_changed_number' (with new_wa_id) or 'customer_identity_changed'."
    )


def _referral(referral: Any) -> dict[str, Any]:
    """Where a message came from when the user tapped a click-to-WhatsApp ad (message__referral.json)."""
    if not isinstance(referral, dict) or not all(
        isinstance(referral.get(k), str) for k in _REFERRAL_REQUIRED
    ):
        raise missing("referral['source_url'], referral['source_id'] and referral['source_type'] (strings)")
    unknown = sorted(set(referral) - set(_REFERRAL_FIELDS))
    if unknown:
        raise invalid(f"referral has unknown fields {unknown}; it takes {', '.join(_REFERRAL_FIELDS)}.")
    wrong = sorted(key for key, value in referral.items() if not isinstance(value, str))
    if wrong:
        raise invalid(f"referral fields {wrong} must be strings.")
    return {key: referral[key] for key in _REFERRAL_FIELDS if key in referral}
