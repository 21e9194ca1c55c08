"""The help desk listens to ``message_received`` (connected from ``WacloudConfig.ready``).
Signals are sent after the message's transaction committed, so the ticket is written in
a transaction of its own, and a failure here is logged without undoing the message."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ..signals import message_received


@receiver(message_received, dispatch_uid="wacloud.helpdesk")
def file_inbound_message(
    sender: Any, message: Any, contact: Any = None, account: Any = None, **kwargs: Any
) -> None:
    from .services.intake import handle_message

    handle_message(message, contact, account or message.account)
