"""What happens to a campaign after its messages left: status webhooks, replies, templates
paused by Meta. Called by ``automation.campaign_receivers``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from wacloud.errors import WacloudError

from ...log_privacy import get_logger
from ...models import Campaign, CampaignRecipient, Message
from .campaign_sending import MARKETING_LIMIT, PAUSING_CODES
from .campaigns import campaign_setting, pause_campaign

logger = get_logger("wacloud.campaigns")
Recipient = CampaignRecipient.Status

#: A message status -> the recipient status it moves to, from the statuses below it.
_MOVES = {
    Message.Status.DELIVERED: (Recipient.DELIVERED, (Recipient.SENT,)),
    Message.Status.READ: (Recipient.READ, (Recipient.SENT, Recipient.DELIVERED)),
    Message.Status.FAILED: (Recipient.FAILED, (Recipient.SENT, Recipient.DELIVERED)),
}


def apply_message_status(message: Message, status: str) -> int:
    """Move the recipient of ``message`` forward (never back: a late ``delivered`` after
    ``read`` changes nothing). A failed 131048 pauses the campaign; 131049 (the per-user
    marketing limit) only fails that recipient."""
    move = _MOVES.get(status)
    if move is None:
        return 0
    target, from_statuses = move
    changes: dict[str, Any] = {"status": target, "updated_at": timezone.now()}
    if target == Recipient.FAILED:
        changes.update(
            error_code=message.error_code, error=(message.error_message or message.error_title)[:500]
        )
    rows = CampaignRecipient.objects.filter(message=message, status__in=from_statuses)
    campaign_ids = list(rows.values_list("campaign_id", flat=True))
    updated = rows.update(**changes)
    if updated and target == Recipient.FAILED and message.error_code in PAUSING_CODES:
        for campaign in Campaign.objects.filter(pk__in=campaign_ids, status=Campaign.Status.RUNNING):
            _pause(campaign, PAUSING_CODES[message.error_code])
    elif updated and message.error_code == MARKETING_LIMIT:
        logger.info(
            "campaign message %s: the recipient reached Meta's marketing limit (131049)", message.wamid
        )
    return updated


def apply_reply(message: Message, contact: Any) -> int:
    """An inbound message within ``WACLOUD["CAMPAIGNS"]["REPLY_WINDOW_HOURS"]`` of a campaign
    message marks that recipient ``replied``: the one it quotes, else the latest sent."""
    since = timezone.now() - timedelta(hours=campaign_setting("REPLY_WINDOW_HOURS"))
    replying = (Recipient.SENT, Recipient.DELIVERED, Recipient.READ)
    from ...services.batch_scope import known_absent

    if known_absent("campaign_recipients", contact.pk, lambda contacts: CampaignRecipient.objects.filter(
        contact_id__in=contacts, sent_at__gte=since, status__in=replying
    ).values_list("contact_id", flat=True)):  # fmt: skip
        return 0  # in a batch, one query told that none of its contacts was sent a campaign lately
    candidates = CampaignRecipient.objects.filter(contact=contact, sent_at__gte=since, status__in=replying)
    target = None
    if message.reply_to_wamid:
        target = candidates.filter(wamid=message.reply_to_wamid).values_list("pk", flat=True).first()
    if target is None:
        target = candidates.order_by("-sent_at", "-pk").values_list("pk", flat=True).first()
    if target is None:
        return 0
    return CampaignRecipient.objects.filter(pk=target).update(
        status=Recipient.REPLIED, updated_at=timezone.now()
    )


def pause_for_template(template: Any, status: str) -> int:
    """Meta paused or disabled a template: every running or scheduled campaign sending it
    (either variant) from an account of that WABA pauses; resume once it is active again."""
    campaigns = Campaign.objects.filter(
        status__in=(Campaign.Status.RUNNING, Campaign.Status.SCHEDULED), account__waba_id=template.waba_id
    )
    paused = 0
    for campaign in campaigns:
        uses = (campaign.template_name, campaign.template_language) == (template.name, template.language) or (
            campaign.variant_b_template_name,
            campaign.variant_b_template_language,
        ) == (template.name, template.language)
        if uses and _pause(campaign, f"template {template.name} ({template.language}) is {status}"):
            paused += 1
    return paused


def _pause(campaign: Campaign, reason: str) -> bool:
    try:
        pause_campaign(campaign, reason)
    except WacloudError:
        return False  # paused, cancelled or completed meanwhile
    logger.warning("campaign %s paused: %s", campaign.pk, reason)
    return True
