"""templates/<id> (GET the stored template; PATCH edits it at Meta) and templates/<id>/refresh
(read it from Meta by its id and store it)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.response import Response

from ...models import BusinessAccount, Template
from ...services.templates import edit_template, refresh_template
from ..base import ApiView, documented, ok
from ..serializers.resources import TemplateSerializer


class TemplateEditSerializer(serializers.Serializer):
    components = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        allow_empty=False,
        help_text="the template's new components; they replace all of the old ones",
    )
    category = serializers.CharField(required=False, max_length=32, help_text="not an approved template's")
    account = serializers.CharField(
        required=False, help_text="phone number id of an account of the template's WABA (default: its own)"
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "components" not in data and "category" not in data:
            raise serializers.ValidationError({"components": "give components, category or both"})
        return data


class _TemplateView(ApiView):
    def template(self, pk: int) -> Template:
        return self.get_scoped_object(Template.objects.all(), pk=pk)

    def account(self, template: Template, phone_number_id: str | None) -> BusinessAccount | None:
        """The named account (of this organization), else the template's own or the
        organization's active account of its WABA; the service refuses one of another WABA."""
        accounts = self.scoped(BusinessAccount.objects.all())
        if phone_number_id:
            return self.get_scoped_object(BusinessAccount.objects.all(), phone_number_id=phone_number_id)
        if template.account is not None:
            return template.account
        return accounts.filter(waba_id=template.waba_id, is_active=True).first()


class TemplateDetailView(_TemplateView):
    actions = {"GET": "read", "PATCH": "manage_templates"}
    throttle_scope = "template_create"  # an edit draws on the template writes' budget

    @documented(responses=TemplateSerializer)
    def get(self, request: Any, pk: int) -> Response:
        return ok({"template": TemplateSerializer(self.template(pk)).data})

    @documented(request=TemplateEditSerializer, responses=TemplateSerializer)
    def patch(self, request: Any, pk: int) -> Response:
        template = self.template(pk)
        body = TemplateEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        account = self.account(template, data.pop("account", None))
        edited = edit_template(template, account=account, **data)
        return ok({"template": TemplateSerializer(edited).data})


class TemplateRefreshView(_TemplateView):
    actions = {"POST": "manage_templates"}

    @documented(request=None, responses=TemplateSerializer)
    def post(self, request: Any, pk: int) -> Response:
        template = self.template(pk)
        phone_number_id = request.data.get("account") if isinstance(request.data, dict) else None
        refreshed = refresh_template(template, self.account(template, phone_number_id))
        return ok({"template": TemplateSerializer(refreshed).data})
