"""The help desk's tables. Imported by ``wacloud_django.models`` so Django finds them; they
name the core models by string, so this module never imports that one (no cycle)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class HelpdeskSession(models.Model):
    """A contact's conversation with the help desk: one row per contact (and account), active
    while messages keep coming. Past ``SESSION_TIMEOUT_HOURS`` of silence (or after /new,
    /cancel) the next message opens a new ticket. ``ticket_number`` is the backend's number,
    so sessions work the same whatever backend keeps the tickets."""

    account = models.ForeignKey("wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="helpdesk_sessions")
    ticket_number = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "contact"], name="wacloud_helpdesk_session_per_contact"
            )
        ]
        indexes = [models.Index(fields=["is_active", "last_activity_at"], name="wacloud_helpdesk_activity")]

    def __str__(self) -> str:
        state = "active" if self.is_active else "ended"
        return f"session of {self.contact_id} ({state}, ticket {self.ticket_number or '-'})"


class Ticket(models.Model):
    """A support ticket of the built-in backend. ``number`` counts per organization (what the
    customer sees, and what ``POST send``'s ``ticketId`` names)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    organization = models.ForeignKey("wacloud.Organization", on_delete=models.CASCADE, related_name="tickets")
    account = models.ForeignKey("wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="tickets")
    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="tickets")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # The message that opened it.
    message = models.ForeignKey("wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")  # fmt: skip
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="wacloud_ticket_number_per_org")
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="wacloud_ticket_org_status"),
            models.Index(fields=["organization", "-created_at"], name="wacloud_ticket_org_created"),
            models.Index(fields=["contact", "status"], name="wacloud_ticket_contact_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} ({self.status})"


class TicketComment(models.Model):
    """One entry of a ticket's thread: a customer's message, an agent's reply, or a note."""

    class Author(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.CharField(max_length=16, choices=Author.choices, default=Author.CUSTOMER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    # The WhatsApp message it came from (inbound) or went as (an agent's reply).
    message = models.ForeignKey("wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")  # fmt: skip
    # The attachment: the message's media, stored and SHA-256-checked by the media service.
    attachment = models.ForeignKey("wacloud.MediaFile", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="wacloud_ticket_comment_time")]

    def __str__(self) -> str:
        return f"{self.author} on {self.ticket_id}"
