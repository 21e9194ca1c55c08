"""Scheduled messages (docs/automation.md): appointments and their reminders, follow-up
sequences and enrollments, daily summary subscriptions. Reading needs ``read``; writing
``manage_automation`` (these send templates on the organization's behalf)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.response import Response

from ...automation.services import followups, reminders, summaries
from ...models import (
    Appointment,
    AppointmentReminder,
    BusinessAccount,
    Contact,
    DailySummarySubscription,
    FollowUpEnrollment,
    FollowUpSequence,
    FollowUpStep,
    ReminderPolicy,
)
from ...services.outbound import normalize_recipient
from ..base import ApiView, documented, ok
from ..errors import ApiError

_WRITE = {"GET": "read", "HEAD": "read", "POST": "manage_automation", "PATCH": "manage_automation",
          "DELETE": "manage_automation"}  # fmt: skip


# -- workflows/automate type appointment_reminder ----------------------------------------------------


class ReminderParametersSerializer(serializers.Serializer):
    reminder_intervals = serializers.ListField(
        child=serializers.FloatField(), allow_empty=False, max_length=20
    )
    template_name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=16, required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ReminderPolicySerializer(serializers.ModelSerializer):
    type = serializers.SerializerMethodField()
    account = serializers.SlugRelatedField(slug_field="phone_number_id", read_only=True)

    class Meta:
        model = ReminderPolicy
        fields = ["id", "type", "name", "account", "is_active", "intervals", "template_name",
                  "template_language", "created_at", "updated_at"]  # fmt: skip

    def get_type(self, policy: ReminderPolicy) -> str:
        return "appointment_reminder"


def create_reminder_policy(view: ApiView, request: Any, validated: dict[str, Any]) -> Response:
    """``POST workflows/automate`` with ``type: appointment_reminder``."""
    parameters = ReminderParametersSerializer(data=validated["parameters"])
    parameters.is_valid(raise_exception=True)
    account = None
    if validated.get("account"):
        account = view.get_scoped_object(BusinessAccount.objects.all(), phone_number_id=validated["account"])
    policy = reminders.create_policy(view.organization, parameters.validated_data, actor=request.user,
                                     account=account)  # fmt: skip
    return ok({"workflow": ReminderPolicySerializer(policy).data}, status=201)


def list_reminder_policies(view: ApiView) -> Response:
    rows = view.scoped(ReminderPolicy.objects.select_related("account")).order_by("pk")
    return view.paginate(rows, ReminderPolicySerializer)


# -- appointments -----------------------------------------------------------------------------------


class ReminderSerializer(serializers.ModelSerializer):
    message = serializers.SlugRelatedField(slug_field="wamid", read_only=True)

    class Meta:
        model = AppointmentReminder
        fields = ["interval_hours", "due_at", "status", "reason", "error", "message", "processed_at"]


class AppointmentSerializer(serializers.ModelSerializer):
    contact = serializers.SerializerMethodField()
    reminders = ReminderSerializer(many=True, read_only=True)

    class Meta:
        model = Appointment
        fields = ["id", "contact", "policy", "starts_at", "timezone", "template_parameters", "title",
                  "reference", "status", "reminders", "created_at", "updated_at"]  # fmt: skip

    def get_contact(self, appointment: Appointment) -> dict[str, Any]:
        return {"id": appointment.contact_id, "wa_id": appointment.contact.wa_id}


class AppointmentWriteSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False, help_text="contact id")
    wa_id = serializers.CharField(required=False, max_length=64, help_text="or the number (create only)")
    account = serializers.CharField(required=False, help_text="phone number id, with wa_id")
    policy = serializers.IntegerField(required=False, help_text="reminder policy id; optional with one")
    starts_at = serializers.DateTimeField()
    timezone = serializers.CharField(required=False, max_length=64, default="UTC")
    template_parameters = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list, max_length=10
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)


def _appointments(view: ApiView) -> Any:
    return view.scoped(Appointment.objects.select_related("contact").prefetch_related("reminders"))


class AppointmentListView(ApiView):
    actions = _WRITE

    @documented(responses=AppointmentSerializer(many=True))
    def get(self, request: Any) -> Response:
        rows = _appointments(self)
        if request.query_params.get("status"):
            rows = rows.filter(status=request.query_params["status"])
        if request.query_params.get("contact"):
            rows = rows.filter(contact_id=request.query_params["contact"])
        return self.paginate(rows.order_by("starts_at", "pk"), AppointmentSerializer)

    @documented(request=AppointmentWriteSerializer, responses={201: AppointmentSerializer})
    def post(self, request: Any) -> Response:
        body = AppointmentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        appointment = reminders.schedule_appointment(
            self.organization, self._contact(data), data["starts_at"],
            policy=_policy(self, data.get("policy")), timezone_name=data["timezone"],
            template_parameters=data["template_parameters"], title=data["title"], reference=data["reference"],
            actor=request.user,
        )  # fmt: skip
        return ok({"appointment": AppointmentSerializer(appointment).data}, status=201)

    def _contact(self, data: dict[str, Any]) -> Contact:
        return _contact(self, data, create=True)


def _contact(view: ApiView, data: dict[str, Any], *, create: bool = False) -> Contact:
    """The contact named by ``contact`` (an id) or ``wa_id`` (+ ``account``), of this
    organization (another's is a 404). Appointments may name a number never seen before."""
    if data.get("contact") is not None:
        return view.get_scoped_object(Contact.objects.select_related("account"), pk=data["contact"])
    if not data.get("wa_id"):
        raise serializers.ValidationError({"contact": "give contact (an id) or wa_id"})
    from .messaging import account_for

    account = account_for(view, data.get("account"))
    wa_id = normalize_recipient(data["wa_id"])
    if create:
        return Contact.objects.get_or_create(account=account, wa_id=wa_id)[0]
    return view.get_scoped_object(Contact.objects.select_related("account"), account=account, wa_id=wa_id)


def _policy(view: ApiView, policy_id: int | None) -> ReminderPolicy:
    policies = view.scoped(ReminderPolicy.objects.filter(is_active=True))
    if policy_id is not None:
        found = policies.filter(pk=policy_id).first()
        if found is None:
            raise serializers.ValidationError({"policy": "no active reminder policy of this organization"})
        return found
    only = list(policies[:2])
    if len(only) != 1:
        raise ApiError(
            400, "POLICY_REQUIRED",
            "Name the reminder policy with 'policy'" if only else
            "This organization has no reminder policy: POST workflows/automate (appointment_reminder).",
            {"policy": "the id of an appointment_reminder workflow"},
        )  # fmt: skip
    return only[0]


class AppointmentDetailView(ApiView):
    actions = _WRITE

    @documented(responses=AppointmentSerializer)
    def get(self, request: Any, pk: int) -> Response:
        return ok(
            {"appointment": AppointmentSerializer(self.get_scoped_object(_appointments(self), pk=pk)).data}
        )

    @documented(request=AppointmentWriteSerializer, responses=AppointmentSerializer)
    def patch(self, request: Any, pk: int) -> Response:
        appointment = self.get_scoped_object(_appointments(self), pk=pk)
        body = AppointmentWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changes = {key: value for key, value in body.validated_data.items() if key in request.data}
        for fixed in ("contact", "wa_id", "account"):
            if fixed in changes:
                raise serializers.ValidationError({fixed: "cannot change: cancel and create another"})
        if "policy" in changes:
            changes["policy"] = _policy(self, changes["policy"])
        updated = reminders.update_appointment(appointment, changes)
        return ok({"appointment": AppointmentSerializer(_appointments(self).get(pk=updated.pk)).data})

    @documented(responses=AppointmentSerializer)
    def delete(self, request: Any, pk: int) -> Response:
        """Cancel: the appointment stays (with its reminders' history), nothing more is sent."""
        appointment = reminders.cancel_appointment(self.get_scoped_object(_appointments(self), pk=pk))
        return ok({"appointment": AppointmentSerializer(_appointments(self).get(pk=appointment.pk)).data})


# -- follow-up sequences ----------------------------------------------------------------------------


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = FollowUpStep
        fields = ["position", "delay_seconds", "text", "template_name", "template_language",
                  "template_parameters", "condition", "condition_step"]  # fmt: skip


class SequenceSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)
    account = serializers.SlugRelatedField(slug_field="phone_number_id", read_only=True)

    class Meta:
        model = FollowUpSequence
        fields = ["id", "name", "account", "trigger", "trigger_tag", "purpose", "is_active", "steps",
                  "created_at"]  # fmt: skip


class SequenceWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    trigger = serializers.ChoiceField(choices=FollowUpSequence.Trigger.choices, default="api")
    trigger_tag = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    purpose = serializers.ChoiceField(choices=FollowUpSequence.Purpose.choices, default="whatsapp_messaging")
    steps = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=followups.MAX_STEPS
    )
    account = serializers.CharField(required=False, help_text="phone number id: its contacts only")


class EnrollmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = FollowUpEnrollment
        fields = ["id", "sequence", "contact", "status", "stop_reason", "next_position", "next_due_at",
                  "trigger", "started_at", "ended_at"]  # fmt: skip


class SequenceListView(ApiView):
    actions = _WRITE

    @documented(responses=SequenceSerializer(many=True))
    def get(self, request: Any) -> Response:
        rows = self.scoped(FollowUpSequence.objects.prefetch_related("steps").select_related("account"))
        return self.paginate(rows.order_by("pk"), SequenceSerializer)

    @documented(request=SequenceWriteSerializer, responses={201: SequenceSerializer})
    def post(self, request: Any) -> Response:
        body = SequenceWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        account = None
        if data.get("account"):
            account = self.get_scoped_object(
                BusinessAccount.objects.all(), phone_number_id=data.pop("account")
            )
        sequence = followups.create_sequence(self.organization, data, account=account)
        return ok({"sequence": SequenceSerializer(sequence).data}, status=201)


