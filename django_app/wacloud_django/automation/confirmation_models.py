"""The table of Y/N confirmations (docs/automation.md, "Confirmations"). Imported by
``wacloud_django.models`` so Django finds it; core models are named by string (no cycle)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Confirmation(models.Model):
    """A question put to a contact ("schedule a meeting with John?") that their reply
    answers: confirmed, declined or cancelled; expired when nobody answered in time.
    Written only by ``automation.services.confirmations``; every change of ``status`` is a
    conditional UPDATE from ``pending`` (or ``queued``), so an outcome is applied once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued (waits for the contact's current confirmation)"
        PENDING = "pending", "Pending (asked, waiting for the reply)"
        CONFIRMED = "confirmed", "Confirmed"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    #: Statuses that are final: the confirmation never changes again.
    RESOLVED = (Status.CONFIRMED, Status.DECLINED, Status.CANCELLED, Status.EXPIRED)

    organization = models.ForeignKey(
        "wacloud.Organization", on_delete=models.CASCADE, related_name="confirmations"
    )
    account = models.ForeignKey("wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="confirmations")
    action_type = models.CharField(
        max_length=100, help_text="The caller's kind of action, e.g. calendar_create."
    )
    description = models.CharField(max_length=500, help_text="What will be done, e.g. schedule a meeting.")
    details = models.CharField(max_length=500, blank=True, help_text="When, where, how much, ...")
    payload = models.JSONField(
        default=dict, blank=True, help_text="The caller's data, handed back on resolution."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    timeout_minutes = models.PositiveIntegerField(help_text="Counted from when the question is sent.")
    requested_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the question was sent (queued: not yet)."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The outbound message that asked (interactive buttons or the confirmation_request template).
    request_message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The inbound message that answered (a button tap or a Y/N/CANCEL text).
    reply_message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True, help_text="Why a queued confirmation could not be sent.")

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(fields=["contact", "status"], name="wacloud_confirmation_contact"),
            models.Index(fields=["status", "expires_at"], name="wacloud_confirmation_expiry"),
            models.Index(fields=["organization", "-requested_at"], name="wacloud_confirmation_org"),
        ]

    def __str__(self) -> str:
        return f"{self.action_type}: {self.description} [{self.status}]"
