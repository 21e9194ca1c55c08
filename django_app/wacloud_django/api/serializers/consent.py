"""Consent records: the history's read shape and the grant/revoke body."""

from __future__ import annotations

from rest_framework import serializers

from ...models import ConsentRecord


class ConsentRecordSerializer(serializers.ModelSerializer):
    message = serializers.CharField(source="message.wamid", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "purpose",
            "status",
            "text",
            "source",
            "message",
            "actor_label",
            "occurred_at",
            "recorded_at",
        ]
        read_only_fields = fields


class ConsentWriteSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=ConsentRecord.Purpose.choices)
    status = serializers.ChoiceField(choices=ConsentRecord.Status.choices)
    text = serializers.CharField(
        required=False, allow_blank=True, max_length=4096, help_text="The consent text the user was shown."
    )
