"""Marketing campaigns' tables. Imported by ``wacloud_django.models`` so Django finds them;
they name the core models by string (no import cycle). Written only by
``automation.services.campaigns`` and ``automation.services.campaign_sending``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Campaign(models.Model):
    """One template sent to an audience, from one account, at a pace (docs/automation.md).

    A recurring campaign is a schedule: each occurrence is a campaign of its own (``parent``
    names the schedule) whose audience is read again when it starts."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Audience(models.TextChoices):
        ALL = "all", "All contacts of the account"
        TAG = "tag", "Contacts with a tag"
        CSV = "csv", "Uploaded numbers"

    class Recurrence(models.TextChoices):
        NONE = "", "Once"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class WinnerMetric(models.TextChoices):
        READ_RATE = "read_rate", "Read rate"
        REPLY_RATE = "reply_rate", "Reply rate"

    organization = models.ForeignKey(
        "wacloud.Organization", on_delete=models.CASCADE, related_name="campaigns"
    )
    account = models.ForeignKey("wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    campaign_type = models.CharField(max_length=64, blank=True, help_text="Seed 000's campaign_type.")
    audience = models.CharField(max_length=8, choices=Audience.choices)
    audience_tag = models.CharField(max_length=100, blank=True)
    template_name = models.CharField(max_length=512)
    template_language = models.CharField(max_length=16)
    # Where each body parameter comes from: "name", "wa_id", "profile.<key>", "<csv column>", "text:<value>".
    parameters = models.JSONField(default=list, blank=True)
    # A/B: variant B's template, the share of recipients (percent) that get it, and what decides.
    variant_b_template_name = models.CharField(max_length=512, blank=True)
    variant_b_template_language = models.CharField(max_length=16, blank=True)
    variant_b_percent = models.PositiveSmallIntegerField(default=0)
    winner_metric = models.CharField(max_length=16, choices=WinnerMetric.choices, blank=True)
    max_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Throughput cap; empty: the account's rate limit only."
    )
    scheduled_at = models.DateTimeField(null=True, blank=True, help_text="Next start (recurring: next run).")
    recurrence = models.CharField(max_length=8, choices=Recurrence.choices, blank=True, default="")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    pause_reason = models.CharField(max_length=255, blank=True)
    # The audience was written out as recipient rows (CSV: at creation; contacts: at start).
    materialized_at = models.DateTimeField(null=True, blank=True)
    # The CSV's validation: rows, valid, duplicates, invalid count and the first invalid lines.
    audience_report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched by every batch: a running campaign silent for a lease lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="wacloud_campaign_org"),
            models.Index(fields=["status", "scheduled_at"], name="wacloud_campaign_due"),
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.status}]"


class CampaignRecipient(models.Model):
    """One recipient of one campaign: written before anything is sent, then claimed by
    one batch at a time (``claim_token``), so no recipient is sent twice or lost."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        # Claimed by a batch; ``handed_off_at`` says whether its request may have left.
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        REPLIED = "replied", "Replied"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        # Handed to the network by a worker that died before recording the answer: it may
        # have reached Meta, so it is never resent automatically.
        UNKNOWN = "unknown", "Delivery unknown"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey(
        "wacloud.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    wa_id = models.CharField(max_length=64)
    variant = models.CharField(max_length=1, default="A")
    params = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    wamid = models.CharField(max_length=255, null=True, blank=True)
    message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="Why it failed or was skipped.")
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "wa_id"], name="wacloud_campaign_recipient_once")
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="wacloud_campaign_rcpt_status"),
            models.Index(
                fields=["wamid"], condition=Q(wamid__isnull=False), name="wacloud_campaign_rcpt_wamid"
            ),
            models.Index(fields=["contact", "-sent_at"], name="wacloud_campaign_rcpt_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.wa_id} [{self.status}]"
