"""The admin. Secrets are write-only; admin actions are one-line calls into services.

Other modules add actions with :func:`register_action` (e.g. "test connection"
on accounts, "retry" on messages, "sync" on templates) without subclassing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from django import forms

from .models import (
    BusinessAccount,
    Contact,
    Conversation,
    MediaFile,
    Message,
    Organization,
    PendingStatus,
    RateLimitUsage,
    Template,
    WebhookEvent,
)
from .services import audit, tenancy
from .services.webhooks import reprocess_webhook_events

_EXTRA_ACTIONS: dict[type, list[Callable[..., Any]]] = {}


def register_action(model: type, action: Callable[..., Any]) -> None:
    """Add an admin action (a function decorated with ``@admin.action``) to ``model``'s admin."""
    _EXTRA_ACTIONS.setdefault(model, []).append(action)


class ExtensibleAdmin(admin.ModelAdmin):
    """Staff see the rows of their organizations (superusers everything), and every
    change made here is written to the audit log."""

    def get_queryset(self, request: HttpRequest) -> Any:
        return tenancy.visible_to(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A row can only be pointed at rows (accounts, contacts, ...) of the user's organizations.
        related = db_field.related_model
        if related in tenancy.SCOPED_MODELS or related is Organization:
            kwargs["queryset"] = tenancy.visible_to(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with (
            transaction.atomic(),
            audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")),
        ):
            before = dict(form.initial) if change else {}
            super().save_model(request, obj, form, change)
            after = {name: form.cleaned_data.get(name) for name in form.changed_data}
            changes = audit.changes_between({k: before.get(k) for k in after}, after)
            action = f"{obj._meta.model_name}.{'update' if change else 'create'}"
            audit.record(action, organization=_organization_of(obj), target=obj, changes=changes)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with (
            transaction.atomic(),
            audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")),
        ):
            audit.record(f"{obj._meta.model_name}.delete", organization=_organization_of(obj), target=obj)
            super().delete_model(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        for action in _EXTRA_ACTIONS.get(self.model, []):
            name = action.__name__
            actions[name] = (action, name, getattr(action, "short_description", name.replace("_", " ")))
        return actions


def _organization_of(obj: Any) -> Any:
    for path in ("organization", "account.organization"):
        value = obj
        for part in path.split("."):
            value = getattr(value, part, None)
        if value is not None:
            return value
    return None


# -- accounts ------------------------------------------------------------------------------------


class BusinessAccountForm(forms.ModelForm):
    """Secrets are typed in, never shown: an empty field keeps the stored value."""

    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored token.",
    )
    app_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='Leave empty to keep the stored secret (or to use WACLOUD["APP_SECRET"]).',
    )
    clear_app_secret = forms.BooleanField(required=False, help_text="Remove the stored app secret.")
    verify_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='Leave empty to keep the stored token (or to use WACLOUD["VERIFY_TOKEN"]).',
    )
    clear_verify_token = forms.BooleanField(required=False, help_text="Remove the stored verify token.")

    class Meta:
        model = BusinessAccount
        fields = [
            "organization", "name", "phone_number_id", "waba_id", "app_id", "display_phone_number",
            "api_version", "is_active", "rate_limit_per_second", "rate_limit_per_hour",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "organization" in self.fields:
            self.fields["organization"].required = False
            self.fields["organization"].help_text = "Empty: your only organization, else the default one."

    def save(self, commit: bool = True) -> BusinessAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("access_token"):
            account.access_token = self.cleaned_data["access_token"]
        if self.cleaned_data.get("clear_app_secret"):
            account.app_secret = ""
        elif self.cleaned_data.get("app_secret"):
            account.app_secret = self.cleaned_data["app_secret"]
        if self.cleaned_data.get("clear_verify_token"):
            account.verify_token = ""
        elif self.cleaned_data.get("verify_token"):
            account.verify_token = self.cleaned_data["verify_token"]
        if commit:
            account.save()
        return account


@admin.register(BusinessAccount)
class BusinessAccountAdmin(ExtensibleAdmin):
    def save_model(self, request: HttpRequest, obj: BusinessAccount, form: Any, change: bool) -> None:
        if obj.organization_id is None and not request.user.is_superuser:
            # Staff add accounts to their own organization (the choices are limited to theirs).
            mine = list(tenancy.organizations_for(request.user)[:2])
            if len(mine) == 1:
                obj.organization = mine[0]
        super().save_model(request, obj, form, change)

    form = BusinessAccountForm
    list_display = ["__str__", "phone_number_id", "waba_id", "display_phone_number", "is_active", "token_set"]
    list_filter = ["is_active"]
    search_fields = ["name", "phone_number_id", "waba_id", "display_phone_number"]
    readonly_fields = ["token_set", "secret_set", "verify_token_set", "created_at", "updated_at"]

    @admin.display(boolean=True, description="access token")
    def token_set(self, obj: BusinessAccount) -> bool:
        return obj.has_access_token

    @admin.display(boolean=True, description="app secret")
    def secret_set(self, obj: BusinessAccount) -> bool:
        return obj.has_app_secret

    @admin.display(boolean=True, description="verify token")
    def verify_token_set(self, obj: BusinessAccount) -> bool:
        return obj.has_verify_token


# -- contacts, conversations, messages -----------------------------------------------------------


@admin.register(Contact)
class ContactAdmin(ExtensibleAdmin):
    list_display = [
        "__str__", "wa_id", "user_id", "account", "opted_in", "opted_out", "last_inbound_at", "blocked_at",
    ]  # fmt: skip
    list_filter = ["opted_in", "opted_out", "account"]
    search_fields = ["wa_id", "user_id", "name"]
    list_select_related = ["account"]
    # Opt-in/opt-out are the consent history's (the actions "Record opt-out/opt-in" add to it).
    readonly_fields = [
        "created_at", "updated_at", "last_inbound_at", "opted_in", "opted_in_at", "opted_out", "opted_out_at",
        "blocked_at",  # Meta's block list is changed by the block/unblock actions
        "user_id", "parent_user_id",  # Meta's business-scoped user ids: changed by its webhooks only
    ]  # fmt: skip
    raw_id_fields = ["account"]


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["timestamp", "direction", "type", "text", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-timestamp"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # Messages are sent through the outbox, not typed into the inline.


@admin.register(Conversation)
class ConversationAdmin(ExtensibleAdmin):
    list_display = ["contact", "account", "status", "unread_count", "last_message_at", "window_open"]
    list_filter = ["status", "account"]
    search_fields = ["contact__wa_id", "contact__name"]
    list_select_related = ["contact", "account"]
    readonly_fields = [
        "last_message_at",
        "last_inbound_at",
        "service_window_expires_at",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["account", "contact"]
    inlines = [MessageInline]

    @admin.display(boolean=True, description="24 h window open")
    def window_open(self, obj: Conversation) -> bool:
        return obj.is_window_open()


class MediaFileInline(admin.TabularInline):
    model = MediaFile
    fields = ["media_id", "mime_type", "size", "download_status", "file"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Message)
class MessageAdmin(ExtensibleAdmin):
    list_display = ["__str__", "preview", "account", "contact", "direction", "type", "status", "timestamp"]
    list_filter = ["status", "direction", "type", "account"]
    search_fields = ["wamid", "text", "contact__wa_id", "contact__name"]
    date_hierarchy = "timestamp"
    list_select_related = ["account", "contact"]
    raw_id_fields = ["account", "conversation", "contact", "reply_to"]
    readonly_fields = [
        "wamid", "created_at", "updated_at", "sent_at", "delivered_at", "read_at", "played_at", "failed_at",
        "deleted_at", "edited_at", "pretty_content", "pretty_raw",
    ]  # fmt: skip
    exclude = ["content", "raw"]
    inlines = [MediaFileInline]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        from .encrypted_fields import messages_encrypted

        # Encrypted text cannot be matched by the database (docs/privacy.md): search the rest.
        return [f for f in self.search_fields if f != "text"] if messages_encrypted() else self.search_fields

    @admin.display(description="text")
    def preview(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 60 else f"{obj.text[:59]}…"

    @admin.display(description="content")
    def pretty_content(self, obj: Message) -> str:
        return _pretty(obj.content)

    @admin.display(description="raw")
    def pretty_raw(self, obj: Message) -> str:
        return _pretty(obj.raw)


@admin.register(PendingStatus)
class PendingStatusAdmin(ExtensibleAdmin):
    list_display = ["wamid", "status", "account", "timestamp", "created_at"]
    list_filter = ["status"]
    search_fields = ["wamid"]
    raw_id_fields = ["account", "webhook_event"]


@admin.register(Template)
class TemplateAdmin(ExtensibleAdmin):
    list_display = ["name", "language", "category", "status", "quality_score", "account", "status_updated_at"]
    list_filter = ["status", "category", "quality_score", "language"]
    search_fields = ["name", "template_id"]
    raw_id_fields = ["account"]
    readonly_fields = ["created_at", "updated_at", "status_updated_at"]


@admin.register(MediaFile)
class MediaFileAdmin(ExtensibleAdmin):
    list_display = ["media_id", "mime_type", "size", "download_status", "download_attempts", "created_at"]
    list_filter = ["download_status", "mime_type"]
    search_fields = ["media_id", "sha256"]
    raw_id_fields = ["account", "message"]
    readonly_fields = ["created_at", "downloaded_at", "sha256", "expected_sha256", "download_attempts"]


# -- webhooks ------------------------------------------------------------------------------------


def _pretty(value: Any) -> str:
    return format_html(
        "<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False)
    )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ExtensibleAdmin):
    list_display = ["short_sha", "received_at", "account", "fields", "status", "attempts", "event_count"]
    list_filter = ["status", "retriable", "signature_verified", "account"]
    search_fields = ["body_sha256", "fields", "last_error"]
    date_hierarchy = "received_at"
    list_select_related = ["account"]
    actions = ["reprocess"]
    exclude = ["body"]
    readonly_fields = [
        "body_sha256", "account", "signature_verified", "fields", "status", "retriable", "attempts",
        "event_count", "last_error", "pretty_item_errors", "received_at", "started_at", "processed_at",
        "pretty_headers", "pretty_body",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Events come from Meta only.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # The stored body is evidence; it is never edited.

    @admin.display(description="SHA-256")
    def short_sha(self, obj: WebhookEvent) -> str:
        return obj.body_sha256[:12]

    @admin.display(description="item errors")
    def pretty_item_errors(self, obj: WebhookEvent) -> str:
        return _pretty(obj.item_errors) if obj.item_errors else "-"

    @admin.display(description="headers")
    def pretty_headers(self, obj: WebhookEvent) -> str:
        return _pretty(obj.headers)

    @admin.display(description="body")
    def pretty_body(self, obj: WebhookEvent) -> str:
        try:
            return _pretty(json.loads(obj.body_bytes))
        except ValueError:
            return format_html("<pre>{}</pre>", obj.body_text)

    @admin.action(description="Reprocess selected webhook events")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        counts = reprocess_webhook_events(queryset.values_list("pk", flat=True))
        summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing"
        level = messages.WARNING if counts.get(WebhookEvent.Status.FAILED) else messages.SUCCESS
        self.message_user(request, f"Reprocessed: {summary}.", level)


@admin.register(RateLimitUsage)
class RateLimitUsageAdmin(ExtensibleAdmin):
    list_display = ["account", "window", "window_start", "count"]
    list_filter = ["window", "account"]
    raw_id_fields = ["account"]


def _register_sending_actions() -> None:
    # "Test connection", "retry", "sync" and the reply form live with the outbound services.
    from . import admin_actions

    admin_actions.register()
    from .automation import admin as automation_admin  # consent records, opt-out/opt-in actions

    automation_admin.register()
    from .automation import schedule_admin  # reminders, follow-ups, daily summaries

    schedule_admin.register()
    from .helpdesk import admin as helpdesk_admin  # tickets (through update_ticket), sessions

    helpdesk_admin.register()
    from . import admin_privacy  # export and erase contacts

    admin_privacy.register()
    from . import admin_tokens  # check and rotate access tokens

    admin_tokens.register()
    from . import admin_blocking  # block and unblock contacts at Meta

    admin_blocking.register()


_register_sending_actions()


from . import admin_access  # noqa: E402, F401  (organizations, members, tokens, audit log)
