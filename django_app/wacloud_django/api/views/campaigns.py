"""Marketing campaigns: ``GET/POST campaigns`` (a CSV upload as multipart, or a JSON list of
numbers), ``GET campaigns/<id>`` (progress, A/B results, the CSV report) and
``POST campaigns/<id>/pause|resume|cancel``; ``workflows/automate`` with type
``marketing_campaign`` (seed 000) creates one too. Every write is one call into
``automation.services.campaigns``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.response import Response

from ...automation.services import campaigns
from ...automation.services.campaigns import CampaignError, CampaignSpec, CampaignStateError
from ...conf import get_setting
from ...models import BusinessAccount, Campaign
from ..base import ApiView, documented, ok
from ..errors import ApiError

SCHEDULES = ("now", "at", "daily", "weekly", "draft")


class _Strings(serializers.ListField):
    """A list of strings; a form field may also give them comma separated."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], str) and "," in data[0]:
            data = [part.strip() for part in data[0].split(",") if part.strip()]
        return super().to_internal_value(data)


class VariantSerializer(serializers.Serializer):
    template_name = serializers.CharField(max_length=512)
    template_language = serializers.CharField(max_length=16, required=False, default="")
    percent = serializers.IntegerField(min_value=1, max_value=99, default=50)


class CampaignCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    account = serializers.CharField(required=False, help_text="phone number id; default: the only account")
    campaign_type = serializers.CharField(max_length=64, required=False, default="")
    template_name = serializers.CharField(max_length=512)
    template_language = serializers.CharField(max_length=16, required=False, default="en_US")
    audience = serializers.ChoiceField(choices=Campaign.Audience.values, default=Campaign.Audience.ALL)
    tag = serializers.CharField(max_length=100, required=False, default="")
    numbers = serializers.ListField(
        required=False,
        max_length=1_000_000,
        help_text="numbers, or objects with a phone column and parameter columns",
    )
    file = serializers.FileField(required=False, help_text="a CSV file (multipart)")
    parameters = _Strings(
        child=serializers.CharField(max_length=200), required=False, default=list, max_length=10
    )
    variant_b = VariantSerializer(required=False)
    winner_metric = serializers.ChoiceField(choices=Campaign.WinnerMetric.values, required=False, default="")
    max_per_second = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    schedule = serializers.ChoiceField(choices=SCHEDULES, default="now")
    scheduled_at = serializers.DateTimeField(required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("file") is not None and data.get("numbers") is not None:
            raise serializers.ValidationError({"file": "give a CSV file or numbers, not both"})
        if data.get("file") is not None or data.get("numbers") is not None:
            if data["audience"] == Campaign.Audience.ALL and "audience" not in self.initial_data:
                data["audience"] = Campaign.Audience.CSV
            if data["audience"] != Campaign.Audience.CSV:
                raise serializers.ValidationError({"audience": "numbers and file go with audience 'csv'"})
        upload = data.get("file")
        if upload is not None and upload.size > get_setting("API_MEDIA_MAX_BYTES"):
            raise serializers.ValidationError({"file": "larger than WACLOUD['API_MEDIA_MAX_BYTES']"})
        return data


class CampaignSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="phone_number_id", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "campaign_type",
            "account",
            "status",
            "pause_reason",
            "audience",
            "audience_tag",
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
            "created_at",
            "started_at",
            "finished_at",
        ]


def detail(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign": CampaignSerializer(campaign).data,
        "progress": campaigns.progress(campaign),
        "ab_test": campaigns.ab_results(campaign),
        "audience_report": campaign.audience_report or None,
    }


def create(view: ApiView, request: Any, data: dict[str, Any]) -> Response:
    """Create from validated ``data`` (CampaignCreateSerializer's) in the view's organization."""
    variant = data.get("variant_b") or {}
    spec = CampaignSpec(
        name=data["name"],
        template_name=data["template_name"],
        template_language=data["template_language"],
        audience=data["audience"],
        tag=data["tag"],
        numbers=data["file"] if data.get("file") is not None else data.get("numbers"),
        parameters=data["parameters"],
        variant_b_template_name=variant.get("template_name", ""),
        variant_b_template_language=variant.get("template_language", ""),
        variant_b_percent=variant.get("percent", 0),
        winner_metric=data["winner_metric"],
        max_per_second=data.get("max_per_second"),
        schedule=data["schedule"],
        scheduled_at=data.get("scheduled_at"),
        campaign_type=data["campaign_type"],
    )
    try:
        campaign = campaigns.create_campaign(
            view.organization, _account(view, data.get("account")), spec, actor=request.user
        )
    except CampaignError as error:
        raise ApiError(400, "INVALID_CAMPAIGN", str(error), error.api_details) from None
    return ok(detail(campaign), status=201)


