"""Admin pages for organizations, memberships, API tokens and the audit log (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ApiToken, AuditEntry, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "organization__slug"]
    raw_id_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by ``whatsapp_add_member --token`` (their key is shown once); here
    they can be looked at, given an expiry, or deleted (revoked)."""

    list_display = ["key_prefix", "user", "name", "created_at", "last_used_at", "expires_at"]
    search_fields = ["user__username", "name", "key_prefix"]
    readonly_fields = ["key_prefix", "user", "created_at", "last_used_at"]
    fields = ["key_prefix", "user", "name", "expires_at", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "organization", "source", "action", "object_repr"]
    list_filter = ["source", "action", "organization"]
    search_fields = ["actor_label", "action", "object_type", "object_id", "object_repr", "correlation_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # append-only: the retention task deletes old entries
