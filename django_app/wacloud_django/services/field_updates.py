"""What webhooks say about templates (status, quality, category) and users' marketing
preferences: the fields wacloud models beyond messages and statuses."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.utils import timezone

from .. import signals
from ..log_privacy import get_logger
from ..models import BusinessAccount, Template
from .statuses import send_signal_on_commit

logger = get_logger("wacloud.inbound")


def _template(
    account: BusinessAccount | None, item: Any, name: str, language: str, template_id: str
) -> Template:
    waba_id = item.waba_id or (account.waba_id if account else "")
    template, _ = Template.objects.get_or_create(
        waba_id=waba_id,
        name=name,
        language=language,
        defaults={"account": account, "template_id": template_id},
    )
    return Template.objects.select_for_update().get(pk=template.pk)


def apply_template_status(item: Any, account: BusinessAccount | None) -> Template:
    """Apply a ``TemplateStatusUpdate``; an update older than the stored one is ignored."""
    template = _template(account, item, item.template_name, item.language, str(item.template_id))
    when = item.timestamp or timezone.now()
    if template.status_updated_at and when < template.status_updated_at:
        logger.info("ignoring template %s status %s older than the stored one", template, item.status)
        return template
    previous = template.status
    template.status = item.status[:32]
    template.status_updated_at = when
    template.template_id = template.template_id or str(item.template_id)
    template.account = template.account or account
    if item.category:
        template.category = item.category[:32]
    template.rejection_reason = "" if item.reason in (None, "NONE") else item.reason[:255]
    template.save()
    if previous != template.status:
        send_signal_on_commit(
            signals.template_status_changed, sender=Template, template=template, status=template.status,
            previous_status=previous, event=item, account=account,
        )  # fmt: skip
    return template


def apply_field_update(item: Any, account: BusinessAccount | None) -> None:
    """The fields wacloud models beyond messages: template quality and category,
    and users' marketing preferences. Everything else only reaches receivers of
    ``webhook_event_received`` (the body stays on the ``WebhookEvent``)."""
    value = item.value
    quality_fields = ("message_template_quality_update", "template_category_update")
    # Meta's own docs once labelled a quality update with the status field: read it by its shape.
    mislabelled = item.field == "message_template_status_update" and "new_quality_score" in value
    if item.field in quality_fields or mislabelled:
        name, language = value.get("message_template_name"), value.get("message_template_language")
        if not name or not language:
            return
        template = _template(
            account, item, str(name), str(language), str(value.get("message_template_id", ""))
        )
        if value.get("new_quality_score"):
            template.quality_score = str(value["new_quality_score"])[:16]
        if value.get("new_category"):
            template.category = str(value["new_category"])[:32]
        template.save()
    elif item.field == "user_preferences" and account is not None:
        for preference in value.get("user_preferences") or []:
            _apply_marketing_preference(account, preference)


def _apply_marketing_preference(account: BusinessAccount, preference: dict[str, Any]) -> None:
    """``stop`` revokes the contact's ``marketing`` consent, ``resume`` grants it again
    (a record each, automation/services/consent.py); the newer preference wins when they
    arrive out of order. Service messages are not affected."""
    value = preference.get("value")
    if (
        preference.get("category") != "marketing_messages"
        or not (preference.get("wa_id") or preference.get("user_id"))
        or value not in ("stop", "resume")
    ):
        return
    stamp = preference.get("timestamp")
    when = (
        datetime.fromtimestamp(int(stamp), tz=dt_timezone.utc)
        if str(stamp or "").isdigit()
        else timezone.now()
    )
    from ..automation.services.consent import record_marketing_preference
    from .contact_identity import Identity, contact_for

    # The number, the business-scoped user id (a user who hides their number), or both.
    identity = Identity(str(preference.get("wa_id") or ""), str(preference.get("user_id") or "")).check()
    contact, _ = contact_for(account, identity)
    record_marketing_preference(contact, value, when, detail=str(preference.get("detail") or ""))
