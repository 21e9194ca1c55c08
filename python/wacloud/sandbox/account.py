"""The business number's account side, as Meta keeps it: registration with Cloud API, the
verification code, the two-step verification PIN, the app's webhook subscription, the block
list, QR codes and commerce settings. Plain functions over ``State.account`` (a JSON-ready
dict, saved with the rest of the state); the Graph routes are in :mod:`.routes_account`.

Meta's rules kept here: a number registers only once verified, with its PIN when one is set
(133005 otherwise), and at most 10 registrations or deregistrations in 72 hours (133016); a
deregistered number sends nothing (133010); only users who wrote in the last 24 hours can be
blocked (131047), never the business's own number (131021), at most 1,000 a request and
64,000 in all (139101); a blocked user is sent nothing."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from .graph_errors import GraphError

REGISTRATION_WINDOW = 72 * 3600
MAX_REGISTRATIONS = 10
MAX_BLOCK_REQUEST = 1000
MAX_BLOCKLIST = 64_000
QR_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def default_account() -> dict[str, Any]:
    """A working number: verified, registered, no PIN, the sandbox app subscribed as configured."""
    return {
        "registered": True,
        "verified": True,
        "pin": None,
        "pending_code": None,  # the code Meta "sent" by SMS or voice (the control API shows it)
        "registrations": [],  # times of register and deregister calls (the 72-hour limit)
        "subscribed": None,  # None: as configured (subscribed when there is a webhook URL)
        "override_callback_uri": None,
        "blocked": {},  # wa_id -> time blocked, in blocking order
        "qr_codes": {},  # code -> its record
        "commerce": {"is_cart_enabled": True, "is_catalog_visible": True},
        "uploads": {},  # upload session id -> session (bytes live in State.upload_bytes)
        "handles": {},  # file handle -> what was uploaded
    }


def of(state: Any) -> dict[str, Any]:
    return state.account


# -- registration and verification -----------------------------------------------------------
def _count_registration(state: Any) -> None:
    account = of(state)
    now = state.now()
    recent = [t for t in account["registrations"] if now - t < REGISTRATION_WINDOW]
    if len(recent) >= MAX_REGISTRATIONS:
        raise GraphError(
            133016,
            "A number can be registered or deregistered at most 10 times in 72 hours.",
            message="(#133016) Account register deregister rate limit exceeded",
        )
    account["registrations"] = [*recent, now]


def register(state: Any, pin: str) -> None:
    account = of(state)
    if not account["verified"]:
        raise GraphError(
            133006,
            "Verify the number (request_code, then verify_code) before registering it.",
            message="(#133006) Phone number re-verification needed",
        )
    if account["pin"] is not None and pin != account["pin"]:
        _count_registration(state)  # a wrong PIN spends an attempt too
        raise GraphError(
            133005,
            "The PIN does not match the number's two-step verification PIN.",
            message="(#133005) Two step verification PIN Mismatch",
        )
    _count_registration(state)
    account["registered"] = True
    if account["pin"] is None:
        account["pin"] = pin  # registering sets the two-step verification PIN
    state.dirty = True


def deregister(state: Any) -> None:
    _count_registration(state)
    of(state)["registered"] = False
    state.dirty = True


def request_code(state: Any) -> str:
    """A new 6-digit code; the previous one stops working."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    of(state)["pending_code"] = code
    state.dirty = True
    return code


def verify_code(state: Any, code: str) -> None:
    account = of(state)
    if account["pending_code"] is None or code != account["pending_code"]:
        raise GraphError(
            136025,
            "The code is not the last one sent to the number.",
            message="(#136025) Verify code error",
        )
    account["pending_code"] = None
    account["verified"] = True
    state.dirty = True


def set_pin(state: Any, pin: str) -> None:
    of(state)["pin"] = pin
    state.dirty = True


def check_send(state: Any, wa_id: str) -> None:
    """Refuse a send Meta would refuse for the account's sake."""
    account = of(state)
    if not account["registered"]:
        raise GraphError(
            133010,
            "The number is not registered with Cloud API: POST /<PHONE_NUMBER_ID>/register.",
            message="(#133010) Account not registered",
        )
    if wa_id in account["blocked"]:
        raise GraphError(131026, "The recipient is on this number's block list.")


