"""Builders for the REST API tests: organizations with a full set of rows, members with
a role and a token, and a small client that speaks to ``/whatsapp/`` with that token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from wacloud_test_helpers import PHONE_NUMBER_ID, WABA_ID

from wacloud_django.models import (
    ApiToken,
    AuditEntry,
    BusinessAccount,
    Confirmation,
    Contact,
    Conversation,
    MediaFile,
    Membership,
    Message,
    Organization,
    Template,
    Ticket,
)

PREFIX = "/whatsapp/"
ROLES = ("viewer", "agent", "marketer", "admin")

# A 1x1 PNG: uploads are checked against their bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f0b1d40000000049454e44ae426082"
)

#: Organization B: its account is not the sandbox's, so nothing of B could ever reach Meta.
OTHER_PHONE_NUMBER_ID = "2233445566778"
OTHER_WABA_ID = "9876543210123456789"


@dataclass
class Tenant:
    organization: Organization
    account: BusinessAccount
    contact: Contact
    conversation: Conversation
    inbound: Message
    outbound: Message
    template: Template
    account_template: Template
    media: MediaFile
    audit: AuditEntry
    ticket: Ticket
    confirmation: Confirmation | None = None
    #: Scheduled messages (appointments/<id>, followups/<id>/enrollments, daily-summaries/<id>).
    appointment: Any = None
    sequence: Any = None
    summary: Any = None
    campaign: Any = None

    @property
    def ids(self) -> dict[str, Any]:
        """What path templates name: ``{conversation}``, ``{wamid}``, ..."""
        return {
            "conversation": self.conversation.pk,
            "contact": self.contact.pk,
            "wa_id": self.contact.wa_id,
            "wamid": self.inbound.wamid,
            "outbound_wamid": self.outbound.wamid,
            "account": self.account.pk,
            "phone_number_id": self.account.phone_number_id,
            "media": self.media.pk,
            "template": self.account_template.pk,
            "media_id": self.media.media_id,
            "ticket": self.ticket.number,
            "confirmation": self.confirmation.pk if self.confirmation else None,
            "appointment": self.appointment.pk if self.appointment else None,
            "sequence": self.sequence.pk if self.sequence else None,
            "summary": self.summary.pk if self.summary else None,
            "campaign": self.campaign.pk if self.campaign else None,
            "qr_code": "AAAAAAAAAAAAAA",  # a QR code Meta does not know
        }


def make_tenant(slug: str, phone_number_id: str, waba_id: str, wa_id: str) -> Tenant:
    """An organization with one account and one of everything users see through it."""
    organization = Organization.objects.create(slug=slug, name=slug.upper())
    account = BusinessAccount.objects.create(
        organization=organization,
        name=f"{slug} account",
        phone_number_id=phone_number_id,
        waba_id=waba_id,
        display_phone_number="972123456789",
        access_token="EAAG-test-token",
        app_secret=f"{slug}-app-secret",
        verify_token=f"{slug}-verify-token",
    )
    now = timezone.now()
    contact = Contact.objects.create(
        account=account, wa_id=wa_id, name=f"{slug} contact", tags=[slug], last_inbound_at=now
    )
    conversation = Conversation.objects.create(
        account=account,
        contact=contact,
        unread_count=2,
        last_message_at=now,
        last_inbound_at=now,
        service_window_expires_at=now + timedelta(hours=23),
    )
    common = {"account": account, "conversation": conversation, "contact": contact, "type": "text"}
    inbound = Message.objects.create(
        **common, wamid=f"wamid.{slug}-in", direction="inbound", text=f"{slug} hello", status="received"
    )
    outbound = Message.objects.create(
        **common, wamid=f"wamid.{slug}-out", direction="outbound", text=f"{slug} reply", status="sent"
    )
    # Templates belong to the WABA: one known by WABA only, one through the account.
    body = [{"type": "BODY", "text": "Hello"}]
    name = slug.replace("-", "_")
    template = Template.objects.create(
        waba_id=waba_id, name=f"{name}_by_waba", language="en_US", status="APPROVED", components=body
    )
    account_template = Template.objects.create(
        account=account, waba_id=waba_id, name=f"{name}_welcome", language="en_US", status="APPROVED",
        category="UTILITY", components=body,
    )  # fmt: skip
    media = MediaFile.objects.create(
        account=account, message=inbound, media_id=f"{slug}-media-1", mime_type="image/png"
    )
    media.file.save(f"{slug}.png", ContentFile(PNG))
    audit = AuditEntry.objects.create(organization=organization, source="system", action=f"{slug}.seeded")
    # Numbered apart, so naming one tenant's number never finds the other's ticket by chance.
    ticket = Ticket.objects.create(organization=organization, account=account, contact=contact,
                                   number=Ticket.objects.count() + 1, subject=f"{slug} ticket")  # fmt: skip
    # A question put to the contact, still pending (confirmations/<id>).
    confirmation = Confirmation.objects.create(organization=organization, account=account, contact=contact,
                                               action_type=f"{name}_action", description=f"{slug} question",
                                               timeout_minutes=30)  # fmt: skip
    tenant = Tenant(organization, account, contact, conversation, inbound, outbound, template,
                    account_template, media, audit, ticket, confirmation)  # fmt: skip
    _add_scheduled(tenant, now)
    # A campaign scheduled for later (campaigns/<id>): it may be paused or cancelled, not resumed.
    from wacloud_django.models import Campaign

    tenant.campaign = Campaign.objects.create(
        organization=organization, account=account, name=f"{slug} campaign", audience="all",
        template_name=account_template.name, template_language="en_US", status="scheduled",
        scheduled_at=now + timedelta(days=3),
    )  # fmt: skip
    return tenant


def _add_scheduled(tenant: Tenant, now: Any) -> None:
    """A reminder policy with an appointment, a follow-up sequence, a daily summary subscription."""
    from datetime import time

    from wacloud_django.models import (
        Appointment,
        DailySummarySubscription,
        FollowUpSequence,
        FollowUpStep,
        ReminderPolicy,
    )

    organization, contact = tenant.organization, tenant.contact
    policy = ReminderPolicy.objects.create(organization=organization, intervals=[24, 2, 0.5],
                                           template_name="appointment_reminder")  # fmt: skip
    tenant.appointment = Appointment.objects.create(organization=organization, contact=contact, policy=policy,
                                                    starts_at=now + timedelta(days=2))  # fmt: skip
    tenant.sequence = FollowUpSequence.objects.create(organization=organization, name="Welcome")
    FollowUpStep.objects.create(sequence=tenant.sequence, position=1, delay_seconds=3600, text="Hello again")
    tenant.summary = DailySummarySubscription.objects.create(contact=contact, local_time=time(8, 0),
                                                             next_run_at=now + timedelta(days=1))  # fmt: skip


def tenant_a() -> Tenant:
    """Organization A: its account is the sandbox's, so its sends and syncs succeed."""
    return make_tenant("org-a", PHONE_NUMBER_ID, WABA_ID, "972500000001")


