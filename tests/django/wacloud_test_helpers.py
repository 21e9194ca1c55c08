"""Helpers for tests/django: payload builders and signing (importable: this folder is on sys.path)."""

from __future__ import annotations

import json
from typing import Any

from fixture_files import FIXTURES_DIR  # noqa: F401  (re-exported for the Django tests)
from wacloud.security import sign

PHONE_NUMBER_ID = "1122334455667"
WABA_ID = "1234567890987654321"
APP_SECRET = "account-app-secret"
GLOBAL_APP_SECRET = "global-app-secret"  # wacloud_test_settings.WACLOUD["APP_SECRET"]
WEBHOOK_URL = "/whatsapp/webhook/"
USER = "972987654321"

__all__ = ["sign"]


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def envelope(value: dict, phone_number_id: str = PHONE_NUMBER_ID, field: str = "messages") -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "972123456789", "phone_number_id": phone_number_id},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": field}]}],
    }


def text_message(wamid: str, body: str = "hello", *, wa_id: str = USER, timestamp: int = 1697043223, **extra):
    message = {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text"}
    message.update({"text": {"body": body}, **extra})
    return envelope({"messages": [message], "contacts": [{"profile": {"name": "Test Name"}, "wa_id": wa_id}]})


def status_update(wamid: str, status: str, *, timestamp: int = 1697043300, errors: list | None = None):
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp), "recipient_id": USER}
    if errors:
        item["errors"] = errors
    return envelope({"statuses": [item]})
