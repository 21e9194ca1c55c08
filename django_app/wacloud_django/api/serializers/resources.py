"""Read shapes of the stored rows (conversations, messages, contacts, templates, ...)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ...models import AuditEntry, BusinessAccount, Contact, Conversation, MediaFile, Message, Template


class ContactSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.phone_number_id", read_only=True)
    linked_object = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "account",
            "wa_id",
            "user_id",
            "parent_user_id",
            "name",
            "profile",
            "tags",
            "opted_in",
            "opted_out",
            "last_inbound_at",
            "blocked_at",
            "linked_object",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_linked_object(self, contact: Contact) -> dict[str, str] | None:
        if contact.linked_content_type_id is None:
            return None
        model = contact.linked_content_type
        return {"model": f"{model.app_label}.{model.model}", "id": contact.linked_object_id}


class MessageSerializer(serializers.ModelSerializer):
    whatsapp_id = serializers.CharField(source="wamid", read_only=True, allow_null=True)
    contact = serializers.CharField(source="contact.wa_id", read_only=True, allow_null=True, default=None)
    contact_user_id = serializers.CharField(
        source="contact.user_id", read_only=True, allow_null=True, default=None, help_text="Its BSUID."
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "whatsapp_id",
            "conversation",
            "contact",
            "contact_user_id",
            "direction",
            "type",
            "text",
            "content",
            "status",
            "timestamp",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "error_code",
            "error_message",
            "reply_to_wamid",
            "reference",
            "created_at",
        ]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.phone_number_id", read_only=True)
    contact = ContactSerializer(read_only=True)
    window_open = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "account",
            "contact",
            "status",
            "unread_count",
            "last_message_at",
            "last_inbound_at",
            "service_window_expires_at",
            "window_open",
            "created_at",
        ]
        read_only_fields = fields

    def get_window_open(self, conversation: Conversation) -> bool:
        return conversation.is_window_open()


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Template
        fields = [
            "id",
            "template_id",
            "waba_id",
            "name",
            "language",
            "category",
            "status",
            "components",
            "rejection_reason",
            "quality_score",
            "status_updated_at",
            "updated_at",
        ]
        read_only_fields = fields


class MediaFileSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.phone_number_id", read_only=True)

    class Meta:
        model = MediaFile
        fields = [
            "id",
            "account",
            "media_id",
            "mime_type",
            "size",
            "sha256",
            "filename",
            "caption",
            "download_status",
            "created_at",
        ]
        read_only_fields = fields


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "source",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "ip_address",
            "correlation_id",
        ]
        read_only_fields = fields


def account_summary(account: BusinessAccount) -> dict[str, Any]:
    return {"id": account.pk, "phone_number_id": account.phone_number_id, "name": account.name}