def _account(view: ApiView, phone_number_id: str | None) -> BusinessAccount:
    if phone_number_id:
        return view.get_scoped_object(BusinessAccount.objects.all(), phone_number_id=phone_number_id)
    accounts = list(view.scoped(BusinessAccount.objects.filter(is_active=True, archived_at__isnull=True))[:2])
    if len(accounts) != 1:
        raise serializers.ValidationError({"account": "required: name the phone number id to send from"})
    return accounts[0]


def list_campaigns(view: ApiView, request: Any) -> Response:
    rows = view.scoped(Campaign.objects.select_related("account"))
    if request.query_params.get("status"):
        rows = rows.filter(status=request.query_params["status"])
    return view.paginate(rows.order_by("-created_at", "-pk"), CampaignSerializer)


class CampaignListView(ApiView):
    """The organization's campaigns (newest first), and creating one."""

    actions = {"GET": "read", "HEAD": "read", "POST": "send_template"}

    @documented(responses=CampaignSerializer(many=True))
    def get(self, request: Any) -> Response:
        return list_campaigns(self, request)

    @documented(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def post(self, request: Any) -> Response:
        body = CampaignCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return create(self, request, body.validated_data)


class CampaignDetailView(ApiView):
    """One campaign: its settings, progress per status, A/B results, the CSV's report."""

    @documented(responses=CampaignSerializer)
    def get(self, request: Any, pk: int) -> Response:
        return ok(detail(self.get_scoped_object(Campaign.objects.select_related("account"), pk=pk)))


class CampaignActionView(ApiView):
    """``pause``, ``resume`` or ``cancel`` (409 CAMPAIGN_STATE when it does not apply)."""

    actions = {"POST": "send_template"}
    action_name = ""

    @documented(request=None, responses=CampaignSerializer)
    def post(self, request: Any, pk: int) -> Response:
        campaign = self.get_scoped_object(Campaign.objects.select_related("account"), pk=pk)
        actions = {
            "pause": campaigns.pause_campaign,
            "resume": campaigns.resume_campaign,
            "cancel": campaigns.cancel_campaign,
        }
        try:
            actions[self.action_name](campaign, actor=request.user)
        except CampaignStateError as error:
            raise ApiError(409, "CAMPAIGN_STATE", str(error), {"status": campaign.status}) from None
        campaign.refresh_from_db()
        return ok(detail(campaign))


class CampaignPauseView(CampaignActionView):
    action_name = "pause"


class CampaignResumeView(CampaignActionView):
    action_name = "resume"


class CampaignCancelView(CampaignActionView):
    action_name = "cancel"


# -- workflows/automate, type marketing_campaign (seed 000) --------------------------------------


class WorkflowCampaignSerializer(serializers.Serializer):
    """Seed 000's body: ``campaign_type``, ``target_audience`` (``all_customers`` or a tag),
    ``message_template`` (a template name), plus any field of ``POST campaigns``."""

    campaign_type = serializers.CharField(max_length=64, required=False, default="")
    target_audience = serializers.CharField(max_length=100)
    message_template = serializers.CharField(max_length=512)
    name = serializers.CharField(max_length=200, required=False)


def create_from_workflow(view: ApiView, request: Any, body: dict[str, Any]) -> Response:
    parameters = dict(body["parameters"])
    seed = WorkflowCampaignSerializer(data=parameters)
    seed.is_valid(raise_exception=True)
    audience = seed.validated_data["target_audience"]
    fields = {
        **{key: value for key, value in parameters.items() if key in CampaignCreateSerializer().fields},
        "template_name": seed.validated_data["message_template"],
        "campaign_type": seed.validated_data["campaign_type"],
        "name": seed.validated_data.get("name")
        or f"{seed.validated_data['campaign_type'] or 'campaign'}: {seed.validated_data['message_template']}",
        "audience": Campaign.Audience.ALL if audience == "all_customers" else Campaign.Audience.TAG,
        "tag": "" if audience == "all_customers" else audience,
    }
    if body.get("account"):
        fields["account"] = body["account"]
    data = CampaignCreateSerializer(data=fields)
    data.is_valid(raise_exception=True)
    return create(view, request, data.validated_data)
