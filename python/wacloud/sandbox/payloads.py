"""Webhook bodies in Meta's envelope: statuses, inbound messages, template status.

Shapes follow the bodies Meta POSTs (see the fixtures under tests): one entry per
WhatsApp Business Account, one change per event, timestamps as strings in
``messages`` changes and as integers in template changes."""

from __future__ import annotations

from typing import Any

from .config import SandboxConfig
from .graph_errors import webhook_error
from .state import State


def _envelope(waba_id: str, change: dict[str, Any], time: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": waba_id}
    if time is not None:
        entry["time"] = time
    entry["changes"] = [change]
    return {"object": "whatsapp_business_account", "entry": [entry]}


def _contact(state: State, wa_id: str) -> dict[str, Any]:
    known = state.contacts.get(wa_id, {})
    user_id, parent_user_id = State.user_ids(wa_id)
    return {
        "profile": {"name": known.get("name") or f"User {wa_id[-4:]}"},
        "wa_id": wa_id,
        "user_id": user_id,
        "parent_user_id": parent_user_id,
    }


def _messages_value(config: SandboxConfig, state: State, wa_id: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": config.display_phone_number,
            "phone_number_id": config.phone_number_id,
        },
        "contacts": [_contact(state, wa_id)],
    }


def status_body(
    config: SandboxConfig,
    state: State,
    message: dict[str, Any],
    status: str,
    timestamp: int,
    error: tuple[int, str | None] | None = None,
) -> dict[str, Any]:
    """A ``statuses`` webhook for an outbound message: sent, delivered, read or failed."""
    entry: dict[str, Any] = {
        "id": message["id"],
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": message["wa_id"],
    }
    if status == "failed":
        code, details = error or (131000, None)
        entry["errors"] = [webhook_error(code, details)]
    else:
        conversation = state.conversations.get(message.get("conversation_id", ""))
        if conversation is not None:
            described: dict[str, Any] = {"id": conversation["id"]}
            if status == "sent":
                # Meta only tells the expiry on the first status of a conversation's message.
                described["expiration_timestamp"] = str(int(conversation["expiration"]))
            described["origin"] = {"type": conversation["category"]}
            entry["conversation"] = described
            entry["pricing"] = {
                "billable": conversation["category"] != "service",
                "pricing_model": "CBP",
                "category": conversation["category"],
            }
    value = _messages_value(config, state, message["wa_id"])
    value["statuses"] = [entry]
    return _envelope(config.waba_id, {"value": value, "field": "messages"})


def inbound_body(config: SandboxConfig, state: State, wa_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """A ``messages`` webhook carrying one message from a user."""
    value = _messages_value(config, state, wa_id)
    if (message.get("system") or {}).get("type") == "user_changed_number":
        # Meta sends a number change without a contacts block (system__phone_number_change.json).
        del value["contacts"]
    value["messages"] = [message]
    return _envelope(config.waba_id, {"value": value, "field": "messages"})


def template_status_body(
    config: SandboxConfig,
    template: dict[str, Any],
    event: str,
    reason: str,
    timestamp: int,
    rejection_info: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``message_template_status_update`` webhook (APPROVED, REJECTED, PAUSED, ...)."""
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template["id"]),
        "message_template_name": template["name"],
        "message_template_language": template["language"],
        "reason": reason,
        "message_template_category": template["category"],
    }
    if rejection_info:
        value["rejection_info"] = rejection_info
    return _envelope(
        config.waba_id, {"value": value, "field": "message_template_status_update"}, time=timestamp
    )
