"""Phone numbers as WhatsApp sees them, over Google's libphonenumber.

Input rules: formatting (spaces, dots, dashes, parentheses) is ignored; ``+`` or
``00`` introduces the country code; with no ``default_region`` digits are read
as international, like WhatsApp ids (``"15551234567"`` is ``+1 555 123 4567``);
with one (``"GB"``), a national number is read in that region, unless only the
international reading makes it a valid (or at least possible) number.
Details: docs/api/phone.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from . import _core
from .errors import InvalidPhoneNumber


class NumberType(str, Enum):
    """What kind of line a number belongs to, by libphonenumber's metadata."""

    FIXED_LINE = "fixed_line"
    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PhoneNumber:
    """A parsed number. ``wa_id`` is the E.164 form without ``+``, as WhatsApp
    writes it; ``region`` is ``""`` for non-geographic numbers (+800, ...)."""

    e164: str
    wa_id: str
    region: str
    country_code: int
    national_number: str
    number_type: NumberType
    international: str
    is_valid: bool
    is_possible: bool

    def __str__(self) -> str:
        return self.e164


def parse(number: str, default_region: str | None = None) -> PhoneNumber:
    """Read ``number``; raises :class:`InvalidPhoneNumber` only when it cannot be
    read at all. An impossible number comes back with ``is_possible=False``."""
    fields = _core.parse_phone(number, default_region)
    fields["number_type"] = NumberType(fields["number_type"])
    return PhoneNumber(**fields)


def normalize(number: str, default_region: str | None = None) -> str:
    """The wa_id (``"15551234567"``) of a possible number, else
    :class:`InvalidPhoneNumber` with the ``reason``."""
    return _core.normalize_phone(number, default_region)


def to_e164(number: str, default_region: str | None = None) -> str:
    """``"+15551234567"``; same checks as :func:`normalize`."""
    return _core.phone_to_e164(number, default_region)


def display(number: str, default_region: str | None = None) -> str:
    """The international format, ``"+44 20 7946 0958"``; same checks as :func:`normalize`."""
    return _core.display_phone(number, default_region)


def is_same_number(a: str, b: str, default_region: str | None = None) -> bool:
    """Whether ``a`` and ``b`` are the same E.164 number; ``False`` when either
    cannot be read."""
    return _core.is_same_phone(a, b, default_region)


def normalize_many(numbers: Iterable[str], default_region: str | None = None) -> list[str | None]:
    """:func:`normalize` for each entry, ``None`` where it is not a possible
    number. Runs without the GIL."""
    if isinstance(numbers, (str, bytes)):
        raise TypeError("normalize_many() takes an iterable of str, not a single string")
    if not isinstance(numbers, (list, tuple)):
        numbers = list(numbers)
    return _core.normalize_phones(numbers, default_region)


__all__ = [
    "InvalidPhoneNumber",
    "NumberType",
    "PhoneNumber",
    "display",
    "is_same_number",
    "normalize",
    "normalize_many",
    "parse",
    "to_e164",
]
