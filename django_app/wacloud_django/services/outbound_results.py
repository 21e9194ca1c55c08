"""What the outbound service answers: the refusals ``send_message`` raises before storing
anything, and the result of one delivery. Re-exported by :mod:`.outbound`, where callers
import them from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from wacloud.errors import WacloudError


class MessageRefused(WacloudError, ValueError):
    """``send_message`` refused the message before storing or sending anything."""


class ConsentRequired(MessageRefused):
    """The contact's consent for the message's ``purpose`` is missing: ``reason`` is
    ``"revoked"`` (they withdrew it) or ``"opt_in_required"`` (marketing with
    ``WACLOUD["MARKETING_REQUIRES_OPT_IN"]`` and no grant). The refusal is recorded in
    the audit log (docs/automation.md)."""

    def __init__(self, message: str, *, purpose: str, reason: str, wa_id: str = "") -> None:
        super().__init__(message)
        self.purpose, self.reason, self.wa_id = purpose, reason, wa_id

    @property
    def api_details(self) -> dict[str, str]:
        return {"purpose": self.purpose, "reason": self.reason}


class ContactOptedOut(ConsentRequired):
    """The contact opted out of messages from this account (revoked ``whatsapp_messaging``)."""

    def __init__(self, message: str, *, purpose: str = "whatsapp_messaging", reason: str = "revoked",
                 wa_id: str = "") -> None:  # fmt: skip
        super().__init__(message, purpose=purpose, reason=reason, wa_id=wa_id)


class ServiceWindowClosed(MessageRefused):
    """A free-form message to a contact who has not written in the last 24 hours
    (Meta would refuse it with 131047); send an approved template instead.
    ``last_inbound_at`` is when the contact last wrote (``None``: never)."""

    def __init__(self, message: str, last_inbound_at: datetime | None = None) -> None:
        super().__init__(message)
        self.last_inbound_at = last_inbound_at


@dataclass(frozen=True)
class DeliveryResult:
    """What one :func:`deliver_message` call did. ``outcome`` is ``sent``,
    ``failed``, ``retry`` (still queued; try again in ``retry_in`` seconds), ``deferred``
    (still queued, nothing attempted: the account's circuit breaker is open; try again
    in ``retry_in`` seconds),
    ``unknown`` (may have reached Meta; left for a human), ``in_progress``
    (another sender holds the claim) or ``skipped`` (not queued any more)."""

    message_id: int
    outcome: str
    status: str
    retry_in: float | None = None
    error: str = ""
    #: The error itself (Meta's code, fbtrace_id, retry_after), for callers that report it.
    exception: Exception | None = field(default=None, repr=False, compare=False)
