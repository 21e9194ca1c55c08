"""The database side of wacloud: accounts, contacts, conversations, messages,
templates, media, raw webhook events and rate-limit counters."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import Storage, default_storage, storages
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .access_models import ApiToken, AuditEntry, Membership, Organization, Role
from .analytics_models import DailyRollup  # noqa: F401  (the analytics rollup, docs/analytics.md)
from .automation.campaign_models import Campaign, CampaignRecipient  # noqa: F401  (marketing campaigns)
from .automation.confirmation_models import Confirmation  # noqa: F401  (Y/N confirmations)
from .automation.models import ConsentRecord, Escalation, SupportFiring, SupportRule
from .automation.schedule_models import (  # noqa: F401  (scheduled messages, docs/automation.md)
    Appointment,
    AppointmentReminder,
    DailySummaryRun,
    DailySummarySubscription,
    FollowUpDelivery,
    FollowUpEnrollment,
    FollowUpSequence,
    FollowUpStep,
    ReminderPolicy,
)
from .conf import get_setting
from .crypto import encrypted_property
from .encrypted_fields import EncryptedFileField, EncryptedJSONField, EncryptedTextField
from .helpdesk.models import HelpdeskSession, Ticket, TicketComment
from .key_rotation_models import KeyRotationProgress  # noqa: F401  (whatsapp_rotate_key progress)
from .meta_analytics_models import MetaDailyFigures  # noqa: F401  (Meta's own figures, imported)
from .token_models import AccessTokenStatus  # noqa: F401  (debug_token results, services/tokens.py)

__all__ = [
    "SERVICE_WINDOW", "ApiToken", "AuditEntry", "BusinessAccount", "ConsentRecord", "Contact",
    "Conversation", "Escalation", "HelpdeskSession", "MediaFile", "Membership", "Message", "Organization",
    "PendingStatus", "RateLimitUsage", "Role", "SupportFiring", "SupportRule", "Template", "Ticket",
    "TicketComment", "WebhookEvent",
]  # fmt: skip

#: Meta's customer service window: free-form messages are allowed this long after the last inbound one.
SERVICE_WINDOW = timedelta(hours=24)


class BusinessAccount(models.Model):
    """One WhatsApp business phone number (and the WABA it belongs to)."""

    # Everything reached through the account (contacts, messages, ...) belongs to this tenant.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="accounts")
    name = models.CharField(max_length=200, blank=True)
    waba_id = models.CharField("WABA id", max_length=64, blank=True, db_index=True)
    phone_number_id = models.CharField(max_length=64, unique=True)
    display_phone_number = models.CharField(max_length=32, blank=True)
    # Stored encrypted; read and write through the properties below.
    access_token_encrypted = models.TextField(blank=True, default="", editable=False)
    app_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    verify_token_encrypted = models.TextField(blank=True, default="", editable=False)
    app_id = models.CharField(
        "Meta app id", max_length=64, blank=True, help_text="The Meta app the account's token belongs to."
    )
    api_version = models.CharField(max_length=16, blank=True, help_text='Empty: WACLOUD["API_VERSION"].')
    is_active = models.BooleanField(default=True)
    # Deleted as an integration but kept with its history (contacts, messages, media).
    archived_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text='Empty: WACLOUD["RATE_LIMIT"]["PER_SECOND"].'
    )
    rate_limit_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text='Empty: WACLOUD["RATE_LIMIT"]["PER_HOUR"].'
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    access_token = encrypted_property("access_token_encrypted", "wacloud.BusinessAccount.access_token")
    app_secret = encrypted_property("app_secret_encrypted", "wacloud.BusinessAccount.app_secret")
    # The webhook handshake token: a secret too (whoever knows it can subscribe a URL).
    verify_token = encrypted_property("verify_token_encrypted", "wacloud.BusinessAccount.verify_token")

    class Meta:
        ordering = ["name", "phone_number_id"]

    def __str__(self) -> str:
        return self.name or self.display_phone_number or self.phone_number_id

    def save(self, *args, **kwargs) -> None:
        if self.organization_id is None:
            # One-tenant projects never name an organization: the default one takes the account.
            from .services.tenancy import default_organization

            self.organization = default_organization()
        super().save(*args, **kwargs)

    @property
    def effective_api_version(self) -> str:
        return self.api_version or get_setting("API_VERSION")

    @property
    def has_access_token(self) -> bool:
        return bool(self.access_token_encrypted)

    @property
    def has_app_secret(self) -> bool:
        return bool(self.app_secret_encrypted)

    @property
    def has_verify_token(self) -> bool:
        return bool(self.verify_token_encrypted)


class Contact(models.Model):
    """A WhatsApp user as seen by one account: by number (``wa_id``), by Meta's
    business-scoped user id (``user_id``), or both; a user who hides their number is
    known by ``user_id`` alone (services/contact_identity.py)."""

    account = models.ForeignKey(BusinessAccount, on_delete=models.CASCADE, related_name="contacts")
    wa_id = models.CharField("WhatsApp id", max_length=64, blank=True)
    user_id = models.CharField(
        "business-scoped user id", max_length=140, blank=True, help_text='Meta\'s BSUID, e.g. "US.1349…".'
    )
    parent_user_id = models.CharField("parent business-scoped user id", max_length=140, blank=True)
    name = models.CharField(max_length=200, blank=True)
    profile = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="Labels of your own, e.g. ['vip', 'lead'].")
    opted_in = models.BooleanField(default=False)
    opted_in_at = models.DateTimeField(null=True, blank=True)
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # On the number's block list at Meta since then (services/blocking.py); None: not blocked.
    blocked_at = models.DateTimeField(null=True, blank=True)
    # Any object of the host project (a CRM customer, a user, ...).
    linked_content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    linked_object_id = models.CharField(max_length=64, blank=True, default="")
    linked_object = GenericForeignKey("linked_content_type", "linked_object_id")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "wa_id"], condition=~Q(wa_id=""), name="wacloud_contact_account_wa_id"
            ),
            models.UniqueConstraint(
                fields=["account", "user_id"],
                condition=~Q(user_id=""),
                name="wacloud_contact_account_user_id",
            ),
            models.CheckConstraint(condition=~Q(wa_id="", user_id=""), name="wacloud_contact_identified"),
        ]
        indexes = [
            models.Index(fields=["linked_content_type", "linked_object_id"], name="wacloud_contact_linked"),
            models.Index(fields=["opted_out"], name="wacloud_contact_opted_out"),
        ]

    def __str__(self) -> str:
        address = self.wa_id or self.user_id
        return f"{self.name} ({address})" if self.name else address


class Conversation(models.Model):
    """A thread with one contact. At most one conversation per contact is open."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    account = models.ForeignKey(BusinessAccount, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    service_window_expires_at = models.DateTimeField(null=True, blank=True)
    # The member answering it (services.assignment); none: its open escalation's assignee, if any.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [
            # Makes concurrent "find or open the conversation" safe: the loser gets IntegrityError.
            models.UniqueConstraint(
                fields=["account", "contact"],
                condition=Q(status="open"),
                name="wacloud_one_open_conversation",
            )
        ]
        indexes = [
            models.Index(fields=["account", "status", "-last_message_at"], name="wacloud_conv_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} [{self.status}]"

    def is_window_open(self, now: datetime | None = None) -> bool:
        """Whether free-form (non-template) messages may be sent to the contact now."""
        now = now or timezone.now()
        return self.service_window_expires_at is not None and now < self.service_window_expires_at


class Message(models.Model):
    """One message, inbound or outbound; outbound rows start as the outbox (``queued``)."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        PLAYED = "played", "Played"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted"
        RECEIVED = "received", "Received"

    class SendFailure(models.TextChoices):
        RETRIABLE = "retriable", "Retriable (nothing reached Meta)"
        PERMANENT = "permanent", "Permanent (Meta refused it)"
        # The request may have reached Meta: never resent automatically, a human decides.
        UNKNOWN = "unknown", "Delivery unknown"

    account = models.ForeignKey(BusinessAccount, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # Null while an outbound message waits in the outbox; unique once Meta assigned it.
    wamid = models.CharField("WhatsApp message id", max_length=255, unique=True, null=True, blank=True)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    type = models.CharField(max_length=32, help_text="Meta's message type: text, image, reaction, ...")
    # What the customer wrote or was sent: encrypted at rest with WACLOUD["ENCRYPT_MESSAGES"].
    text = EncryptedTextField(blank=True, help_text="Text body or caption, for search and display.")
    content = EncryptedJSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    timestamp = models.DateTimeField(
        default=timezone.now, help_text="When the message was sent (Meta's time)."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    played_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    # The message this one points at: a quoted reply, or the target of a reaction, edit or revoke.
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referenced_by"
    )
    reply_to_wamid = models.CharField(max_length=255, blank=True, db_index=True)
    # The caller's own reference for an outbound message (e.g. a ticket id), to find it by.
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    pricing = models.JSONField(default=dict, blank=True)
    raw = EncryptedJSONField(default=dict, blank=True)
    # The outbox (services/outbound.py): how often a send was tried, the claim a sender
    # holds while its request is in flight, and what kind of failure ended the last try.
    send_attempts = models.PositiveIntegerField(default=0)
    sending_since = models.DateTimeField(null=True, blank=True)
    failure_kind = models.CharField(max_length=16, choices=SendFailure.choices, blank=True)
    # Set, and committed, just before the request is handed to the HTTP client: a claim
    # that expires without it belongs to a sender that died before anything left.
    handed_off_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="wacloud_msg_account_created"),
            models.Index(fields=["status"], name="wacloud_msg_status"),
            models.Index(fields=["direction", "type"], name="wacloud_msg_direction_type"),
            models.Index(fields=["conversation", "timestamp"], name="wacloud_msg_conv_time"),
            models.Index(fields=["contact", "timestamp"], name="wacloud_msg_contact_time"),
            # Analytics and the daily rollup read an account's messages by time range.
            models.Index(fields=["account", "timestamp"], name="wacloud_msg_account_time"),
        ]

    def __str__(self) -> str:
        arrow = "<-" if self.direction == self.Direction.INBOUND else "->"
        return f"{arrow} {self.type} {self.wamid or '(queued)'} [{self.status}]"

    @property
    def flow_response(self) -> dict | None:
        """What the user submitted in a WhatsApp Flow (an ``nfm_reply``'s ``response_json``,
        with its ``flow_token``) as a dict; ``None`` for other messages."""
        from .services.flows import flow_response

        return flow_response(self)


class PendingStatus(models.Model):
    """A status update for a wamid with no ``Message`` row yet (statuses can
    overtake the send's own response). Applied and deleted when the row appears."""

    wamid = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=16)
    account = models.ForeignKey(BusinessAccount, null=True, blank=True, on_delete=models.CASCADE)
    timestamp = models.DateTimeField(null=True, blank=True)
    recipient_id = models.CharField(max_length=64, blank=True)
    errors = models.JSONField(default=list, blank=True)
    pricing = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    webhook_event = models.ForeignKey("WebhookEvent", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "pending statuses"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["wamid", "status"], name="wacloud_pending_wamid_status")
        ]

    def __str__(self) -> str:
        return f"{self.wamid}: {self.status}"


class Template(models.Model):
    """A message template as Meta reports it (synced or from status webhooks)."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"
        PAUSED = "PAUSED", "Paused"
        DISABLED = "DISABLED", "Disabled"
        IN_APPEAL = "IN_APPEAL", "In appeal"
        PENDING_DELETION = "PENDING_DELETION", "Pending deletion"
        DELETED = "DELETED", "Deleted"
        FLAGGED = "FLAGGED", "Flagged"
        REINSTATED = "REINSTATED", "Reinstated"
        LIMIT_EXCEEDED = "LIMIT_EXCEEDED", "Limit exceeded"
        ARCHIVED = "ARCHIVED", "Archived"

    account = models.ForeignKey(
        BusinessAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="templates"
    )
    # Templates belong to the WABA, so that is the identity (an account row may not exist for it).
    waba_id = models.CharField("WABA id", max_length=64, blank=True)
    template_id = models.CharField("Meta template id", max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, blank=True, help_text="Meta's status string, as sent.")
    components = models.JSONField(default=list, blank=True)
    rejection_reason = models.CharField(max_length=255, blank=True)
    quality_score = models.CharField(max_length=16, blank=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["waba_id", "name", "language"], name="wacloud_template_identity")
        ]
        indexes = [models.Index(fields=["status"], name="wacloud_template_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


def media_storage() -> Storage:
    """The storage for downloaded media: ``STORAGES[WACLOUD["MEDIA_STORAGE"]]`` or the default."""
    alias = get_setting("MEDIA_STORAGE")
    return storages[alias] if alias else default_storage


def media_upload_to(instance: MediaFile, filename: str) -> str:
    return f"{timezone.now().strftime(get_setting('MEDIA_UPLOAD_TO'))}/{filename}"


class MediaFile(models.Model):
    """A media object referenced by a message, and its downloaded copy."""

    class DownloadStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        DOWNLOADED = "downloaded", "Downloaded"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(BusinessAccount, on_delete=models.CASCADE, related_name="media_files")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="media"
    )
    media_id = models.CharField(max_length=128, db_index=True)
    mime_type = models.CharField(max_length=128, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    expected_sha256 = models.CharField(max_length=128, blank=True, help_text="The hash Meta announced.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Hex SHA-256 of the stored file.")
    filename = models.CharField(max_length=255, blank=True)
    caption = EncryptedTextField(blank=True)
    # Encrypted at rest with WACLOUD["ENCRYPT_MEDIA"]; ``sha256`` is the plaintext's hash.
    file = EncryptedFileField(storage=media_storage, upload_to=media_upload_to, max_length=500, blank=True)
    download_status = models.CharField(
        max_length=16, choices=DownloadStatus.choices, default=DownloadStatus.PENDING
    )
    download_attempts = models.PositiveIntegerField(default=0)
    download_error = models.TextField(blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message", "media_id"], name="wacloud_media_per_message")
        ]
        indexes = [models.Index(fields=["download_status"], name="wacloud_media_download_status")]

    def __str__(self) -> str:
        return f"{self.media_id} ({self.mime_type or 'unknown type'})"


class WebhookEvent(models.Model):
    """One webhook body exactly as received, kept before anything acts on it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        # Processed, but some items (messages, statuses) could not be applied: see item_errors.
        PARTIAL = "partial", "Processed with item errors"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(
        BusinessAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    body = models.BinaryField(help_text="The raw request body, byte for byte (the signature covers it).")
    body_sha256 = models.CharField(max_length=64, unique=True)
    headers = models.JSONField(default=dict, blank=True)
    signature_verified = models.BooleanField(default=False)
    fields = models.CharField(
        max_length=255, blank=True, help_text="The changes' field names, comma separated."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # False when retrying cannot help (a body no parser can read): redeliveries and sweeps skip it.
    retriable = models.BooleanField(default=True)
    # One entry per item that could not be applied: index, kind, id, path, error.
    item_errors = models.JSONField(default=list, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "received_at"], name="wacloud_webhook_status"),
            models.Index(fields=["received_at"], name="wacloud_webhook_received"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.body_sha256[:12]} [{self.status}]"

    @property
    def body_bytes(self) -> bytes:
        # PostgreSQL returns memoryview for bytea; SQLite returns bytes.
        return bytes(self.body)

    @property
    def body_text(self) -> str:
        return self.body_bytes.decode("utf-8", errors="replace")


class RateLimitUsage(models.Model):
    """Messages sent by one account in one rate-limit window (shared across processes via the database)."""

    class Window(models.TextChoices):
        SECOND = "second", "Second"
        HOUR = "hour", "Hour"

    account = models.ForeignKey(BusinessAccount, on_delete=models.CASCADE, related_name="rate_limit_usage")
    window = models.CharField(max_length=8, choices=Window.choices)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-window_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "window", "window_start"], name="wacloud_ratelimit_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.count} per {self.window} from {self.window_start:%Y-%m-%d %H:%M:%S}"
