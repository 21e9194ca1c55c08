"""Live updates for the web inbox and other front ends: each new message, status and
conversation change is pushed to the organization's group on the Channels layer, after the
commit that stored it (the signals are sent after commit). Without ``channels`` installed or
``CHANNEL_LAYERS`` configured nothing is sent, and the pages keep polling (docs/inbox.md)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..log_privacy import get_logger

logger = get_logger("wacloud.live")


def group_name(organization_id: int) -> str:
    """The Channels group of one organization's members."""
    return f"wacloud_inbox.{organization_id}"


def publish(organization_id: int, event: dict[str, Any]) -> bool:
    """Send ``event`` to the organization's group; False when there is no channel layer.
    Best effort: a layer that fails is logged and the pages' polling catches up."""
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer
    except ImportError:
        return False
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group_name(organization_id), {"type": "inbox.event", "event": event})
    except Exception as error:  # a live update never fails the change it reports
        logger.warning(
            "live update %s for organization %s failed: %s", event.get("event"), organization_id, error
        )
        return False
    return True


def publish_after_commit(organization_id: int, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(organization_id, event))


def _message_received(
    sender: Any, message: Any, account: Any, conversation: Any = None, **kwargs: Any
) -> None:
    if conversation is not None:
        publish(account.organization_id, {"event": "message", "conversation": conversation.pk,
                                          "message": message.pk, "direction": message.direction})  # fmt: skip


def _status_changed(sender: Any, message: Any, status: str, account: Any, **kwargs: Any) -> None:
    publish(account.organization_id, {"event": "status", "conversation": message.conversation_id,
                                      "message": message.pk, "status": status})  # fmt: skip


def _escalated(sender: Any, conversation: Any, account: Any, **kwargs: Any) -> None:
    publish(account.organization_id, {"event": "conversation", "conversation": conversation.pk,
                                      "change": "escalated"})  # fmt: skip


def connect() -> None:
    """Wire the receivers (AppConfig.ready)."""
    from .. import signals

    signals.message_received.connect(_message_received, dispatch_uid="wacloud-live-message")
    signals.message_status_changed.connect(_status_changed, dispatch_uid="wacloud-live-status")
    signals.conversation_escalated.connect(_escalated, dispatch_uid="wacloud-live-escalated")
