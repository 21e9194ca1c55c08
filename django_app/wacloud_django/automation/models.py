"""Automation's tables. Imported by ``wacloud_django.models`` so Django finds them; they
name the core models by string, so this module never imports that one (no cycle)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
