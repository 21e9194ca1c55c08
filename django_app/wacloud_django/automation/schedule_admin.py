"""The admin for scheduled messages: policies, appointments (with their reminders), follow-up
sequences (with their steps), enrollments and daily summary subscriptions (with their runs).
Rows are written by the services (API, triggers, beat tasks), so the pages are read-only; the
actions call the same services as the API. Loaded by ``wacloud_django.admin`` through
:func:`register`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import (
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
from ..services import audit
from .services import followups, reminders, summaries


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReminderInline(_ReadOnlyInline):
    model = AppointmentReminder


class StepInline(_ReadOnlyInline):
    model = FollowUpStep


class DeliveryInline(_ReadOnlyInline):
    model = FollowUpDelivery


class RunInline(_ReadOnlyInline):
    model = DailySummaryRun


class _ReadOnly:
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Created through the API (or by the host project calling the services).

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # The rows are the record of what was (or was not) sent.


def _acting(request: HttpRequest) -> Any:
    return audit.acting_as(request.user, source="admin", ip_address=request.META.get("REMOTE_ADDR"))


@admin.action(description="Cancel the appointments (no more reminders)")
def cancel_appointments(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
    with _acting(request):
        for appointment in queryset:
            reminders.cancel_appointment(appointment)
    modeladmin.message_user(request, f"{queryset.count()} appointment(s) cancelled.", messages.SUCCESS)


@admin.action(description="Stop the enrollments")
def stop_enrollments(modeladmin: Any, request: HttpRequest, queryset: QuerySet[FollowUpEnrollment]) -> None:
    stopped = 0
    for enrollment in queryset.filter(status=FollowUpEnrollment.Status.ACTIVE).select_related("contact"):
        stopped += followups.stop_enrollments(enrollment.contact, "admin", sequences=[enrollment.sequence_id])
    modeladmin.message_user(request, f"{stopped} enrollment(s) stopped.", messages.SUCCESS)


@admin.action(description="Unsubscribe (no more daily summaries)")
def unsubscribe(modeladmin: Any, request: HttpRequest, queryset: QuerySet[DailySummarySubscription]) -> None:
    for subscription in queryset.select_related("contact"):
        summaries.unsubscribe(subscription.contact)
    modeladmin.message_user(request, f"{queryset.count()} subscription(s) ended.", messages.SUCCESS)


def register() -> None:
    """The scheduled messages' pages, scoped like every wacloud admin."""
    from ..admin import ExtensibleAdmin

    class ReminderPolicyAdmin(_ReadOnly, ExtensibleAdmin):
        list_display = ["__str__", "organization", "account", "intervals", "template_name", "is_active"]
        list_filter = ["is_active"]

    class AppointmentAdmin(_ReadOnly, ExtensibleAdmin):
        list_display = ["starts_at", "contact", "title", "status", "policy", "timezone"]
        list_filter = ["status"]
        search_fields = ["contact__wa_id", "contact__name", "title", "reference"]
        date_hierarchy = "starts_at"
        list_select_related = ["contact", "policy"]
        inlines = [ReminderInline]
        actions = [cancel_appointments]

    class SequenceAdmin(_ReadOnly, ExtensibleAdmin):
        list_display = ["name", "organization", "trigger", "trigger_tag", "purpose", "is_active"]
        list_filter = ["trigger", "purpose", "is_active"]
        inlines = [StepInline]

    class EnrollmentAdmin(_ReadOnly, ExtensibleAdmin):
        list_display = ["contact", "sequence", "status", "stop_reason", "next_position", "next_due_at"]
        list_filter = ["status", "stop_reason"]
        search_fields = ["contact__wa_id", "contact__name"]
        list_select_related = ["contact", "sequence"]
        inlines = [DeliveryInline]
        actions = [stop_enrollments]

    class SubscriptionAdmin(_ReadOnly, ExtensibleAdmin):
        list_display = ["contact", "local_time", "timezone", "next_run_at", "is_active", "builder"]
        list_filter = ["is_active", "timezone"]
        search_fields = ["contact__wa_id", "contact__name"]
        list_select_related = ["contact"]
        inlines = [RunInline]
        actions = [unsubscribe]

    admin.site.register(ReminderPolicy, ReminderPolicyAdmin)
    admin.site.register(Appointment, AppointmentAdmin)
    admin.site.register(FollowUpSequence, SequenceAdmin)
    admin.site.register(FollowUpEnrollment, EnrollmentAdmin)
    admin.site.register(DailySummarySubscription, SubscriptionAdmin)
