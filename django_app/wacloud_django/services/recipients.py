"""Recipients: a phone number as people write it -> the wa_id Meta expects, and
a message addressed by plain ids (what a Celery task receives).

``WACLOUD["DEFAULT_COUNTRY_CODE"]`` (or ``WHATSAPP_DEFAULT_COUNTRY_CODE``) reads
numbers written without their country code: a region (``"US"``) is handed to
libphonenumber; a calling code (``"1"``) prefixes a national number, after
dropping its trunk ``0`` (``"07911 123456"`` with ``"44"``). A number written
internationally (``+``/``00``, or all its digits) is read as such whenever the
national reading is not a possible number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wacloud import BusinessScopedUser, phone
from wacloud.errors import InvalidParameter, InvalidPhoneNumber
from wacloud.recipients import check_phone_recipient

from ..conf import get_setting, setting_name
from ..models import Message
from .accounts import find_account
from .outbound import MEDIA_TYPES, send_message

_SETTING_HINT = (
    f"write it with its country code (+1 555 123 4567) or set {setting_name('DEFAULT_COUNTRY_CODE')} "
    "(or WHATSAPP_DEFAULT_COUNTRY_CODE) to the country of numbers written without one"
)


def recipient_wa_id(to: str, default_country_code: str | None = None) -> str:
    """The wa_id for ``to``; ``default_country_code`` defaults to the setting.

    Raises :class:`wacloud.InvalidPhoneNumber` saying what to change (a business-scoped user
    id is not a number: send to a :class:`wacloud.BusinessScopedUser`)."""
    if not isinstance(to, str):
        raise InvalidPhoneNumber(f"a phone number must be a string, not {type(to).__name__}", "not_a_number")
    check_phone_recipient(to)
    code = default_country_code if default_country_code is not None else get_setting("DEFAULT_COUNTRY_CODE")
    code = str(code).strip().lstrip("+") if code not in (None, "") else ""
    written = to.strip()
    if code.isalpha():
        return _normalize(written, code.upper(), code)
    international = written.startswith(("+", "00"))
    if not code.isdigit() or international:
        return _normalize(written, None, code)
    digits = "".join(c for c in written if c.isdigit())
    national = digits[1:] if digits.startswith("0") else digits
    try:
        return phone.normalize(f"+{code}{national}")
    except InvalidPhoneNumber:
        if digits.startswith("0"):
            raise InvalidPhoneNumber(
                f'"{written}" is not a possible +{code} number (read with the default country code {code})',
                "invalid_number",
                written,
            ) from None
    return _normalize(written, None, code)


def _normalize(written: str, region: str | None, code: str) -> str:
    try:
        return phone.normalize(written, region)
    except InvalidPhoneNumber as error:
        if code or written.startswith(("+", "00")):
            raise
        raise InvalidPhoneNumber(f"{error}; {_SETTING_HINT}", error.reason, written) from None


def queue_message(
    *,
    to: str = "",
    user_id: str = "",
    message_type: str = "text",
    content: Mapping[str, Any] | str | None = None,
    business_account_id: str | None = None,
    phone_number_id: str | None = None,
    media_url: str | None = None,
    template_name: str | None = None,
    template_language: str | None = None,
    template_components: list[Mapping[str, Any]] | None = None,
    reply_to: str | None = None,
) -> Message:
    """``send_message`` for a message given as plain values: the account by
    ``business_account_id`` (WABA id) or ``phone_number_id`` (default: the only
    active account), ``to`` as people write it or ``user_id`` (a business-scoped user id,
    for a user known by it alone: exactly one of the two), ``content`` a text body (or a
    media caption) or the message's fields, ``media_url`` a link for media
    types. The row goes into the outbox, which sends it (Celery or inline)."""
    if bool(to) == bool(user_id):
        raise InvalidParameter("to: give exactly one of to (a phone number) and user_id", code=100)
    account = find_account(phone_number_id=phone_number_id, waba_id=business_account_id)
    if message_type in MEDIA_TYPES and isinstance(content, str):
        content = {"caption": content} if message_type in ("image", "video", "document") else None
    if message_type == "template":
        template_language = template_language or "en_US"
    return send_message(
        account,
        BusinessScopedUser(user_id) if user_id else recipient_wa_id(to),
        message_type,
        content=content,
        template_name=template_name,
        template_language=template_language,
        template_components=template_components,
        media=media_url,
        reply_to=reply_to,
    )
