"""Webhook bodies in Meta's envelope: statuses, inbound messages, template status.

Shapes follow the bodies Meta POSTs (see the fixtures under tests): one entry per
WhatsApp Business Account, one change per event, timestamps as strings in
``messages`` changes and as integers in template changes."""

from __future__ import annotations

from typing import Any

from .config import SandboxConfig
from .graph_errors import webhook_error
from .state import State
from .users import recipient_fields


def _envelope(waba_id: str, change: dict[str, Any], time: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": waba_id}
    if time is not None:
        entry["time"] = time
    entry["changes"] = [change]
    return {"object": "whatsapp_business_account", "entry": [entry]}


def _contact(config: SandboxConfig, state: State, wa_id: str, share_number: bool = True) -> dict[str, Any]:
    known = state.contacts.get(wa_id, {})
    user_id, parent_user_id = state.user_ids_of(wa_id)
    # A user who hides their number (sandbox/users.py) is named by id only.
    name = known.get("name") or (f"User {wa_id[-4:]}" if share_number else "WhatsApp user")
    contact: dict[str, Any] = {"profile": {"name": name}}
    if share_number:
        contact["wa_id"] = wa_id
    contact["user_id"] = user_id
    if config.managed_business:  # parent BSUIDs exist only for managed businesses
        contact["parent_user_id"] = parent_user_id
    return contact


def _messages_value(
    config: SandboxConfig, state: State, wa_id: str, share_number: bool = True
) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": config.display_phone_number,
            "phone_number_id": config.phone_number_id,
        },
        "contacts": [_contact(config, state, wa_id, share_number)],
    }


def _priced(message: dict[str, Any], status: str) -> bool:
    """Meta puts ``conversation`` and ``pricing`` on ``sent`` and on one of ``delivered`` or
    ``read``: on ``read`` only when no ``delivered`` went out before it."""
    if status in ("sent", "delivered"):
        return True
    return status == "read" and not any(s["status"] == "delivered" for s in message["statuses"])


def _api_major(message: dict[str, Any]) -> int:
    version = str(message.get("api_version") or "v23.0")
    try:
        return int(version.lstrip("v").split(".")[0])
    except ValueError:
        return 23


def _legacy_pricing(category: str) -> dict[str, Any]:
    # Records saved before per-message pricing have no pricing of their own.
    free = category == "service"
    return {
        "billable": not free,
        "pricing_model": "PMP",
        "category": category,
        "type": "free_customer_service" if free else "regular",
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
        **recipient_fields(config, state, message),
    }
    if message.get("callback_data") is not None:
        entry["biz_opaque_callback_data"] = message["callback_data"]
    if status == "failed":
        code, details = error or (131000, None)
        entry["errors"] = [webhook_error(code, details)]
    elif _priced(message, status):
        conversation = state.conversations.get(message.get("conversation_id", ""))
        if conversation is not None:
            pricing = dict(message.get("pricing") or _legacy_pricing(conversation["category"]))
            if _api_major(message) < 24 or pricing["type"] == "free_entry_point":
                described: dict[str, Any] = {"id": conversation["id"]}
                if status == "sent":
                    # Meta only tells the expiry on the first status of a conversation's message.
                    described["expiration_timestamp"] = str(int(conversation["expiration"]))
                described["origin"] = {"type": conversation["category"]}
                entry["conversation"] = described
            entry["pricing"] = pricing
    value = _messages_value(config, state, message["wa_id"], "recipient_id" in entry)
    if status == "failed":
        del value["contacts"]  # Meta's failed statuses come without a contacts block
    value["statuses"] = [entry]
    return _envelope(config.waba_id, {"value": value, "field": "messages"})


def inbound_body(config: SandboxConfig, state: State, wa_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """A ``messages`` webhook carrying one message from a user."""
    value = _messages_value(config, state, wa_id, wa_id not in state.hidden_numbers)
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
    other_info: dict[str, str] | None = None,
    disable_info: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``message_template_status_update`` webhook (APPROVED, REJECTED, PAUSED, ...), with
    ``disable_info`` for a disabled template and ``other_info`` (title, description) where
    Meta explains the event (a locked template)."""
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template["id"]),
        "message_template_name": template["name"],
        "message_template_language": template["language"],
        "reason": reason,
        "message_template_category": template["category"],
    }
    if disable_info:
        value["disable_info"] = disable_info
    if other_info:
        value["other_info"] = other_info
    if rejection_info:
        value["rejection_info"] = rejection_info
    return _envelope(
        config.waba_id, {"value": value, "field": "message_template_status_update"}, time=timestamp
    )
