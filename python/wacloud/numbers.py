"""Onboarding and number management, as :class:`wacloud.Client` methods: registering the
number with Cloud API (and deregistering it), the verification code, the two-step
verification PIN, the account's numbers, the app's webhook subscription to the WhatsApp
Business Account, and the number's block list. Every argument is checked first; what Meta
would refuse raises :class:`wacloud.InvalidParameter` naming the field, unsent.

>>> client.request_verification_code("SMS", "en_US")   # doctest: +SKIP
>>> client.verify_code("123456")                        # doctest: +SKIP
>>> client.register_phone_number(pin="246810")          # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import _graph
from .errors import GraphAPIError
from .phone import normalize

__all__ = [
    "BlockFailure",
    "BlockResult",
    "BlockedUser",
    "BusinessPhoneNumber",
    "NumberManagement",
    "SubscribedApp",
]

_PIN = re.compile(r"^[0-9]{6}$")
_LANGUAGE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")
#: Meta's limits: users per block or unblock request.
MAX_BLOCK_USERS = 1000
#: Meta's data localization regions for ``register_phone_number`` (Cloud API local storage).
DATA_LOCALIZATION_REGIONS = (
    "AE", "AU", "BH", "BR", "CA", "CH", "DE", "GB", "ID", "IN", "JP", "KR", "SG", "ZA",
)  # fmt: skip


@dataclass(frozen=True)
class BusinessPhoneNumber:
    """A number of the WhatsApp Business Account (``GET /<WABA_ID>/phone_numbers``);
    ``raw`` keeps every field Meta sent."""

    id: str
    display_phone_number: str
    verified_name: str
    status: str | None
    quality_rating: str | None
    code_verification_status: str | None
    messaging_limit_tier: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def _from(cls, item: dict[str, Any]) -> BusinessPhoneNumber:
        return cls(
            id=str(item.get("id", "")),
            display_phone_number=item.get("display_phone_number", ""),
            verified_name=item.get("verified_name", ""),
            status=item.get("status"),
            quality_rating=item.get("quality_rating"),
            code_verification_status=item.get("code_verification_status"),
            messaging_limit_tier=item.get("messaging_limit_tier"),
            raw=item,
        )


@dataclass(frozen=True)
class SubscribedApp:
    """An app whose webhooks receive the account's events; ``override_callback_uri`` is set
    when the account's events go to another URL than the app's."""

    id: str
    name: str
    link: str | None = None
    override_callback_uri: str | None = None

    @classmethod
    def _from(cls, item: dict[str, Any]) -> SubscribedApp:
        app = item.get("whatsapp_business_api_data") or item  # Meta nests it; the spec does not
        return cls(
            id=str(app.get("id", "")),
            name=app.get("name", ""),
            link=app.get("link"),
            override_callback_uri=item.get("override_callback_uri"),
        )


@dataclass(frozen=True)
class BlockedUser:
    """A user as Meta read the request's ``user`` (``input``) and their ``wa_id``."""

    input: str
    wa_id: str


@dataclass(frozen=True)
class BlockFailure:
    """A user Meta did not block or unblock, with Meta's reason (``code`` 131047: they have
    not written in the last 24 hours; 131021: the business's own number; 139101: the block
    list is full)."""

    input: str
    wa_id: str | None
    code: int
    message: str
    details: str


