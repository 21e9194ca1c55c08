"""Follow-up sequences listen to ``message_received`` (a reply stops them, a first message
starts some) and ``consent_changed`` (an opt-out stops them). Connected from
``WacloudConfig.ready``; both signals are sent after the commit. A receiver's failure is
logged, never raised into the webhook processing that sent the signal."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ..log_privacy import get_logger
from ..signals import consent_changed, message_received

logger = get_logger("wacloud.automation.followups")


@receiver(message_received, dispatch_uid="wacloud.automation.followups")
def followups_on_message(sender: Any, message: Any, contact: Any = None, **kwargs: Any) -> None:
    from .services.followups import handle_inbound

    contact = contact or message.contact
    if contact is None:
        return
    try:
        handle_inbound(message, contact)
    except Exception:
        logger.exception("follow-ups: message %s not applied", message.pk)


@receiver(consent_changed, dispatch_uid="wacloud.automation.followups.consent")
def followups_on_consent(sender: Any, contact: Any, purpose: str, status: Any = None, **kwargs: Any) -> None:
    from .services.followups import handle_consent_changed

    try:
        handle_consent_changed(contact, purpose, status)
    except Exception:
        logger.exception("follow-ups: consent change of contact %s not applied", contact.pk)
