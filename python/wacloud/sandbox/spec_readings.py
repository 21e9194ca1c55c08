"""How wacloud reads Meta's OpenAPI spec: the places where the spec, read strictly as JSON
Schema 2020-12, refuses what Meta's API sends or accepts (its own examples included), each
rewritten in memory to say what Meta does. The vendored YAML stays unmodified; docs/sandbox.md
("Checked against Meta's spec") lists the same places."""

from __future__ import annotations

import copy
from typing import Any

from .spec_readings_account import read_account
from .spec_readings_bsuid import read_business_scoped_user_ids
from .spec_readings_templates import read_template_components

REF = "#/components/schemas/"
# Meta's message_template_status_update events (webhook reference, message_template_status_update).
TEMPLATE_EVENTS = [
    "APPROVED", "ARCHIVED", "DELETED", "DISABLED", "FLAGGED", "IN_APPEAL", "LIMIT_EXCEEDED", "LOCKED",
    "PAUSED", "PENDING", "PENDING_DELETION", "REINSTATED", "REJECTED", "UNARCHIVED",
]  # fmt: skip


def as_meta_answers(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the spec rewritten where Meta's API differs from it."""
    spec = copy.deepcopy(document)
    _relax(spec)
    _inbound_messages(spec["components"]["schemas"])
    _template_status_webhooks(spec["components"]["schemas"])
    read_business_scoped_user_ids(spec["components"]["schemas"])
    read_template_components(spec["components"]["schemas"])
    read_account(spec)
    return _adapted(spec)


def _adapted(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as its authors mean it, for validation (the vendored file stays as it is).

    Message schemas extend ``BaseMessageProperties`` as ``allOf: [base, {additionalProperties:
    false, properties: {...}}]``. Read strictly, ``additionalProperties`` there only sees its own
    branch's properties, so it refuses ``to`` and ``messaging_product`` and no message Meta's
    own examples show would validate. The intent is that the object has no properties but the
    base's and the branch's: the branch's ``properties`` here also name the base's (as ``{}``,
    which the base itself checks). JSON Schema's ``unevaluatedProperties`` would say the same
    but costs ten times as much to evaluate, on every message the sandbox receives."""
    schemas = spec["components"]["schemas"]

    def named_properties(schema: Any) -> list[str]:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = schemas[schema["$ref"].removeprefix(REF)]
        if not isinstance(schema, dict):
            return []
        names = list(schema.get("properties", {}))
        for branch in schema.get("allOf", []):
            names += named_properties(branch)
        return names

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        for value in node.values():
            visit(value)
        branches = node.get("allOf")
        if not isinstance(branches, list):
            return
        for strict in [b for b in branches if isinstance(b, dict) and b.get("additionalProperties") is False]:
            properties = strict.setdefault("properties", {})
            for other in branches:
                if other is not strict:
                    for name in named_properties(other):
                        properties.setdefault(name, {})

    visit(spec)
    return spec


def _relax(spec: dict[str, Any]) -> None:
    """Where the spec is stricter than Meta's API (its own examples fail it), read it as Meta
    answers. Each line is one such place; docs/sandbox.md lists them too."""
    schemas = spec["components"]["schemas"]
    # Meta answers a media node's file_size as a number (the spec says a string).
    media = spec["paths"]["/{Version}/{Media-ID}"]["get"]["responses"]["200"]["content"]
    media["application/json"]["schema"]["properties"]["file_size"] = {"type": ["integer", "string"]}
    # Meta answers the business profile's fields flat in ``data`` (``{"data": [{"about": ...,
    # "messaging_product": "whatsapp"}]}``), as its documentation shows, not wrapped in
    # ``business_profile`` as the spec's response schema says.
    schemas["WhatsAppBusinessProfileResponse"]["properties"]["data"]["items"] = {
        "$ref": REF + "WhatsAppBusinessProfile"
    }
    # Meta defaults recipient_type to "individual"; most of the spec's examples leave it out.
    schemas["BaseMessageProperties"]["required"].remove("recipient_type")
    # ... and a message without ``type`` is a text message (see ``_narrowed``).
    schemas["BaseMessageProperties"]["required"].remove("type")
    # Meta defaults the language policy to "deterministic"; the spec's examples leave it out.
    schemas["LanguageObject"]["required"].remove("policy")
    # A button's index is 0-9, as a string or a number (the spec's pattern "^[2-6, 11-14]$" is
    # a typo that refuses "0", the index of its own examples).
    _replace_where(schemas, lambda s: s.get("pattern") == "^[2-6, 11-14]$", {"type": ["string", "integer"]})
    # Button sub_types: Meta also takes flow, copy_code, voice_call, mpm and order_details, in
    # either case (the spec's own examples send "CATALOG" and "flow").
    sub_types = ["quick_reply", "url", "catalog", "flow", "copy_code", "voice_call", "mpm", "order_details"]
    _replace_where(
        schemas,
        lambda s: s.get("enum") == ["quick_reply", "url", "catalog"],
        {"type": "string", "enum": sub_types + [t.upper() for t in sub_types]},
    )
    # Coordinates are numbers (the spec's examples too); the spec types them as strings.
    for axis in ("latitude", "longitude"):
        _replace_where(
            schemas["LocationMessage"],
            lambda s, a=axis: s.get("description", "").startswith(f"The {a}"),
            {"type": ["number", "string"]},
        )
    # Meta echoes biz_opaque_callback_data (at most 512 characters) in the message's statuses.
    schemas["BaseMessageProperties"]["properties"]["biz_opaque_callback_data"] = {
        "type": "string",
        "maxLength": 512,
    }
    # Meta's contact phone types include CELL, MAIN and IPHONE besides HOME and WORK.
    schemas["PhoneObject"]["properties"]["type"].pop("enum")
    # The call-to-action URL button (interactive "cta_url") and the location request
    # ("location_request_message", action "send_location") are missing from the spec.
    schemas["InteractiveObject"]["properties"]["type"]["enum"] += ["cta_url", "location_request_message"]
    schemas["ActionObject"]["oneOf"].append(
        {"required": ["name"], "properties": {"name": {"enum": ["send_location"]}}, "maxProperties": 1}
    )
    schemas["ActionObject"]["oneOf"].append(
        {
            "required": ["name", "parameters"],
            "properties": {
                "name": {"enum": ["cta_url"]},
                "parameters": {
                    "type": "object",
                    "required": ["display_text", "url"],
                    "properties": {
                        "display_text": {"type": "string", "maxLength": 20},
                        "url": {"type": "string"},
                    },
                },
            },
        }
    )


def _replace_where(node: Any, predicate: Any, replacement: dict[str, Any]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in list(items):
        if isinstance(child, dict) and predicate(child):
            node[key] = dict(replacement)
        else:
            _replace_where(child, predicate, replacement)


def _inbound_messages(schemas: dict[str, Any]) -> None:
    """Webhook messages reuse the *send* schemas (``TextMessage`` ...), whose base requires
    ``to`` and ``messaging_product`` and whose ``additionalProperties: false`` refuses
    ``from``, ``id`` and ``timestamp``: every inbound message, Meta's examples included, fails
    them. Each inbound kind gets its own schema: an inbound base (``from``, ``id``,
    ``timestamp``, ``type``) plus the kind's own properties, open to fields Meta adds
    (``from_user_id``, ``referral``, ``errors`` ...)."""
    schemas["InboundMessageProperties"] = {
        "type": "object",
        "required": ["from", "id", "timestamp", "type"],
        "properties": {
            "from": {"type": "string"},
            "id": {"type": "string"},
            "timestamp": {"type": "string"},
            "type": {"type": "string"},
            "context": {"type": "object"},
        },
    }
    incoming = schemas["IncomingMessage"]
    mapping = dict(incoming["discriminator"]["mapping"])
    mapping["system"] = REF + "SystemMessage"  # an identity change comes with contacts
    inbound_names: dict[str, str] = {}
    for target in dict.fromkeys(mapping.values()):
        name = target.removeprefix(REF)
        own = {
            k: copy.deepcopy(v) for k, v in schemas[name]["allOf"][1].items() if k != "additionalProperties"
        }
        inbound_names[target] = "Inbound" + name
        schemas["Inbound" + name] = {"allOf": [{"$ref": REF + "InboundMessageProperties"}, own]}
    # Inbound media carry mime_type, sha256 (and animated for stickers): any object with an id.
    sticker = schemas["InboundStickerMessage"]["allOf"][1]["properties"]
    sticker["sticker"] = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    # A shared location may carry its url.
    schemas["InboundLocationMessage"]["allOf"][1]["properties"]["location"].pop("additionalProperties")
    # Flow completions answer as interactive nfm_reply.
    reply = schemas["InboundInteractiveMessageReply"]["allOf"][1]["properties"]["interactive"]
    reply["properties"]["type"]["enum"].append("nfm_reply")
    # System notices: Meta also sends customer_identity_changed (and customer_changed_number).
    system = schemas["InboundSystemMessage"]["allOf"][1]["properties"]["system"]
    system["properties"]["type"]["enum"] += ["customer_identity_changed", "customer_changed_number"]
    system["required"] = ["body"]
    incoming["discriminator"]["mapping"] = {kind: REF + inbound_names[t] for kind, t in mapping.items()}
    incoming["oneOf"] = [{"$ref": REF + name} for name in dict.fromkeys(inbound_names.values())]
    schemas["IncomingMessageValueSystem"]["properties"]["messages"]["items"] = {
        "$ref": REF + "InboundSystemMessage"
    }
    # Meta's inbound errors carry code, title, message and error_data, no ``type`` (the spec's
    # own unsupported-message example has none).
    schemas["ErrorObject"]["required"] = ["code"]


def _template_status_webhooks(schemas: dict[str, Any]) -> None:
    """The spec's webhook schema has no ``message_template_status_update`` change; this one
    follows Meta's webhook reference for it."""
    schemas["TemplateStatusValue"] = {
        "type": "object",
        "required": ["event", "message_template_id", "message_template_name", "message_template_language"],
        "properties": {
            "event": {"type": "string", "enum": TEMPLATE_EVENTS},
            "message_template_id": {"type": "integer"},
            "message_template_name": {"type": "string"},
            "message_template_language": {"type": "string"},
            "message_template_category": {"type": "string"},
            "reason": {"type": ["string", "null"]},
            "disable_info": {
                "type": "object",
                "properties": {"disable_date": {"type": ["integer", "string"]}},  # a Unix time
            },
            "other_info": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
            },
            "rejection_info": {"type": "object"},
        },
    }
    change = schemas["Change"]["properties"]
    change["value"]["oneOf"].append({"$ref": REF + "TemplateStatusValue"})
    change["field"]["enum"].append("message_template_status_update")
