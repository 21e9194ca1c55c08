"""Who a message goes to. A ``str`` is always a phone number (normalized to a wa_id);
a user known only by the business-scoped user id (BSUID) Meta gave them, say one who
hides their number behind a username, is a :class:`BusinessScopedUser`, sent with
Meta's ``recipient`` in place of ``to``.

>>> Text("Hello").to_payload(BusinessScopedUser("US.13491208655302741918"))["recipient"]
'US.13491208655302741918'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _core
from .errors import InvalidPhoneNumber

__all__ = ["BusinessScopedUser", "check_phone_recipient"]


@dataclass(frozen=True)
class BusinessScopedUser:
    """A WhatsApp user by business-scoped user id: a two-letter country code, a period and
    up to 128 letters and digits (``"US.13491208655302741918"``; a parent BSUID reads
    ``"US.ENT.…"``). The id is checked here, so a malformed one raises
    :class:`wacloud.InvalidParameter` before anything is built or sent."""

    user_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str):
            raise TypeError(f"user_id must be a str, not {type(self.user_id).__name__}")
        _core.check_user_id(self.user_id, "user_id")

    def __str__(self) -> str:
        return self.user_id


def check_phone_recipient(to: Any) -> str:
    """``to`` as a phone number: a ``str`` that is not a business-scoped user id (which
    the phone normalizer would only call "not a number")."""
    if not isinstance(to, str):
        raise TypeError(
            f"to must be a str (a phone number) or a wacloud.BusinessScopedUser, not {type(to).__name__}"
        )
    if _core.is_user_id(to.strip()):
        raise InvalidPhoneNumber(
            f'"{to}" is a business-scoped user id, not a phone number: send to '
            f'wacloud.BusinessScopedUser("{to.strip()}")',
            "not_a_number",
            to,
        )
    return to
