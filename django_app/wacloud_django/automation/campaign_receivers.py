"""Campaign recipients follow their messages: status webhooks move them to delivered, read
or failed, a reply marks them replied, and a paused template pauses the campaigns that send
it (connected from ``WacloudConfig.ready``; signals arrive after the commit)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ..signals import message_received, message_status_changed, template_status_changed


@receiver(message_status_changed, dispatch_uid="wacloud.automation.campaign_status")
def follow_message_status(sender: Any, message: Any, status: str, **kwargs: Any) -> None:
    # Only campaign sends carry this reference: other messages cost no query.
    if (message.reference or "").startswith("campaign:"):
        from .services.campaign_tracking import apply_message_status

        apply_message_status(message, status)


@receiver(message_received, dispatch_uid="wacloud.automation.campaign_reply")
def follow_reply(sender: Any, message: Any, contact: Any = None, **kwargs: Any) -> None:
    if contact is not None and message.direction == "inbound":
        from .services.campaign_tracking import apply_reply

        apply_reply(message, contact)


@receiver(template_status_changed, dispatch_uid="wacloud.automation.campaign_template")
def follow_template_status(sender: Any, template: Any, status: str, **kwargs: Any) -> None:
    if status in ("PAUSED", "DISABLED"):
        from .services.campaign_tracking import pause_for_template

        pause_for_template(template, status)
