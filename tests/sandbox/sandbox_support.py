"""Helpers for the sandbox suite: a small Graph client (stdlib only, so the
requests on the wire are exactly what the test wrote) and JSON shape comparison."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from fixture_files import FIXTURES_DIR

USER = "15550001111"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error(self) -> dict[str, Any]:
        assert "error" in self.body, self.body
        return self.body["error"]


class Graph:
    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.token = sandbox.config.access_token
        self.phone = sandbox.config.phone_number_id
        self.waba = sandbox.config.waba_id

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        data: bytes | None = None,
        content_type: str = "application/json",
        version: str = "v21.0",
    ) -> Reply:
        url = self.sandbox.base_url + (
            path if path.startswith("/_") or path.startswith("/whatsapp_business") else f"/{version}{path}"
        )
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        if body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(
                    response.status, _decode(response.read(), response.headers), dict(response.headers)
                )
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, _decode(error.read(), error.headers), dict(error.headers))

    def send(self, **payload: Any) -> Reply:
        return self.request("POST", f"/{self.phone}/messages", {"messaging_product": "whatsapp", **payload})

    def text(self, to: str = USER, body: str = "hello") -> Reply:
        return self.send(to=to, type="text", text={"body": body})

    def control(self, method: str, path: str, body: Any = None) -> Reply:
        return self.request(method, "/_sandbox" + path, body, token=None)


def _decode(raw: bytes, headers: Any) -> Any:
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(raw)
    return raw


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value types, lists by their first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def value_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``value`` of a webhook body's first change."""
    return payload["entry"][0]["changes"][0]["value"]


def check_signature(received: Any, secret: str) -> None:
    """``X-Hub-Signature-256`` is the HMAC-SHA256 of the exact body, computed here independently."""
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["X-Hub-Signature-256"] == f"sha256={expected}"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES_DIR / name).read_text())


def assert_valid_error(reply: Reply, code: int, status: int) -> dict[str, Any]:
    """Meta's error object: message, type, code, fbtrace_id (and error_data when sent)."""
    assert reply.status == status, reply.body
    error = reply.error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["fbtrace_id"], str) and len(error["fbtrace_id"]) > 10
    if "error_data" in error:
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert isinstance(error["error_data"]["details"], str)
    return error


HAVE_WEBHOOK_PARSER = importlib.util.find_spec("wacloud.webhook") is not None


# Fields whose shape changed since the corpus' samples were captured; tests check them by value.
# Per-message pricing adds ``pricing.type`` (and v24.0 drops ``conversation``); business-scoped
# user ids add ``recipient_user_id`` / ``from_user_id``, and parent ids exist only for managed
# businesses.
NEWER_FIELDS = {
    "statuses": ("pricing", "conversation", "recipient_user_id", "parent_recipient_user_id"),
    "messages": ("from_user_id", "from_parent_user_id"),
    "contacts": ("user_id", "parent_user_id"),
}


def current_shape(payload: dict[str, Any]) -> Any:
    """``shape(payload)`` without the :data:`NEWER_FIELDS` of its value's entries."""
    copied = json.loads(json.dumps(payload))
    for entry in copied.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value", {})
            for block, names in NEWER_FIELDS.items():
                for item in value.get(block, []) if isinstance(value, dict) else []:
                    for name in names:
                        item.pop(name, None)
    return shape(copied)
