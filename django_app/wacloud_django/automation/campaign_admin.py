"""The admin for campaigns: progress per status, and pause/resume/cancel actions that call
the campaign service (read-only otherwise: campaigns are created through the API, the
``whatsapp_campaign`` command or ``workflows/automate``). Loaded by ``automation.admin.register``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import Campaign, CampaignRecipient
from ..services import audit
from .services import campaign_sending, campaigns


def _progress_bar(campaign: Campaign) -> str:
    state = campaigns.progress(campaign)
    counts = ", ".join(f"{status} {count}" for status, count in state["counts"].items() if count)
    return format_html(
        '<progress max="100" value="{}"></progress> {}% of {} ({})',
        state["percent"],
        state["percent"],
        state["total"],
        counts or "no recipients",
    )


class CampaignAdminOptions:
    list_display = ["name", "account", "status", "progress", "template_name", "scheduled_at", "created_at"]
    list_filter = ["status", "audience", "recurrence"]
    search_fields = ["name", "template_name"]
    date_hierarchy = "created_at"
    list_select_related = ["account"]
    readonly_fields = [
        "organization",
        "account",
        "name",
        "campaign_type",
        "status",
        "pause_reason",
        "progress",
        "ab_test",
        "audience",
        "audience_tag",
        "audience_report",
        "template_name",
        "template_language",
        "parameters",
        "variant_b_template_name",
        "variant_b_template_language",
        "variant_b_percent",
        "winner_metric",
        "max_per_second",
        "scheduled_at",
        "recurrence",
        "parent",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]

    @admin.display(description="progress")
    def progress(self, campaign: Campaign) -> str:
        return _progress_bar(campaign)

    @admin.display(description="A/B test")
    def ab_test(self, campaign: Campaign) -> str:
        results = campaigns.ab_results(campaign)
        if results is None:
            return "-"
        rows = "; ".join(
            f"{name}: {stats['sent']} sent, read {stats['read_rate']:.1%}, replied {stats['reply_rate']:.1%}"
            for name, stats in results["variants"].items()
        )
        return f"{rows} -- winner by {results['metric']}: {results['winner'] or 'none yet'}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CampaignRecipientAdminOptions:
    list_display = ["wa_id", "campaign", "variant", "status", "error_code", "error", "sent_at"]
    list_filter = ["status", "variant"]
    search_fields = ["wa_id", "wamid"]
    raw_id_fields = ["campaign", "contact", "message"]
    readonly_fields = [
        "campaign",
        "contact",
        "wa_id",
        "variant",
        "params",
        "status",
        "claim_token",
        "claimed_at",
        "handed_off_at",
        "attempts",
        "wamid",
        "message",
        "error_code",
        "error",
        "sent_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _apply(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Campaign], verb: str, action: Callable[..., Any]
) -> None:
    done, refused = 0, []
    with audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")):
        for campaign in queryset:
            try:
                action(campaign, actor=request.user)
                done += 1
            except campaigns.CampaignStateError as error:
                refused.append(str(error))
    if done:
        modeladmin.message_user(request, f"{done} campaign(s) {verb}.", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, reason, messages.WARNING)


@admin.action(description="Pause the selected campaigns")
def pause_campaigns(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    _apply(modeladmin, request, queryset, "paused", campaigns.pause_campaign)


@admin.action(description="Resume the selected campaigns")
def resume_campaigns(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    _apply(modeladmin, request, queryset, "resumed", campaigns.resume_campaign)


@admin.action(description="Cancel the selected campaigns")
def cancel_campaigns(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    _apply(modeladmin, request, queryset, "cancelled", campaigns.cancel_campaign)


@admin.action(description="Send 'delivery unknown' recipients again (they may get it twice)")
def requeue_unknown_recipients(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    with audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR")):
        count = sum(campaign_sending.requeue_unknown(campaign, actor=request.user) for campaign in queryset)
    modeladmin.message_user(request, f"{count} recipient(s) queued again; resume the campaign to send them.")


def register() -> None:
    from ..admin import ExtensibleAdmin

    class CampaignAdmin(CampaignAdminOptions, ExtensibleAdmin):
        actions = [pause_campaigns, resume_campaigns, cancel_campaigns, requeue_unknown_recipients]

    class CampaignRecipientAdmin(CampaignRecipientAdminOptions, ExtensibleAdmin):
        pass

    admin.site.register(Campaign, CampaignAdmin)
    admin.site.register(CampaignRecipient, CampaignRecipientAdmin)
