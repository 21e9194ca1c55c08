"""Inbound user messages injected through the control API, built into the
message objects Meta puts in a ``messages`` webhook.

Media types get real bytes (given as base64, or a small file with the right
magic bytes), stored like uploads so the receiver can download them and check
the SHA-256 the webhook announces."""

from __future__ import annotations

import base64
import binascii
import os
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
)
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
    required = ("response_json", "body", "name") if kind == "nfm_reply" else ("id", "title")
    for key in required:
        if not isinstance(reply.get(key), str):
            raise missing(f"interactive['{kind}']['{key}']")
    return {"type": kind, kind: reply}


def build(
    request: dict[str, Any], *, wamid: str, timestamp: int, business_number: str, store: StoreMedia
) -> tuple[str, dict[str, Any]]:
    """Return (wa_id, message object) for an inject request; GraphError when it is malformed."""
    if "from" not in request:
        raise missing("from")
    wa_id = normalize_recipient(request["from"])
    kind = request.get("type", "text")
    if kind not in INBOUND_TYPES:
        raise invalid_parameter(f"Param type must be one of {{{', '.join(INBOUND_TYPES)}}}.")
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
    else:
        message["interactive"] = _interactive(request)
    if not isinstance(request.get("name", ""), str):
        raise GraphError(131009, "name must be a string.")
    return wa_id, message