class EnrollmentListView(ApiView):
    """The sequence's enrollments; POST ``{"contact": id}`` starts it for a contact (201, or 200
    with the enrollment already active)."""

    actions = _WRITE

    @documented(responses=EnrollmentSerializer(many=True))
    def get(self, request: Any, pk: int) -> Response:
        sequence = self.get_scoped_object(FollowUpSequence.objects.all(), pk=pk)
        return self.paginate(sequence.enrollments.order_by("-started_at", "-pk"), EnrollmentSerializer)

    @documented(request=EnrollmentSerializer, responses={201: EnrollmentSerializer})
    def post(self, request: Any, pk: int) -> Response:
        sequence = self.get_scoped_object(FollowUpSequence.objects.all(), pk=pk)
        body = _ContactSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        contact = _contact(self, body.validated_data)
        enrollment, created = followups.enroll(sequence, contact)
        return ok({"enrollment": EnrollmentSerializer(enrollment).data, "created": created},
                  status=201 if created else 200)  # fmt: skip


class _ContactSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False, help_text="contact id")
    wa_id = serializers.CharField(required=False, max_length=64, help_text="or the contact's number")
    account = serializers.CharField(required=False, help_text="phone number id, with wa_id")


# -- daily summaries --------------------------------------------------------------------------------


class SummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = DailySummarySubscription
        fields = ["id", "contact", "local_time", "timezone", "builder", "template_name", "template_language",
                  "is_active", "next_run_at", "created_at"]  # fmt: skip


class SummaryWriteSerializer(_ContactSerializer):
    local_time = serializers.TimeField()
    timezone = serializers.CharField(max_length=64)
    template_name = serializers.CharField(max_length=512, required=False, default="daily_summary")
    template_language = serializers.CharField(max_length=16, required=False, default="en_US")


class SummaryListView(ApiView):
    """Daily summary subscriptions. POST subscribes a contact (or changes their time); the
    builder is ``WACLOUD["AUTOMATION"]["DAILY_SUMMARY_BUILDER"]`` (the admin can name another)."""

    actions = _WRITE

    @documented(responses=SummarySerializer(many=True))
    def get(self, request: Any) -> Response:
        return self.paginate(
            self.scoped(DailySummarySubscription.objects.all()).order_by("pk"), SummarySerializer
        )

    @documented(request=SummaryWriteSerializer, responses={201: SummarySerializer})
    def post(self, request: Any) -> Response:
        body = SummaryWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        contact = _contact(self, data)
        subscription = summaries.subscribe(
            contact, data["local_time"], data["timezone"], template_name=data["template_name"],
            template_language=data["template_language"],
        )  # fmt: skip
        return ok({"subscription": SummarySerializer(subscription).data}, status=201)


class SummaryDetailView(ApiView):
    actions = _WRITE

    @documented(responses=SummarySerializer)
    def get(self, request: Any, pk: int) -> Response:
        subscription = self.get_scoped_object(DailySummarySubscription.objects.all(), pk=pk)
        return ok({"subscription": SummarySerializer(subscription).data})

    @documented(responses=SummarySerializer)
    def delete(self, request: Any, pk: int) -> Response:
        """Unsubscribe (kept, inactive, with its runs)."""
        subscription = self.get_scoped_object(DailySummarySubscription.objects.all(), pk=pk)
        summaries.unsubscribe(subscription.contact)
        subscription.refresh_from_db()
        return ok({"subscription": SummarySerializer(subscription).data})
