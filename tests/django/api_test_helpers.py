"""Shared by the test_api_*.py files: an authenticated API client, customers who write in
(seen by the sandbox and by our database alike) and small real media files."""

from __future__ import annotations

import base64
import time
from typing import Any

from wacloud_test_helpers import text_message

PREFIX = "/whatsapp/"
#: A Brazilian mobile number (seed 004 writes numbers like this).
CUSTOMER = "5511987654321"
ACCESS_TOKEN = "EAAG-test-token"  # conftest's account and sandbox
# A 1x1 PNG and a 1x1 JPEG: real image bytes the C++ sniffer recognizes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////"
    "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)


class Api:
    """``Api(user).post("send", {...})``: JSON requests under the test project's prefix,
    authenticated with a fresh API token as ``Authorization: Bearer <key>``."""

    def __init__(self, user: Any, **headers: str) -> None:
        from rest_framework.test import APIClient

        from wacloud_django.models import ApiToken

        _, self.key = ApiToken.issue(user)
        self.user = user
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}", **headers)

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.get(PREFIX + path, params or {}, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        extra.setdefault("format", "json")
        return self.client.post(PREFIX + path, body, **extra)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.client.patch(PREFIX + path, body, format="json")

    def delete(self, path: str) -> Any:
        return self.client.delete(PREFIX + path)


def member(account: Any, role: str = "admin", username: str = "ana") -> Any:
    """A user with ``role`` in the account's organization."""
    from django.contrib.auth import get_user_model

    from wacloud_django.models import Membership

    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw")
    Membership.objects.create(user=user, organization=account.organization, role=role)
    return user


def customer_writes(sandbox: Any, post_webhook: Any, text: str = "hello", wa_id: str = CUSTOMER) -> str:
    """The customer writes to the sandbox (which opens its 24-hour window) and Meta's
    webhook for that message reaches our intake. Returns the message's wamid."""
    sent = sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text=text)
    timestamp = int(sent.get("timestamp") or time.time())
    response = post_webhook(text_message(sent["id"], text, wa_id=wa_id, timestamp=timestamp))
    assert response.status_code == 200, response.content
    return sent["id"]


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The body of an error answer, after checking the format every API error shares."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    body = response.json()
    assert body["success"] is False and body["error_code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], dict)
    return body
