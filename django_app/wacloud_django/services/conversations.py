"""Conversation actions taken by people (the API, the pages): mark read, ..."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..log_privacy import get_logger
from ..models import Conversation, Message
from . import audit
from .accounts import client_for_account

logger = get_logger("wacloud.conversations")


def mark_conversation_read(conversation: Conversation, *, send_receipt: bool = True) -> dict[str, Any]:
    """Reset the unread count and, with ``send_receipt``, tell Meta the newest inbound
    message was read (the user sees blue ticks; Meta marks the earlier ones read with it).
    Returns ``{"unread_count": 0, "receipt": {"sent": bool, "error": str | None}}``: a
    receipt that fails is reported, and the count is reset either way."""
    with transaction.atomic():
        before = Conversation.objects.select_for_update().get(pk=conversation.pk).unread_count
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0, updated_at=timezone.now())
        audit.record(
            "conversation.read",
            organization=conversation.account.organization,
            target=conversation,
            changes={"unread_count": [before, 0]},
        )
    receipt: dict[str, Any] = {"sent": False, "error": None}
    newest = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.INBOUND)
        .exclude(wamid=None)
        .order_by("-timestamp", "-pk")  # same second: the later row is the newer
        .first()
    )
    if send_receipt and newest is not None:
        try:
            client_for_account(conversation.account).mark_read(newest.wamid)
            receipt["sent"] = True
        except Exception as error:  # the count is reset; the caller sees why Meta was not told
            logger.warning("read receipt for %s failed: %s", newest.wamid, error)
            receipt["error"] = f"{type(error).__name__}: {error}"
    return {"unread_count": 0, "receipt": receipt}
