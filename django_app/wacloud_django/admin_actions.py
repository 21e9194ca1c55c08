"""Admin actions for sending: each is a one-line call into a service, and
reports what happened through the admin's messages. Registered on the models'
admins by :func:`register` (called from admin.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from django import forms
from wacloud.errors import WacloudError

from .exceptions import AccountNotConfigured
from .models import BusinessAccount, Conversation, Message, Template
from .services.analytics import account_health
from .services.contact_identity import recipient_of
from .services.outbound import retry_failed_messages, send_message
from .services.templates import sync_templates


@admin.action(description="Test connection to Meta")
def test_connection(modeladmin: Any, request: HttpRequest, queryset: QuerySet[BusinessAccount]) -> None:
    for account in queryset:
        try:
            health = account_health(account)
        except Exception as error:
            modeladmin.message_user(request, f"{account}: connection failed: {error!r}", messages.ERROR)
        else:
            modeladmin.message_user(
                request,
                f"{account}: connected as {health['verified_name']} ({health['display_phone_number']}), "
                f"quality {health['quality_rating'] or 'unknown'}.",
                messages.SUCCESS,
            )


@admin.action(description="Retry failed messages (retriable failures only)")
def retry_messages(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Message]) -> None:
    counts = retry_failed_messages(list(queryset.values_list("pk", flat=True)))
    _report_retry(modeladmin, request, counts)


@admin.action(description="Resend messages whose delivery is unknown (check the customer did not get them)")
def resend_unknown(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Message]) -> None:
    counts = retry_failed_messages(list(queryset.values_list("pk", flat=True)), include_unknown=True)
    _report_retry(modeladmin, request, counts)


def _report_retry(modeladmin: Any, request: HttpRequest, counts: dict[str, int]) -> None:
    text = f"Requeued {counts['requeued']}, rescheduled {counts['rescheduled']}."
    if counts["not_retriable"]:
        text += (
            f" {counts['not_retriable']} not retried: sent, permanently refused, or of unknown delivery "
            "(use the 'resend unknown' action once you checked)."
        )
    modeladmin.message_user(request, text, messages.WARNING if counts["not_retriable"] else messages.SUCCESS)


@admin.action(description="Sync templates from Meta (the accounts of the selected templates)")
def sync_selected_templates(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Template]) -> None:
    wabas = set(queryset.values_list("waba_id", flat=True))
    for account in BusinessAccount.objects.filter(waba_id__in=wabas, is_active=True):
        try:
            counts = sync_templates(account)
        except Exception as error:
            modeladmin.message_user(request, f"{account}: sync failed: {error!r}", messages.ERROR)
        else:
            summary = ", ".join(f"{n} {what}" for what, n in counts.items())
            modeladmin.message_user(request, f"{account}: {summary}.", messages.SUCCESS)


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), max_length=4096)


@admin.action(description="Reply with a text message")
def reply(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Conversation]) -> TemplateResponse | None:
    form = ReplyForm(request.POST if "apply" in request.POST else None)
    conversations = list(queryset.select_related("account", "contact"))
    if not form.is_valid():
        context = {
            **modeladmin.admin_site.each_context(request),
            "form": form,
            "conversations": conversations,
            "title": "Reply",
            "opts": modeladmin.model._meta,
        }
        return TemplateResponse(request, "admin/wacloud/conversation/reply.html", context)
    for conversation in conversations:
        try:
            to = recipient_of(conversation.contact)  # the number, else the business-scoped user id
            send_message(conversation.account, to, "text", form.cleaned_data["text"])
        except (WacloudError, AccountNotConfigured, ValueError) as error:
            modeladmin.message_user(request, f"{conversation.contact}: not sent: {error}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{conversation.contact}: reply queued.", messages.SUCCESS)
    return None


def register() -> None:
    """Add the actions to wacloud's admins (through admin.py's ``register_action``)."""
    from .admin import register_action

    register_action(BusinessAccount, test_connection)
    register_action(Message, retry_messages)
    register_action(Message, resend_unknown)
    register_action(Template, sync_selected_templates)
    register_action(Conversation, reply)
