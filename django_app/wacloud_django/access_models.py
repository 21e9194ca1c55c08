"""Who may see and do what: organizations (tenants), memberships with a role, API
tokens and the append-only audit log. Imported by ``models`` so Django finds them.

Every row users see belongs to one organization through its ``BusinessAccount``;
services/tenancy.py is the one place that scopes querysets by it."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """Ordered: each role may do everything the roles before it may."""

    VIEWER = "viewer", "Viewer"
    AGENT = "agent", "Agent"
    MARKETER = "marketer", "Marketer"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role: str) -> int:
        return list(cls.values).index(role)


class Organization(models.Model):
    """A tenant: its accounts, and through them contacts, conversations, messages,
    templates and media, are visible to its members only."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    # Overrides of WACLOUD["RETENTION"] for this organization's data (docs/privacy.md).
    retention = models.JSONField(
        default=dict,
        blank=True,
        help_text='Days kept, overriding WACLOUD["RETENTION"] for this organization, e.g. '
        '{"MESSAGE_CONTENT_DAYS": 30}; null keeps for ever.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from .services.retention import check_organization_retention

        try:
            check_organization_retention(self.retention)
        except ValueError as error:
            raise ValidationError({"retention": str(error)}) from None

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one organization."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wacloud_memberships"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="wacloud_membership_user_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


def _hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A REST API token. Only its SHA-256 is stored: the key is shown once, when made."""

    PREFIX = "wac_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wacloud_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False, help_text="The key's first characters.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.key_prefix}... ({self.user})"

    @classmethod
    def issue(cls, user: models.Model, name: str = "") -> tuple[ApiToken, str]:
        """A new token for ``user`` and its key (the only time the key exists in clear)."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=_hash_token(key), key_prefix=key[:12])
        return token, key

    @classmethod
    def find(cls, key: str) -> ApiToken | None:
        token = cls.objects.select_related("user").filter(key_hash=_hash_token(key)).first()
        if token is None or (token.expires_at is not None and token.expires_at <= timezone.now()):
            return None
        return token


class AuditEntry(models.Model):
    """One write made through any door: who, in which organization, what, to which
    object, which fields changed (secrets masked), from where and when. Append-only:
    rows are never changed, and only the retention cleanup deletes them."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="Who, as it was when written.")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    source = models.CharField(max_length=16, help_text="api, admin, command, task, automation, system")
    action = models.CharField(max_length=64, help_text="e.g. integration.create, message.send")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="field: [before, after]")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="wacloud_audit_org_time"),
            models.Index(fields=["object_type", "object_id"], name="wacloud_audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or 'system'} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("audit entries are append-only")
        super().save(*args, **kwargs)
