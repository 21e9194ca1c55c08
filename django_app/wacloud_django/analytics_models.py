"""The analytics rollup: one row per account and UTC day of the figures that add up
(docs/analytics.md). Imported by ``wacloud_django.models`` so Django finds it; it names
the core models by string, so this module never imports that one (no cycle).

Written only by ``services.analytics_rollup`` (the ``rollup_analytics`` task and the
``whatsapp_rollup`` command): rebuilding a day replaces all of its organization's rows in
one transaction, so a day with any row for an organization is complete for it."""

from __future__ import annotations

from django.db import models

#: Counts (non-negative integers) kept per day; summed over days.
ROLLUP_COUNTS = (
    "messages", "inbound", "outbound",
    "turns", "answered", "first_turns", "first_answered", "windows_opened",
    "conversations_opened", "escalations",
    "new_contacts", "opt_ins", "opt_outs",
    "tickets_created", "tickets_via_whatsapp", "tickets_resolved",
    "webhooks_received", "webhooks_failed", "store_latency_count", "process_latency_count",
)  # fmt: skip
#: Sums of seconds kept per day (averages are a sum over a count above).
ROLLUP_SECONDS = (
    "wait_seconds", "first_wait_seconds", "resolution_seconds", "store_latency_seconds",
    "process_latency_seconds",
)  # fmt: skip
#: Breakdowns (``{key: count}``), merged key by key: message types, outbound statuses, error
#: codes, response-time histograms (bucket index: ``services.analytics_figures.bucket_of``),
#: template messages sent and read by template name.
ROLLUP_BREAKDOWNS = (
    "by_type", "outbound_by_status", "failures_by_code", "wait_histogram", "first_wait_histogram",
    "template_sent", "template_read",
)  # fmt: skip

#: Sets of ids kept per day as zlib-compressed bitsets (``services.analytics_people``), ORed
#: over days: contacts with a message, contacts that wrote, conversations with a message,
#: contacts stored that day.
ROLLUP_ID_SETS = ("contact_ids", "writer_ids", "conversation_ids", "new_contact_ids")


class DailyRollup(models.Model):
    """The additive figures of one account's UTC day (``date``)."""

    organization = models.ForeignKey("wacloud.Organization", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="+")
    date = models.DateField(help_text="The UTC day: [date 00:00 UTC, date+1 00:00 UTC).")
    built_at = models.DateTimeField()

    messages = models.PositiveBigIntegerField(default=0)
    inbound = models.PositiveBigIntegerField(default=0)
    outbound = models.PositiveBigIntegerField(default=0)
    # Customer turns (an inbound message after a business message, or the conversation's
    # first), those answered, and the waits until the answer; "first" is each conversation's first.
    turns = models.PositiveBigIntegerField(default=0)
    answered = models.PositiveBigIntegerField(default=0)
    wait_seconds = models.FloatField(default=0)
    first_turns = models.PositiveBigIntegerField(default=0)
    first_answered = models.PositiveBigIntegerField(default=0)
    first_wait_seconds = models.FloatField(default=0)
    windows_opened = models.PositiveBigIntegerField(default=0)
    conversations_opened = models.PositiveBigIntegerField(default=0)
    escalations = models.PositiveBigIntegerField(default=0)
    new_contacts = models.PositiveBigIntegerField(default=0)
    opt_ins = models.PositiveBigIntegerField(default=0)
    opt_outs = models.PositiveBigIntegerField(default=0)
    tickets_created = models.PositiveBigIntegerField(default=0)
    tickets_via_whatsapp = models.PositiveBigIntegerField(default=0)
    tickets_resolved = models.PositiveBigIntegerField(default=0)
    resolution_seconds = models.FloatField(default=0)
    webhooks_received = models.PositiveBigIntegerField(default=0)
    webhooks_failed = models.PositiveBigIntegerField(default=0)
    store_latency_count = models.PositiveBigIntegerField(default=0)
    store_latency_seconds = models.FloatField(default=0)
    process_latency_count = models.PositiveBigIntegerField(default=0)
    process_latency_seconds = models.FloatField(default=0)

    by_type = models.JSONField(default=dict, blank=True)
    outbound_by_status = models.JSONField(default=dict, blank=True)
    failures_by_code = models.JSONField(default=dict, blank=True)
    wait_histogram = models.JSONField(default=dict, blank=True)
    first_wait_histogram = models.JSONField(default=dict, blank=True)
    template_sent = models.JSONField(default=dict, blank=True)
    template_read = models.JSONField(default=dict, blank=True)

    contact_ids = models.BinaryField(default=b"", blank=True)
    writer_ids = models.BinaryField(default=b"", blank=True)
    conversation_ids = models.BinaryField(default=b"", blank=True)
    new_contact_ids = models.BinaryField(default=b"", blank=True)

    class Meta:
        ordering = ["date", "account"]
        constraints = [models.UniqueConstraint(fields=["account", "date"], name="wacloud_rollup_account_day")]
        indexes = [models.Index(fields=["organization", "date"], name="wacloud_rollup_org_day")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}: {self.messages} messages"
