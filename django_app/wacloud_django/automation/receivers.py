"""Customer support rules listen to ``message_received`` (connected from ``WacloudConfig.ready``).
Signals are sent after the message's transaction committed, and consent keywords were
applied before that, so a STOP is never answered here (see automation/services/support.py)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ..signals import message_received


@receiver(message_received, dispatch_uid="wacloud.automation.support")
def apply_support_rules(
    sender: Any, message: Any, contact: Any = None, account: Any = None, **kwargs: Any
) -> None:
    from .services.support import handle_message

    handle_message(message, contact, account or message.account)
