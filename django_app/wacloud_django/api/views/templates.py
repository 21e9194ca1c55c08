"""templates (GET with status/category/language filters; POST creates at Meta),
templates/sync, templates/register (seed 004's default set)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import Template
from ...services.default_templates import DEFAULT_LANGUAGES, register_default_templates
from ...services.templates import create_template as create_at_meta
from ...services.templates import sync_templates
from ..base import ApiView, documented, ok
from ..serializers.resources import TemplateSerializer
from .messaging import account_for


class TemplateCreateSerializer(serializers.Serializer):
    """Seed 000's body (``template_name``, ``language_code``) or 004's (``name``, ``language``)."""

    name = serializers.CharField(required=False, max_length=512)
    template_name = serializers.CharField(required=False, max_length=512)
    language = serializers.CharField(required=False, max_length=16)
    language_code = serializers.CharField(required=False, max_length=16)
    category = serializers.CharField(max_length=32, help_text="UTILITY, MARKETING or AUTHENTICATION")
    components = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    parameter_format = serializers.ChoiceField(
        choices=["POSITIONAL", "NAMED"], required=False, help_text="NAMED for {{order_id}} variables"
    )
    account = serializers.CharField(
        required=False, help_text="phone number id (default: the only active one)"
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        name = data.get("name") or data.get("template_name")
        language = data.get("language") or data.get("language_code")
        errors = {}
        if not name:
            errors["name"] = "required (or template_name)"
        if not language:
            errors["language"] = "required (or language_code)"
        if errors:
            raise serializers.ValidationError(errors)
        return {
            "name": name,
            "language": language,
            "category": data["category"],
            "components": data["components"],
            "parameter_format": data.get("parameter_format"),
            "account": data.get("account"),
        }


class TemplateListView(ApiView):
    actions = {"GET": "read", "POST": "manage_templates"}
    throttle_scope = "template_create"

    @documented(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("category", str),
            OpenApiParameter("language", str),
            OpenApiParameter("name", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=TemplateSerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        rows = self.scoped(Template.objects.all())
        for name in ("status", "category", "language"):
            if request.query_params.get(name):
                rows = rows.filter(**{f"{name}__iexact": request.query_params[name]})
        if request.query_params.get("name"):
            rows = rows.filter(name__icontains=request.query_params["name"])
        return self.paginate(rows.order_by("name", "language", "pk"), TemplateSerializer)

    @documented(request=TemplateCreateSerializer, responses={201: TemplateSerializer})
    def post(self, request: Any) -> Response:
        body = TemplateCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        account = account_for(self, data.pop("account"))
        template = create_at_meta(account, **data)
        return ok({"template": TemplateSerializer(template).data}, status=201)


class TemplateSyncView(ApiView):
    actions = {"POST": "manage_templates"}

    @documented(
        request=None,
        responses=inline_serializer(
            "SyncAnswer", {"success": serializers.BooleanField(), "counts": serializers.DictField()}
        ),
    )
    def post(self, request: Any) -> Response:
        account = account_for(self, request.data.get("account") if isinstance(request.data, dict) else None)
        return ok({"account": account.phone_number_id, "counts": sync_templates(account)})


class TemplateRegisterView(ApiView):
    actions = {"POST": "manage_templates"}

    @documented(
        request=None,
        responses=inline_serializer(
            "RegisterAnswer",
            {
                "success": serializers.BooleanField(),
                "created": serializers.ListField(),
                "skipped": serializers.ListField(),
                "failed": serializers.ListField(),
            },
        ),
    )
    def post(self, request: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        account = account_for(self, data.get("account"))
        languages = tuple(data.get("languages") or DEFAULT_LANGUAGES)
        return ok(register_default_templates(account, languages))
