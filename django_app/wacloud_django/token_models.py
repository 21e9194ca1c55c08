"""What Meta last said about an account's access token (``debug_token``), kept so the
monitor, the API and the expiry warning need no network. Imported by
``wacloud_django.models``; core models are named by string (no cycle). Written only by
``services/tokens.py``."""

from __future__ import annotations

from django.db import models


class AccessTokenStatus(models.Model):
    """The last ``debug_token`` answer for the account's current token. ``fingerprint``
    names the token it describes: after a rotation an older status no longer applies."""

    account = models.OneToOneField(
        "wacloud.BusinessAccount", on_delete=models.CASCADE, related_name="token_status"
    )
    fingerprint = models.CharField(max_length=16, help_text="SHA-256 prefix of the token checked.")
    checked_at = models.DateTimeField()
    is_valid = models.BooleanField(default=False)
    # None: the token never expires (system user tokens).
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    data_access_expires_at = models.DateTimeField(null=True, blank=True)
    token_type = models.CharField(max_length=32, blank=True)
    app_id = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=64, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    granular_scopes = models.JSONField(default=list, blank=True, help_text="[{scope, target_ids}]")
    missing_permissions = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="Meta's reason when not valid.")
    rotated_at = models.DateTimeField(null=True, blank=True)
    # The day (UTC) the expiry warning last went out: at most one a day per account.
    warned_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = "access token status"
        verbose_name_plural = "access token statuses"

    def __str__(self) -> str:
        return f"token of {self.account_id}: {'valid' if self.is_valid else 'invalid'}"