def tenant_b() -> Tenant:
    return make_tenant("org-b", OTHER_PHONE_NUMBER_ID, OTHER_WABA_ID, "972500000002")


def member(organization: Organization, role: str, username: str | None = None, **fields: Any) -> Any:
    """A user with ``role`` in ``organization`` (created when missing)."""
    username = username or f"{organization.slug}-{role}"
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=fields)
    Membership.objects.update_or_create(user=user, organization=organization, defaults={"role": role})
    return user


class Api:
    """Calls ``/whatsapp/<path>`` as one user (token auth), optionally naming an organization."""

    def __init__(self, client: Any, user: Any = None, *, key: str | None = None, organization: str = ""):
        self.client = client
        if key is None and user is not None:
            key = ApiToken.issue(user)[1]
        self.key = key
        self.organization = organization

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {}
        if self.key:
            headers["HTTP_AUTHORIZATION"] = f"Token {self.key}"
        if self.organization:
            headers["HTTP_X_ORGANIZATION"] = self.organization
        headers.update(extra)
        return headers

    def call(self, method: str, path: str, body: Any = None, *, multipart: bool = False, **extra: str) -> Any:
        url = PREFIX + path
        headers = self.headers(**extra)
        method = method.lower()
        if method in ("get", "head", "options"):
            return getattr(self.client, method)(url, body or {}, **headers)
        if multipart:
            return getattr(self.client, method)(url, body or {}, **headers)
        data = json.dumps(body if body is not None else {})
        return getattr(self.client, method)(url, data, content_type="application/json", **headers)

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: str) -> Any:
        return self.call("GET", path, params, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("POST", path, body, **extra)


def error_code(response: Any) -> str | None:
    """The ``error_code`` of an error answer (``None`` for a success)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error_code") if isinstance(body, dict) and body.get("success") is False else None


def listed_ids(response: Any) -> set[Any]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}
