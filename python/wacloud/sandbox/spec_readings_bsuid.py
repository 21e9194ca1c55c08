"""Business-scoped user ids (BSUIDs) in Meta's spec. The vendored v23.0 file predates them;
Meta's BSUID reference (developers.facebook.com/documentation/business-messaging/whatsapp/
business-scoped-user-ids/) adds what is read in here, in memory, the YAML unchanged:

- a send names its recipient in ``to`` (a phone number) or ``recipient`` (a BSUID);
- an inbound message may come without ``from`` (a user who hides their number) when it has
  ``from_user_id``; a status may come without ``recipient_id`` when it has
  ``recipient_user_id``;
- the ``user_id_update`` field: a user's BSUID changed (``{"previous", "current"}``).

Called by :func:`.spec_readings.as_meta_answers`; docs/sandbox.md lists these readings."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"
_ID = {"type": "string"}
_CHANGE = {
    "type": "object",
    "required": ["previous", "current"],
    "properties": {"previous": _ID, "current": _ID},
}


def read_business_scoped_user_ids(schemas: dict[str, Any]) -> None:
    base = schemas["BaseMessageProperties"]
    base["properties"]["recipient"] = {"type": "string", "description": "A business-scoped user id."}
    base["required"].remove("to")
    base["anyOf"] = [{"required": ["to"]}, {"required": ["recipient"]}]

    inbound = schemas["InboundMessageProperties"]
    inbound["required"].remove("from")
    inbound["anyOf"] = [{"required": ["from"]}, {"required": ["from_user_id"]}]
    inbound["properties"].update(from_user_id=_ID, from_parent_user_id=_ID)

    statuses = schemas["Statuses"]
    statuses["required"].remove("recipient_id")
    statuses["anyOf"] = [{"required": ["recipient_id"]}, {"required": ["recipient_user_id"]}]
    statuses["properties"].update(recipient_user_id=_ID, parent_recipient_user_id=_ID)

    schemas["ContactProfile"]["properties"].update(user_id=_ID, parent_user_id=_ID)
    schemas["UserIdUpdateValue"] = {
        "type": "object",
        "required": ["messaging_product", "metadata", "user_id_update"],
        "properties": {
            "messaging_product": {"type": "string"},
            "metadata": {"$ref": REF + "Metadata"},
            "user_id_update": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["user_id", "timestamp"],
                    "properties": {
                        "wa_id": _ID,
                        "detail": _ID,
                        "user_id": _CHANGE,
                        "parent_user_id": _CHANGE,
                        "timestamp": {"type": ["string", "integer"]},
                    },
                },
            },
        },
    }
    change = schemas["Change"]["properties"]
    change["value"]["oneOf"].append({"$ref": REF + "UserIdUpdateValue"})
    change["field"]["enum"].append("user_id_update")