@dataclass(frozen=True)
class BlockResult:
    """What a block or unblock request did: ``done`` (added to or removed from the block
    list) and ``failed``. Meta answers a partly failed request with error 139100; that is
    reported here, not raised, so the users it did block are never lost."""

    done: tuple[BlockedUser, ...]
    failed: tuple[BlockFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failed

    @classmethod
    def _from(cls, answer: dict[str, Any], done_key: str) -> BlockResult:
        lists = answer.get("block_users") or {}
        done = tuple(BlockedUser(u.get("input", ""), u.get("wa_id", "")) for u in lists.get(done_key) or [])
        failed = []
        for user in lists.get("failed_users") or []:
            error = (user.get("errors") or [{}])[0]
            failed.append(
                BlockFailure(
                    input=user.get("input", ""),
                    wa_id=user.get("wa_id"),
                    code=int(error.get("code") or 0),
                    message=error.get("message", ""),
                    details=(error.get("error_data") or {}).get("details", ""),
                )
            )
        return cls(done, tuple(failed))


def _pin(value: Any, field: str = "pin") -> str:
    if not isinstance(value, str) or not _PIN.match(value):
        raise _graph.refuse(field, "must be 6 digits")
    return value


def _callback_uri(value: Any) -> str:
    text = _graph.text(value, "override_callback_uri", 2048)
    assert text is not None
    # Meta takes https only (and checks the URL); the sandbox also takes http on localhost.
    if not text.startswith(("https://", "http://")) or any(c.isspace() for c in text):
        raise _graph.refuse("override_callback_uri", "must be an https URL")
    return text


class NumberManagement:
    """Registration, verification, PIN, numbers, webhook subscription and the block list."""

    _core: Any
    phone_number_id: str
    waba_id: str | None
    default_region: str | None

    # ---- registration and verification -----------------------------------------------
    def register_phone_number(self, pin: str, data_localization_region: str | None = None) -> None:
        """Register the number with Cloud API (``POST /<PHONE_NUMBER_ID>/register``). ``pin``
        (6 digits) becomes its two-step verification PIN, or must match it when one is set;
        ``data_localization_region`` keeps message data at rest in that country."""
        body: dict[str, Any] = {"messaging_product": "whatsapp", "pin": _pin(pin)}
        if data_localization_region is not None:
            body["data_localization_region"] = _graph.choice(
                data_localization_region, "data_localization_region", DATA_LOCALIZATION_REGIONS
            )
        _graph.call(self, "POST", f"/{self.phone_number_id}/register", body)

    def deregister_phone_number(self) -> None:
        """Take the number off Cloud API (``POST /<PHONE_NUMBER_ID>/deregister``): it sends
        and receives nothing until registered again."""
        _graph.call(self, "POST", f"/{self.phone_number_id}/deregister")

    def request_verification_code(self, code_method: str = "SMS", language: str = "en_US") -> None:
        """Have Meta send the number a verification code by ``SMS`` or ``VOICE`` call, in
        ``language`` (``"en_US"``)."""
        body = {"code_method": _graph.choice(code_method, "code_method", ("SMS", "VOICE"))}
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise _graph.refuse("language", 'must be a language and region code such as "en_US"')
        body["language"] = language
        _graph.call(self, "POST", f"/{self.phone_number_id}/request_code", body)

    def verify_code(self, code: str) -> None:
        """Verify the number with the 6-digit code Meta sent it."""
        _graph.call(self, "POST", f"/{self.phone_number_id}/verify_code", {"code": _pin(code, "code")})

    def set_two_step_pin(self, pin: str) -> None:
        """Set or change the number's two-step verification PIN (``POST /<PHONE_NUMBER_ID>``)."""
        _graph.call(self, "POST", f"/{self.phone_number_id}", {"pin": _pin(pin)})

    def list_phone_numbers(self, limit: int = 25) -> list[BusinessPhoneNumber]:
        """Every number of the WhatsApp Business Account (``waba_id``), following the pages
        (``limit`` numbers each, at most 100)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise _graph.refuse("limit", "must be an int from 1 to 100")
        path = f"/{_graph.waba(self)}/phone_numbers"
        return [BusinessPhoneNumber._from(item) for item in _graph.pages(self, path, {"limit": limit})]

    # ---- webhook subscription ----------------------------------------------------------
    def subscribe_app(
        self, override_callback_uri: str | None = None, verify_token: str | None = None
    ) -> None:
        """Subscribe the token's app to the account's webhooks (``POST
        /<WABA_ID>/subscribed_apps``). With ``override_callback_uri`` (and its
        ``verify_token``, which Meta checks against that URL first) this account's events go
        there instead of the app's callback URL."""
        body: dict[str, Any] = {}
        if override_callback_uri is not None or verify_token is not None:
            if override_callback_uri is None or verify_token is None:
                raise _graph.refuse("override_callback_uri", "and verify_token must be given together")
            body["override_callback_uri"] = _callback_uri(override_callback_uri)
            body["verify_token"] = _graph.text(verify_token, "verify_token", 512)
        _graph.call(self, "POST", f"/{_graph.waba(self)}/subscribed_apps", body or None)

    def list_subscribed_apps(self) -> list[SubscribedApp]:
        answer = _graph.call(self, "GET", f"/{_graph.waba(self)}/subscribed_apps")
        return [SubscribedApp._from(item) for item in answer.get("data") or []]

    def unsubscribe_app(self) -> None:
        """Stop the token's app receiving this account's webhooks."""
        _graph.call(self, "DELETE", f"/{_graph.waba(self)}/subscribed_apps")

    # ---- block list --------------------------------------------------------------------
    def block_users(self, users: Iterable[str]) -> BlockResult:
        """Block up to 1,000 users (phone numbers, any format). Meta blocks only users who
        wrote to the number in the last 24 hours; the others come back in ``failed``."""
        return self._block_request("POST", users, "added_users")

    def unblock_users(self, users: Iterable[str]) -> BlockResult:
        """Unblock up to 1,000 users (no 24-hour rule)."""
        return self._block_request("DELETE", users, "removed_users")

    def list_blocked_users(self, limit: int = 100) -> list[str]:
        """The wa_ids on the number's block list, following the pages."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise _graph.refuse("limit", "must be a positive int")
        path = f"/{self.phone_number_id}/block_users"
        return [item["wa_id"] for item in _graph.pages(self, path, {"limit": limit}) if item.get("wa_id")]

    def _block_request(self, method: str, users: Iterable[str], done_key: str) -> BlockResult:
        if isinstance(users, str):
            users = [users]
        wa_ids = [normalize(user, self.default_region) for user in users]
        if not 1 <= len(wa_ids) <= MAX_BLOCK_USERS:
            raise _graph.refuse("users", f"must name 1 to {MAX_BLOCK_USERS} users")
        body = {"messaging_product": "whatsapp", "block_users": [{"user": wa_id} for wa_id in wa_ids]}
        try:
            answer = _graph.call(self, method, f"/{self.phone_number_id}/block_users", body)
        except GraphAPIError as error:
            # 139100: some users failed; the answer still says who was blocked.
            if error.code == 139100 and isinstance(error.result, dict) and "block_users" in error.result:
                return BlockResult._from(error.result, done_key)
            raise
        return BlockResult._from(answer, done_key)
