"""Scheduled messages' tables: appointment reminders, follow-up sequences, daily summaries
(docs/automation.md). Imported by ``wacloud_django.models``; core models are named by string.
Written only by ``automation.services.reminders``, ``followups`` and ``summaries``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ReminderPolicy(models.Model):
    """Seed 000's ``appointment_reminder`` workflow: send ``template_name`` this many hours
    before each appointment (``intervals``, e.g. ``[24, 2, 0.5]``)."""

    organization = models.ForeignKey(
        "wacloud.Organization", on_delete=models.CASCADE, related_name="reminder_policies"
    )
    # Null: appointments of every account of the organization.
    account = models.ForeignKey(
        "wacloud.BusinessAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200, blank=True)
    intervals = models.JSONField(default=list, help_text="Hours before the start, e.g. [24, 2, 0.5].")
    template_name = models.CharField(max_length=512)
    template_language = models.CharField(max_length=16, default="en_US")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "reminder policies"

    def __str__(self) -> str:
        return self.name or f"appointment_reminder #{self.pk}"


class Appointment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"

    organization = models.ForeignKey("wacloud.Organization", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="appointments")
    policy = models.ForeignKey(ReminderPolicy, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC", help_text="How times are written to them.")
    template_parameters = models.JSONField(
        default=list, blank=True, help_text="Body parameters; empty: the contact's name and the start time."
    )
    title = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=64, blank=True, help_text="Your own id for it.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        indexes = [models.Index(fields=["organization", "starts_at"], name="wacloud_appointment_org")]

    def __str__(self) -> str:
        return f"{self.contact_id} at {self.starts_at:%Y-%m-%d %H:%M} UTC ({self.status})"


class Outcome(models.TextChoices):
    """What became of one scheduled send (a reminder, a follow-up step, a summary)."""

    PENDING = "pending", "Pending"
    SENT = "sent", "Sent (queued for delivery)"
    SKIPPED = "skipped", "Skipped"
    REFUSED = "refused", "Refused (consent)"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class AppointmentReminder(models.Model):
    """One (appointment, interval) reminder and its due time. The beat task claims a row by
    moving it from ``pending`` in a conditional UPDATE, so it is sent at most once."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    interval_hours = models.DecimalField(max_digits=8, decimal_places=3)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True, help_text="Why skipped, refused or failed.")
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "interval_hours"], name="wacloud_reminder_once")
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="wacloud_reminder_due")]

    def __str__(self) -> str:
        return f"{self.appointment_id} -{self.interval_hours}h {self.status}"


class FollowUpSequence(models.Model):
    class Trigger(models.TextChoices):
        FIRST_INBOUND = "first_inbound", "First message of a contact"
        TAG_ADDED = "tag_added", "A tag added to a contact"
        API = "api", "Started through the API only"

    class Purpose(models.TextChoices):
        WHATSAPP_MESSAGING = "whatsapp_messaging", "Service / utility"
        MARKETING = "marketing", "Marketing"

    organization = models.ForeignKey(
        "wacloud.Organization", on_delete=models.CASCADE, related_name="followup_sequences"
    )
    account = models.ForeignKey(
        "wacloud.BusinessAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.API)
    trigger_tag = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=32, choices=Purpose.choices, default=Purpose.WHATSAPP_MESSAGING)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["organization", "trigger", "is_active"], name="wacloud_sequence_trig")
        ]

    def __str__(self) -> str:
        return self.name


class FollowUpStep(models.Model):
    class Condition(models.TextChoices):
        ALWAYS = "always", "Always"
        NO_REPLY_SINCE = "no_reply_since", "No reply since step N"
        READ_NO_REPLY = "read_no_reply", "Read but no reply"

    sequence = models.ForeignKey(FollowUpSequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(help_text="1, 2, 3, ... in the order they are sent.")
    delay_seconds = models.PositiveIntegerField(help_text="After the previous step (the first: the start).")
    text = models.TextField(blank=True, help_text="Sent inside the 24-hour window.")
    template_name = models.CharField(max_length=512, blank=True, help_text="Sent outside the window.")
    template_language = models.CharField(max_length=16, blank=True, default="en_US")
    template_parameters = models.JSONField(default=list, blank=True)
    condition = models.CharField(max_length=16, choices=Condition.choices, default=Condition.ALWAYS)
    # The step the condition looks at; null: the previous one.
    condition_step = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="wacloud_followup_step_position")
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id} step {self.position}"


class FollowUpEnrollment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    sequence = models.ForeignKey(FollowUpSequence, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    stop_reason = models.CharField(max_length=32, blank=True, help_text="reply, opt_out, end, api, ...")
    next_position = models.PositiveIntegerField(default=1)
    next_due_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=Q(status="active"),
                name="wacloud_one_active_enrollment",
            )
        ]
        indexes = [models.Index(fields=["status", "next_due_at"], name="wacloud_enrollment_due")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.sequence_id} ({self.status})"


class FollowUpDelivery(models.Model):
    """What one step did for one enrollment: unique, so a step never runs twice."""

    enrollment = models.ForeignKey(FollowUpEnrollment, on_delete=models.CASCADE, related_name="deliveries")
    step = models.ForeignKey(FollowUpStep, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="wacloud_followup_step_once")
        ]


class DailySummarySubscription(models.Model):
    """A contact who gets a summary every day at ``local_time`` in ``timezone``, built by a
    host-project callable. ``next_run_at`` (UTC) is the next local occurrence."""

    contact = models.ForeignKey("wacloud.Contact", on_delete=models.CASCADE, related_name="+")
    local_time = models.TimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    builder = models.CharField(
        max_length=255,
        blank=True,
        help_text='Dotted path; empty: WACLOUD["AUTOMATION"]["DAILY_SUMMARY_BUILDER"].',
    )
    template_name = models.CharField(max_length=512, default="daily_summary")
    template_language = models.CharField(max_length=16, default="en_US")
    is_active = models.BooleanField(default=True)
    next_run_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["contact"], name="wacloud_one_summary_per_contact")]
        indexes = [models.Index(fields=["is_active", "next_run_at"], name="wacloud_summary_due")]

    def __str__(self) -> str:
        return f"{self.contact_id} at {self.local_time} {self.timezone}"


class DailySummaryRun(models.Model):
    """One local day of one subscription: unique, so a day is never sent twice."""

    subscription = models.ForeignKey(DailySummarySubscription, on_delete=models.CASCADE, related_name="runs")
    local_date = models.DateField()
    status = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.ForeignKey(
        "wacloud.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-local_date", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "local_date"], name="wacloud_summary_once_a_day")
        ]
