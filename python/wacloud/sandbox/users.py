"""Business-scoped user ids (BSUIDs) in the sandbox, as Meta's BSUID reference describes them
(developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).

Every user is still a number inside the sandbox (windows, conversations and limits are kept
by number); their ids come from :meth:`State.user_ids_of`. A send may name a user by id
(``recipient``): an id nobody holds now, a replaced one included, is accepted and then fails
with 131026, as a number that is not on WhatsApp does. A user may hide their number (a
username): webhooks then carry their ids only, and a send by id is answered and reported
without the number. Changing a user's ids emits Meta's ``user_id_update`` webhook."""

from __future__ import annotations

from typing import Any

from .config import SandboxConfig
from .graph_errors import GraphError, invalid, invalid_parameter
from .messages import USER_ID, OutboundMessage, normalize_recipient
from .state import State


def number_of(state: State, user_id: str) -> str | None:
    """The number whose current id (or parent id) ``user_id`` is; None for an id nobody holds now."""
    wa_id = state.user_index.get(user_id)
    if wa_id is None or user_id not in state.user_ids_of(wa_id):
        return None
    return wa_id


def address_outbound(state: State, message: OutboundMessage) -> None:
    """A send by id gets the number behind it; for an id nobody holds, the id stands in
    for the number and the message is marked to fail (131026)."""
    if message.user_id is None:
        return
    wa_id = number_of(state, message.user_id)
    message.wa_id = wa_id or message.user_id
    message.unknown_user = wa_id is None


def shares_number(state: State, message: dict[str, Any] | OutboundMessage) -> bool:
    """Whether Meta names the number for this send: always for a send to a number; for a
    send by id, only when the user does not hide it."""
    record = message if isinstance(message, dict) else vars(message)
    if not record.get("user_id"):
        return True
    return not record.get("unknown_user") and record["wa_id"] not in state.hidden_numbers


def answer_contact(state: State, message: OutboundMessage) -> dict[str, str]:
    """The ``contacts`` entry of the answer to a send."""
    if message.user_id is None:
        return {"input": message.to, "wa_id": message.wa_id}
    contact = {"input": message.user_id}
    if shares_number(state, message):
        contact["wa_id"] = message.wa_id
    contact["user_id"] = message.user_id if message.unknown_user else state.user_ids_of(message.wa_id)[0]
    return contact


def recipient_fields(config: SandboxConfig, state: State, message: dict[str, Any]) -> dict[str, str]:
    """The recipient as a status names it: ``recipient_id`` (unless Meta does not share the
    number), ``recipient_user_id`` and, for managed businesses, ``parent_recipient_user_id``."""
    if message.get("unknown_user"):
        return {"recipient_user_id": message["user_id"]}
    fields = {"recipient_id": message["wa_id"]} if shares_number(state, message) else {}
    user_id, parent_user_id = state.user_ids_of(message["wa_id"])
    fields["recipient_user_id"] = user_id
    if config.managed_business:  # parent BSUIDs exist only for managed businesses
        fields["parent_recipient_user_id"] = parent_user_id
    return fields


def address_inbound(config: SandboxConfig, state: State, wa_id: str, message: dict[str, Any]) -> None:
    """An inbound message names its sender by id too, and by id only when they hide their number."""
    user_id, parent_user_id = state.user_ids_of(wa_id)
    message["from_user_id"] = user_id
    if config.managed_business:
        message["from_parent_user_id"] = parent_user_id
    if wa_id in state.hidden_numbers:
        message.pop("from", None)


# -- the control API -------------------------------------------------------------------------
def find_number(state: State, key: str) -> str:
    """A user named by number or by a business-scoped user id they hold now."""
    if USER_ID.fullmatch(key):
        wa_id = number_of(state, key)
        if wa_id is None:
            raise GraphError(100, f"No user holds the business-scoped user id {key}.", http_status=404)
        return wa_id
    try:
        return normalize_recipient(key)
    except GraphError:
        raise invalid(f"{key!r} is neither a phone number nor a business-scoped user id.") from None


def user_view(config: SandboxConfig, state: State, wa_id: str) -> dict[str, Any]:
    user_id, parent_user_id = state.user_ids_of(wa_id)
    view: dict[str, Any] = {"wa_id": wa_id, "user_id": user_id}
    if config.managed_business:
        view["parent_user_id"] = parent_user_id
    view["number_hidden"] = wa_id in state.hidden_numbers
    return view


def hide_number(config: SandboxConfig, state: State, wa_id: str, body: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body.get("number_hidden"), bool):
        raise invalid_parameter('Body must be {"number_hidden": true|false}.')
    if body["number_hidden"]:
        state.hidden_numbers.add(wa_id)
    else:
        state.hidden_numbers.discard(wa_id)
    state.dirty = True
    return user_view(config, state, wa_id)


def change_user_id(config: SandboxConfig, state: State, wa_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Give the user new ids (the old ones stop reaching them). Returns what changed and the
    ``user_id_update`` webhook that says so."""
    previous, previous_parent = state.user_ids_of(wa_id)
    state.user_generations[wa_id] = state.user_generations.get(wa_id, 0) + 1
    current, current_parent = state.user_ids_of(wa_id)
    entry: dict[str, Any] = {}
    if wa_id not in state.hidden_numbers:
        entry["wa_id"] = wa_id
    entry["user_id"] = {"previous": previous, "current": current}
    if config.managed_business:
        entry["parent_user_id"] = {"previous": previous_parent, "current": current_parent}
    entry["timestamp"] = str(int(state.now()))
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": config.display_phone_number,
            "phone_number_id": config.phone_number_id,
        },
        "user_id_update": [entry],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": config.waba_id, "changes": [{"value": value, "field": "user_id_update"}]}],
    }
    return {**user_view(config, state, wa_id), "previous_user_id": previous}, body
