"""Automation's tables. Imported by ``wacloud_django.models`` so Django finds them; they
name the core models by string, so this module never imports that one (no cycle)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..crypto import encrypted_property


class ConsentQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("consent records are append-only: record a new one instead of updating")


class ConsentRecord(models.Model):
    """One grant or revocation of a contact's consent for one purpose. Append-only:
    rows are never changed, so the table is the contact's history; the current state
    per purpose is the latest record (by ``occurred_at``, then id). Written only by
    ``automation.services.consent.record_consent``, which keeps ``Contact.opted_out``
    in step for ``whatsapp_messaging``."""

    class Purpose(models.TextChoices):
        # Any message at all: revoking it is opting out of everything (``Contact.opted_out``).
        WHATSAPP_MESSAGING = "whatsapp_messaging", "WhatsApp messaging"
        MARKETING = "marketing", "Marketing"

    class Status(models.TextChoices):
        GRANTED = "granted", "Granted"
        REVOKED = "revoked", "Revoked"

    class Source(models.TextChoices):
        KEYWORD = "keyword", "Keyword (STOP, START, ...)"
        API = "api", "REST API"
        IMPORT = "import", "Import"
        ADMIN = "admin", "Admin"
        # Meta's user_preferences webhook: the user tapped "stop"/"resume" marketing messages.
        USER_PREFERENCES = "user_preferences", "Meta user preferences"
        SYSTEM = "system", "System"

    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="consent_records")
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    text = models.TextField(blank=True, help_text="The consent text shown, or the keyword the user sent.")
    source = models.CharField(max_length=16, choices=Source.choices)
    # The inbound message that carried a keyword (the evidence), when there is one.
    message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="Who, as it was when written.")
    occurred_at = models.DateTimeField(
        default=timezone.now, help_text="When the user gave or withdrew it (Meta's time for webhooks)."
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["contact", "purpose", "-occurred_at"], name="wacloud_consent_current"),
            models.Index(fields=["purpose", "status"], name="wacloud_consent_purpose"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.purpose} {self.status} ({self.source})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("consent records are append-only: record a new one instead of changing it")
        super().save(*args, **kwargs)


def _new_webhook_secret() -> str:
    import secrets

    return secrets.token_hex(32)


class SupportRule(models.Model):
    """Seed 000's ``customer_support`` workflow: trigger keywords answered with an auto
    response, escalate conditions that flag the conversation for a person, optional
    business hours with an away message. Written only by ``automation.services.support``."""

    organization = models.ForeignKey(
        "wacloud.Organization", on_delete=models.CASCADE, related_name="support_rules"
    )
    # Null: every account of the organization.
    account = models.ForeignKey(
        "wacloud.BusinessAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="support_rules",
    )
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    trigger_keywords = models.JSONField(default=list, blank=True)
    auto_response = models.TextField(blank=True)
    escalate_conditions = models.JSONField(default=list, blank=True)
    cooldown_seconds = models.PositiveIntegerField(
        default=3600, help_text="At most one auto response per conversation in this time."
    )
    # Escalations go to this user; unset: round robin among the organization's agents and above.
    escalate_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    webhook_url = models.URLField(max_length=500, blank=True, help_text="POSTed on each escalation.")
    # Signs the escalation webhook; stored encrypted like the accounts' secrets.
    webhook_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    # {"timezone": "America/Sao_Paulo", "ranges": [{"days": "mon-fri", "start": "09:00", "end": "18:00"}]}
    business_hours = models.JSONField(default=dict, blank=True)
    away_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["organization", "is_active"], name="wacloud_support_rule_org")]

    webhook_secret = encrypted_property("webhook_secret_encrypted", "wacloud.SupportRule.webhook_secret")

    def __str__(self) -> str:
        return self.name or f"customer_support #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        if not self.webhook_secret_encrypted:
            self.webhook_secret = _new_webhook_secret()
        super().save(*args, **kwargs)


class SupportFiring(models.Model):
    """One thing a rule did for one inbound message. Unique per (rule, message, kind), so a
    redelivered message never fires twice; the latest auto response per conversation is
    what the cooldown is measured from."""

    class Kind(models.TextChoices):
        AUTO_RESPONSE = "auto_response", "Auto response"
        AWAY = "away", "Away message"
        ESCALATION = "escalation", "Escalation"

    rule = models.ForeignKey(SupportRule, on_delete=models.CASCADE, related_name="firings")
    message = models.ForeignKey("wacloud.Message", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "wacloud.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reply = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "message", "kind"], name="wacloud_support_firing_once")
        ]
        indexes = [
            models.Index(fields=["conversation", "kind", "-created_at"], name="wacloud_support_cooldown")
        ]


class Escalation(models.Model):
    """A conversation flagged for a person. At most one open (unresolved) per conversation."""

    class Priority(models.TextChoices):
        NORMAL = "normal", "Normal"
        URGENT = "urgent", "Urgent"

    organization = models.ForeignKey(
        "wacloud.Organization", on_delete=models.CASCADE, related_name="escalations"
    )
    conversation = models.ForeignKey(
        "wacloud.Conversation", on_delete=models.CASCADE, related_name="escalations"
    )
    rule = models.ForeignKey(
        SupportRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.URGENT)
    reason = models.CharField(max_length=200, blank=True, help_text="The condition that matched.")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(resolved_at__isnull=True),
                name="wacloud_one_open_escalation",
            )
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="wacloud_escalation_org")]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.priority} ({self.reason})"
