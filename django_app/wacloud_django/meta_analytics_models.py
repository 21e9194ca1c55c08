"""Meta's own figures of an account's UTC day, imported from its analytics endpoints
(``services.meta_analytics``; the ``whatsapp_import_meta_analytics`` command): messages sent
and delivered, billed volume and cost per pricing category and type, and per-template sends,
reads, clicks and cost. They sit beside our own rollup (``DailyRollup``), which counts what our
database saw; Meta's are the ones it bills. Imported by ``wacloud_django.models``."""

from __future__ import annotations

from django.db import models


class MetaDailyFigures(models.Model):
    """Meta's analytics of one account's UTC day (``date``), as last imported."""

    organization = models.ForeignKey("wacloud.Organization", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey("wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="+")
    date = models.DateField(help_text="The UTC day: [date 00:00 UTC, date+1 00:00 UTC).")
    imported_at = models.DateTimeField()
    sent = models.PositiveBigIntegerField(default=0)
    delivered = models.PositiveBigIntegerField(default=0)
    # Delivered messages Meta priced (billable or free) and what they cost, in ``currency``.
    volume = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    currency = models.CharField(max_length=3, default="USD")
    # {"MARKETING": {"volume": 2, "cost": "0.05"}, ...}; by pricing type alike (REGULAR, FREE_...).
    by_pricing_category = models.JSONField(default=dict, blank=True)
    by_pricing_type = models.JSONField(default=dict, blank=True)
    # {template id: {"name", "sent", "delivered", "read", "clicked", "cost"}}.
    templates = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["date", "account"]
        verbose_name_plural = "Meta daily figures"
        constraints = [models.UniqueConstraint(fields=["account", "date"], name="wacloud_meta_day_account")]
        indexes = [models.Index(fields=["organization", "date"], name="wacloud_meta_day_org")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.date}: {self.volume} priced, {self.cost} {self.currency}"
