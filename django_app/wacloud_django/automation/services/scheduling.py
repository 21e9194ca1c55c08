"""What reminders, follow-ups and daily summaries share: time zones, and one scheduled send
through ``send_message`` whose outcome is recorded on the caller's row instead of raised.

A send is free text while the contact's 24-hour window is open (``send_message`` decides) and
the template otherwise. A consent refusal is ``refused`` with its reason (``revoked``,
``opt_in_required``); any other refusal or error is ``failed``. Neither is retried: the row
says why, and one contact's failure never stops the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import DatabaseError

from wacloud.errors import InvalidParameter, WacloudError

from ...log_privacy import get_logger
from ..schedule_models import Outcome

logger = get_logger("wacloud.automation.scheduled")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`wacloud.InvalidParameter` when unknown."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidParameter(
            f"timezone: {name!r} is not an IANA time zone (e.g. Europe/Lisbon)", code=100
        ) from None


def body_components(parameters: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    """Template body parameters (plain values) as Cloud API components."""
    if not parameters:
        return None
    return [{"type": "body", "parameters": [{"type": "text", "text": str(value)} for value in parameters]}]


@dataclass(frozen=True)
class SendResult:
    status: str
    message: Any = None
    reason: str = ""
    error: str = ""

    def apply(self, row: Any) -> None:
        """Copy the outcome onto a row with ``status``/``message``/``reason``/``error``."""
        row.status, row.message, row.reason, row.error = self.status, self.message, self.reason, self.error


def send_scheduled(
    contact: Any,
    *,
    text: str = "",
    template_name: str = "",
    template_language: str = "",
    template_parameters: Sequence[Any] | None = None,
    purpose: str = "whatsapp_messaging",
    reference: str = "",
) -> SendResult:
    """Send ``text`` inside the window, else the template; never raises for one contact's
    problem. Queued: delivery runs after the caller's commit (so a rolled-back claim sends
    nothing)."""
    from ...services.contact_identity import recipient_of
    from ...services.outbound import ConsentRequired, ServiceWindowClosed, send_message
    from ...services.privacy import is_erased

    if is_erased(contact):  # its number is a pseudonym now: nothing scheduled goes out any more
        return SendResult(Outcome.SKIPPED, reason="erased")
    account = contact.account
    # No savepoint of our own: send_message writes inside its own atomic block, and its consent
    # refusal is recorded in the audit log before it, which must survive.
    try:
        if text:
            try:
                message = send_message(account, recipient_of(contact), "text", text, reference=reference,
                                       purpose=purpose)  # fmt: skip
                return SendResult(Outcome.SENT, message)
            except ServiceWindowClosed:
                if not template_name:
                    raise
        if not template_name:
            raise InvalidParameter("nothing to send: no text and no template", code=100)
        message = send_message(
            account, recipient_of(contact), "template", template_name=template_name,
            template_language=template_language or "en_US",
            template_components=body_components(template_parameters), reference=reference, purpose=purpose,
        )  # fmt: skip
        return SendResult(Outcome.SENT, message)
    except ConsentRequired as refused:
        return SendResult(Outcome.REFUSED, reason=refused.reason, error=str(refused))
    except ServiceWindowClosed as error:
        return SendResult(Outcome.FAILED, reason="window_closed", error=str(error))
    except (WacloudError, ValueError) as error:
        logger.warning("scheduled message to contact %s not sent: %s", contact.pk, error)
        return SendResult(Outcome.FAILED, reason=type(error).__name__[:64], error=str(error))
    except DatabaseError:
        # The database, not the contact (a lock, a lost connection): the caller's claim rolls
        # back with it, so the next run tries again instead of recording a failure.
        raise
    except Exception as error:  # one contact's surprise must not stop the sweep
        logger.exception("scheduled message to contact %s failed", contact.pk)
        return SendResult(Outcome.FAILED, reason="error", error=repr(error))