# -- webhook subscription ---------------------------------------------------------------------
def subscribed(state: Any, config: Any) -> bool:
    flag = of(state)["subscribed"]
    return bool(config.webhook_url) if flag is None else bool(flag)


def delivery_url(state: Any, config: Any) -> str | None:
    """Where the account's webhooks go: nowhere when the app is unsubscribed, the override
    callback URI when one is set, else the app's callback URL."""
    if not subscribed(state, config):
        return None
    return of(state)["override_callback_uri"] or config.webhook_url


def subscribe(state: Any, override_callback_uri: str | None) -> None:
    account = of(state)
    account["subscribed"] = True
    account["override_callback_uri"] = override_callback_uri or None
    state.dirty = True


def unsubscribe(state: Any) -> None:
    account = of(state)
    account["subscribed"] = False
    account["override_callback_uri"] = None
    state.dirty = True


# -- block list ---------------------------------------------------------------------------------
def _user_error(code: int, message: str, details: str) -> dict[str, Any]:
    return {"message": message, "code": code, "error_data": {"details": details}}


def block(state: Any, users: list[tuple[str, str | None]], business: str, window_open: Any) -> dict[str, Any]:
    """Block ``(input, wa_id or None)`` pairs; Meta's ``added_users`` and ``failed_users``."""
    blocked = of(state)["blocked"]
    added, failed = [], []
    for given, wa_id in users:
        if wa_id is None:
            reason = _user_error(131047, "Re-engagement message", "The number is not a WhatsApp user.")
        elif wa_id == business:
            reason = _user_error(131021, "Recipient cannot be sender", "A number cannot block itself.")
        elif wa_id not in blocked and not window_open(wa_id):
            reason = _user_error(
                131047,
                "Re-engagement message",
                "Only users who messaged the business in the last 24 hours can be blocked.",
            )
        elif wa_id not in blocked and len(blocked) >= MAX_BLOCKLIST:
            reason = _user_error(139101, "Blocklist limit reached", "The block list holds 64,000 users.")
        else:
            blocked.setdefault(wa_id, state.now())
            added.append({"input": given, "wa_id": wa_id})
            continue
        failed.append({"input": given, **({"wa_id": wa_id} if wa_id else {}), "errors": [reason]})
    state.dirty = True
    return {"added_users": added, **({"failed_users": failed} if failed else {})}


def unblock(state: Any, users: list[tuple[str, str | None]]) -> dict[str, Any]:
    blocked = of(state)["blocked"]
    removed, failed = [], []
    for given, wa_id in users:
        if wa_id is None:
            reason = _user_error(131047, "Re-engagement message", "The number is not a WhatsApp user.")
            failed.append({"input": given, "errors": [reason]})
            continue
        blocked.pop(wa_id, None)
        removed.append({"input": given, "wa_id": wa_id})
    state.dirty = True
    return {"removed_users": removed, **({"failed_users": failed} if failed else {})}


# -- QR codes -------------------------------------------------------------------------------------
def new_qr_code(state: Any, prefilled_message: str, image_format: str | None) -> dict[str, Any]:
    codes = of(state)["qr_codes"]
    code = "".join(secrets.choice(QR_ALPHABET) for _ in range(14))
    while code in codes:
        code = "".join(secrets.choice(QR_ALPHABET) for _ in range(14))
    record = {
        "code": code,
        "prefilled_message": prefilled_message,
        "created_at": int(state.now()),
        "image_format": image_format,
    }
    codes[code] = record
    state.dirty = True
    return record


def qr_view(record: dict[str, Any], base_url: str, image_format: str | None = None) -> dict[str, Any]:
    """A QR code as Meta answers it; ``qr_image_url`` only when an image format is asked."""
    view = {
        "code": record["code"],
        "prefilled_message": record["prefilled_message"],
        "deep_link_url": f"https://wa.me/message/{record['code']}",
    }
    if image_format:
        view["qr_image_url"] = f"{base_url}/_sandbox/qr/{record['code']}.{image_format.lower()}"
    return view


def qr_image(code: str, image_format: str) -> tuple[bytes, str]:
    """A stand-in image of the code (not a scannable QR code): SVG text or a 1x1 PNG."""
    if image_format == "svg":
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">'
            f'<text x="4" y="24" font-family="monospace">wa.me/message/{code}</text></svg>'
        )
        return svg.encode(), "image/svg+xml"
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
    )
    return png, "image/png"
