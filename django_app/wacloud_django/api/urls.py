"""The API's paths, as the seeds write them, each with and without a trailing slash
(a POST to either works: no APPEND_SLASH redirect)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from ..helpdesk import api as helpdesk_api
from .views import (
    assignment,
    automation,
    campaigns,
    confirmations,
    consent,
    contacts,
    integrations,
    media,
    messaging,
    meta_analytics,
    numbers,
    privacy,
    reports,
    schedules,
    schema,
    template_detail,
    templates,
    tokens,
)

_ROUTES: list[tuple[str, Any, str]] = [
    ("health", reports.HealthView, "health"),
    ("send", messaging.SendView, "send"),
    ("messages/send", messaging.SendView, "messages-send"),
    ("messages/<str:whatsapp_id>", messaging.MessageHistoryView, "message-history"),
    ("conversations", messaging.ConversationListView, "conversations"),
    ("conversations/<int:pk>/messages", messaging.ConversationMessagesView, "conversation-messages"),
    ("conversations/<int:pk>/read", messaging.ConversationReadView, "conversation-read"),
    ("conversations/<int:pk>/assign", assignment.ConversationAssignView, "conversation-assign"),
    ("templates", templates.TemplateListView, "templates"),
    ("templates/sync", templates.TemplateSyncView, "templates-sync"),
    ("templates/register", templates.TemplateRegisterView, "templates-register"),
    ("templates/<int:pk>", template_detail.TemplateDetailView, "template"),
    ("templates/<int:pk>/refresh", template_detail.TemplateRefreshView, "template-refresh"),
    ("integrations", integrations.IntegrationListView, "integrations"),
    ("integrations/<int:pk>", integrations.IntegrationDetailView, "integration"),
    ("integrations/<int:pk>/toggle", integrations.IntegrationToggleView, "integration-toggle"),
    ("integrations/<int:pk>/test", integrations.IntegrationTestView, "integration-test"),
    ("integrations/<int:pk>/rotate-token", tokens.IntegrationRotateTokenView, "integration-rotate-token"),
    # The number at Meta: onboarding, webhook subscription, QR codes, block list (views/numbers.py).
    ("integrations/<int:pk>/register", numbers.RegisterView, "integration-register"),
    ("integrations/<int:pk>/deregister", numbers.DeregisterView, "integration-deregister"),
    ("integrations/<int:pk>/request-code", numbers.RequestCodeView, "integration-request-code"),
    ("integrations/<int:pk>/verify-code", numbers.VerifyCodeView, "integration-verify-code"),
    ("integrations/<int:pk>/pin", numbers.PinView, "integration-pin"),
    ("integrations/<int:pk>/subscription", numbers.SubscriptionView, "integration-subscription"),
    ("integrations/<int:pk>/phone-numbers", numbers.PhoneNumbersView, "integration-phone-numbers"),
    ("integrations/<int:pk>/qr-codes", numbers.QrCodeListView, "integration-qr-codes"),
    ("integrations/<int:pk>/qr-codes/<str:code>", numbers.QrCodeDetailView, "integration-qr-code"),
    ("integrations/<int:pk>/blocked", numbers.BlockedContactsView, "integration-blocked"),
    ("contacts/<int:pk>/block", numbers.ContactBlockView, "contact-block"),
    ("analytics/meta", meta_analytics.MetaAnalyticsView, "analytics-meta"),
    ("analytics/meta/import", meta_analytics.MetaAnalyticsImportView, "analytics-meta-import"),
    ("test", integrations.IntegrationTestView, "test"),
    ("contacts", contacts.ContactListView, "contacts"),
    ("contacts/<int:pk>", contacts.ContactDetailView, "contact"),
    ("contacts/<int:pk>/consent", consent.ContactConsentView, "contact-consent"),
    ("contacts/<int:pk>/export", privacy.ContactExportView, "contact-export"),
    ("contacts/<int:pk>/erase", privacy.ContactEraseView, "contact-erase"),
    ("media", media.MediaListView, "media"),
    ("media/<str:pk>", media.MediaDetailView, "media-file"),
    ("analytics", reports.AnalyticsView, "analytics"),
    ("stats", reports.StatsView, "stats"),
    ("audit", reports.AuditView, "audit"),
    ("tickets", helpdesk_api.TicketListView, "tickets"),
    ("tickets/<str:number>", helpdesk_api.TicketDetailView, "ticket"),
    ("workflows/automate", automation.AutomateView, "workflows-automate"),
    ("campaigns", campaigns.CampaignListView, "campaigns"),
    ("campaigns/<int:pk>", campaigns.CampaignDetailView, "campaign"),
    ("campaigns/<int:pk>/pause", campaigns.CampaignPauseView, "campaign-pause"),
    ("campaigns/<int:pk>/resume", campaigns.CampaignResumeView, "campaign-resume"),
    ("campaigns/<int:pk>/cancel", campaigns.CampaignCancelView, "campaign-cancel"),
    ("appointments", schedules.AppointmentListView, "appointments"),
    ("appointments/<int:pk>", schedules.AppointmentDetailView, "appointment"),
    ("followups", schedules.SequenceListView, "followups"),
    ("followups/<int:pk>/enrollments", schedules.EnrollmentListView, "followup-enrollments"),
    ("daily-summaries", schedules.SummaryListView, "daily-summaries"),
    ("daily-summaries/<int:pk>", schedules.SummaryDetailView, "daily-summary"),
    ("confirmation", confirmations.ConfirmationRequestView, "confirmation"),
    ("confirmations", confirmations.ConfirmationListView, "confirmations"),
    ("confirmations/<int:pk>", confirmations.ConfirmationDetailView, "confirmation-detail"),
    ("confirmations/<int:pk>/cancel", confirmations.ConfirmationCancelView, "confirmation-cancel"),
    ("schema", schema.SchemaView, "schema"),
    ("docs", schema.DocsView, "docs"),
]


def _patterns(slash: bool) -> list[Any]:
    suffix = "/" if slash else ""
    return [
        path(route + suffix, view.as_view(), name=f"api-{name}{'-slash' if slash else ''}")
        for route, view, name in _ROUTES
    ]


def schema_patterns() -> list[Any]:
    """One pattern per operation (no slashed duplicates), for the OpenAPI schema."""
    return _patterns(slash=False)


urlpatterns = _patterns(slash=False) + _patterns(slash=True)
