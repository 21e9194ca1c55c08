"""Marketing campaigns (docs/automation.md, "Campaigns"), with the sandbox as Meta: CSV
validation, audiences, consent, Meta's 131049/131048 answers, A/B split and winner,
pause/resume/cancel, recovery after an abandoned claim (counting the sandbox's requests),
status webhooks and replies, the REST API (validation, tenancy) and the command."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from api_support import Api, error_code, member, tenant_a, tenant_b
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from wacloud_test_helpers import envelope, status_update, text_message

from wacloud_django.automation.services import campaign_sending as sending
from wacloud_django.automation.services import campaigns
from wacloud_django.automation.services.campaigns import CampaignError, CampaignSpec
from wacloud_django.automation.services.consent import record_consent, record_opt_out
from wacloud_django.models import AuditEntry, Campaign, CampaignRecipient, Contact, Message
from wacloud_django.services.clients import client_for

pytestmark = pytest.mark.django_db
R = CampaignRecipient.Status

CSV = """phone,name,city
+972 50-010-0001,Ana,Haifa
not a number,Bob,Eilat
972500100002,Carl,Acre
12,Dina,Lod
972500100001,Ana again,Haifa
+972 500 100 003,Eve,Yafo
"""


@contextmanager
def travel(when):
    """``timezone.now`` at ``when`` (time-machine is not a dependency of this suite)."""
    with mock.patch("django.utils.timezone.now", lambda: when):
        yield


def make_contacts(account, count, *, tags=(), start=972500100000):
    return [
        Contact.objects.create(account=account, wa_id=str(start + i), name=f"Person{i}", tags=list(tags))
        for i in range(count)
    ]


def spec(**fields):
    return CampaignSpec(**{"name": "Spring sale", "template_name": "hello_world", **fields})


@pytest.fixture
def create(account, django_capture_on_commit_callbacks):
    """create_campaign, running what it schedules after the commit (the inline sender)."""

    def make(**fields):
        with django_capture_on_commit_callbacks(execute=True):
            campaign = campaigns.create_campaign(account.organization, account, spec(**fields))
        campaign.refresh_from_db()
        return campaign

    return make


def counts(campaign):
    return {status: n for status, n in campaigns.progress(campaign)["counts"].items() if n}


def approved_template(sandbox, account, name, text="Hi {{1}}, {{2}} off today"):
    """A MARKETING template with body parameters, created in the sandbox and approved."""
    example = {"body_text": [["Ana", "10%"][: text.count("{{")]]} if "{{" in text else None
    body = {"type": "BODY", "text": text, **({"example": example} if example else {})}
    client_for(account).create_template(name, "en_US", "MARKETING", [body])
    sandbox.set_template_status(name, "APPROVED")


# -- audiences -----------------------------------------------------------------------------------


def test_csv_reports_invalid_lines_and_merges_duplicates(account, sandbox, create):
    campaign = create(audience="csv", numbers=CSV, parameters=["name", "city"], schedule="draft")
    report = campaign.audience_report
    assert (report["rows"], report["valid"], report["duplicates"], report["invalid"]) == (6, 4, 1, 2)
    assert [row["line"] for row in report["invalid_rows"]] == [3, 5]
    assert "not a number" in report["invalid_rows"][0]["value"]
    rows = {r.wa_id: r.params for r in CampaignRecipient.objects.filter(campaign=campaign)}
    # Duplicates merged after normalizing: the first row wins.
    assert rows == {
        "972500100001": ["Ana", "Haifa"],
        "972500100002": ["Carl", "Acre"],
        "972500100003": ["Eve", "Yafo"],
    }
    assert Contact.objects.get(account=account, wa_id="972500100002").name == "Carl"
    assert campaign.status == Campaign.Status.DRAFT and sandbox.sent_messages() == []


def test_csv_without_any_valid_number_is_refused(account, sandbox, create):
    with pytest.raises(CampaignError, match="no valid phone number"):
        create(audience="csv", numbers="phone\nabc\n12\n")
    assert not Campaign.objects.exists()


def test_per_recipient_parameters_from_csv_columns(account, sandbox, create):
    approved_template(sandbox, account, "spring_offer")
    csv = "phone,first_name,discount\n972500100001,Ana,10%\n972500100002,Bob,20%\n"
    campaign = create(
        audience="csv", numbers=csv, template_name="spring_offer", parameters=["first_name", "discount"]
    )
    assert campaign.status == Campaign.Status.COMPLETED, campaign.pause_reason
    sent = {m["to"]: m["payload"]["template"]["components"][0]["parameters"] for m in sandbox.sent_messages()}
    assert sent["972500100002"] == [{"type": "text", "text": "Bob"}, {"type": "text", "text": "20%"}]


def test_audience_by_tag_and_missing_parameter_skipped(account, sandbox, create):
    vip = make_contacts(account, 3, tags=["vip"])
    make_contacts(account, 4, tags=["lead"], start=972500200000)
    Contact.objects.filter(pk=vip[0].pk).update(name="")
    approved_template(sandbox, account, "vip_hello", text="Hello {{1}}, welcome back")
    campaign = create(audience="tag", tag="vip", template_name="vip_hello", parameters=["name"])
    assert counts(campaign) == {R.SENT: 2, R.SKIPPED: 1}
    assert (
        CampaignRecipient.objects.get(campaign=campaign, status=R.SKIPPED).error == "missing parameter: name"
    )
    assert sorted(m["to"] for m in sandbox.sent_messages()) == [vip[1].wa_id, vip[2].wa_id]


# -- consent and Meta's answers ---------------------------------------------------------------------


def test_consent_refusals_are_skipped_with_the_reason(account, sandbox, create, settings):
    people = make_contacts(account, 4)
    record_opt_out(people[0], True)
    record_consent(people[1], "marketing", "revoked", source="api")
    record_consent(people[2], "marketing", "granted", source="api")
    campaign = create()
    assert counts(campaign) == {R.SENT: 2, R.SKIPPED: 2}
    errors = dict(
        CampaignRecipient.objects.filter(campaign=campaign, status=R.SKIPPED).values_list("wa_id", "error")
    )
    assert errors == {
        people[0].wa_id: "consent: whatsapp_messaging revoked",
        people[1].wa_id: "consent: marketing revoked",
    }
    assert sorted(m["to"] for m in sandbox.sent_messages()) == [people[2].wa_id, people[3].wa_id]
    assert AuditEntry.objects.filter(action="message.refused").count() == 2
    # With opt-in required, only the contact who granted it gets the next one.
    settings.WACLOUD = {**settings.WACLOUD, "MARKETING_REQUIRES_OPT_IN": True}
    again = create(name="Again")
    assert counts(again) == {R.SENT: 1, R.SKIPPED: 3}


def test_marketing_limit_131049_fails_that_recipient_and_goes_on(account, sandbox, create):
    make_contacts(account, 6)
    sandbox.set_faults(send_error_next=1, send_error_code=131049)
    campaign = create()
    assert campaign.status == Campaign.Status.COMPLETED
    assert counts(campaign) == {R.SENT: 5, R.FAILED: 1}
    assert CampaignRecipient.objects.get(campaign=campaign, status=R.FAILED).error_code == 131049
    assert len(sandbox.sent_messages()) == 5


def test_spam_rate_limit_131048_pauses_and_resume_finishes(
    account, sandbox, create, django_capture_on_commit_callbacks
):
    people = make_contacts(account, 6)
    sandbox.set_faults(send_error_next=1, send_error_code=131048)
    campaign = create()
    assert campaign.status == Campaign.Status.PAUSED and "131048" in campaign.pause_reason
    assert counts(campaign) == {R.SENT: 5, R.QUEUED: 1}
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.resume_campaign(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and counts(campaign) == {R.SENT: 6}
    sent_to = [m["to"] for m in sandbox.sent_messages()]
    assert sorted(sent_to) == sorted(p.wa_id for p in people)  # each once


def test_paused_template_pauses_the_campaign(account, sandbox, create):
    make_contacts(account, 3)
    sandbox.set_template_status("hello_world", "PAUSED")
    campaign = create()
    assert campaign.status == Campaign.Status.PAUSED and "132015" in campaign.pause_reason
    assert counts(campaign) == {R.QUEUED: 3} and sandbox.sent_messages() == []


def test_template_paused_webhook_pauses_scheduled_campaigns(account, sandbox, create, post_webhook):
    make_contacts(account, 2)
    campaign = create(schedule="at", scheduled_at=timezone.now() + timedelta(hours=1))
    assert campaign.status == Campaign.Status.SCHEDULED
    value = {
        "event": "PAUSED",
        "message_template_id": 123,
        "message_template_name": "hello_world",
        "message_template_language": "en_US",
        "reason": "LOW_QUALITY",
    }
    assert post_webhook(envelope(value, field="message_template_status_update")).status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and "PAUSED" in campaign.pause_reason


# -- A/B, statuses, replies ------------------------------------------------------------------------


def test_ab_split_counts_and_winner_by_read_rate(account, sandbox, create, post_webhook):
    make_contacts(account, 10)
    approved_template(sandbox, account, "spring_b", text="Spring is here")
    campaign = create(variant_b_template_name="spring_b", variant_b_percent=30, winner_metric="read_rate")
    variants = dict(
        CampaignRecipient.objects.filter(campaign=campaign)
        .values_list("variant")
        .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("pk"))
    )
    assert variants == {"A": 7, "B": 3}
    names = [m["payload"]["template"]["name"] for m in sandbox.sent_messages()]
    assert names.count("spring_b") == 3 and names.count("hello_world") == 7
    for recipient in CampaignRecipient.objects.filter(campaign=campaign, variant="B")[:2]:
        assert post_webhook(status_update(recipient.wamid, "read")).status_code == 200
    results = campaigns.ab_results(campaign)
    assert results["variants"]["B"]["read"] == 2 and results["variants"]["A"]["read_rate"] == 0.0
    assert results["winner"] == "B"


def test_status_webhooks_and_replies_move_recipients(account, sandbox, create, post_webhook):
    people = make_contacts(account, 3, start=972987654321)  # the first is the helpers' USER
    campaign = create()
    first, second, third = CampaignRecipient.objects.filter(campaign=campaign).order_by("wa_id")
    post_webhook(status_update(first.wamid, "delivered"))
    post_webhook(status_update(second.wamid, "read"))
    post_webhook(status_update(second.wamid, "delivered"))  # late: never moves it back
    error = [
        {"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement."}
    ]
    post_webhook(status_update(third.wamid, "failed", errors=error))
    post_webhook(text_message("wamid.reply-1", "Tell me more", wa_id=people[0].wa_id))
    statuses = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("wa_id", "status"))
    assert statuses == {first.wa_id: R.REPLIED, second.wa_id: R.READ, third.wa_id: R.FAILED}
    assert CampaignRecipient.objects.get(pk=third.pk).error_code == 131049
    assert Message.objects.get(wamid=second.wamid).status == Message.Status.READ


# -- pause, resume, cancel, recovery ---------------------------------------------------------------


def test_pause_resume_cancel(account, sandbox, create, django_capture_on_commit_callbacks):
    make_contacts(account, 4)
    campaign = create(schedule="draft")
    campaigns.start_campaign(campaign, enqueue=False)
    campaigns.pause_campaign(campaign)
    assert sending.run_campaign(campaign.pk)["continue"] is False and sandbox.sent_messages() == []
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.resume_campaign(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and len(sandbox.sent_messages()) == 4
    with pytest.raises(campaigns.CampaignStateError):
        campaigns.resume_campaign(campaign)
    other = create(name="Other", schedule="draft")
    campaigns.start_campaign(other, enqueue=False)
    campaigns.cancel_campaign(other)
    sending.run_campaign(other.pk)
    other.refresh_from_db()
    assert other.status == Campaign.Status.CANCELLED and counts(other) == {R.SKIPPED: 4}
    assert len(sandbox.sent_messages()) == 4


def test_abandoned_claim_is_taken_over_without_duplicates(account, sandbox, create):
    people = make_contacts(account, 8)
    campaign = create(schedule="draft")
    campaigns.start_campaign(campaign, enqueue=False)
    abandoned = sending.claim_batch(campaign, 3)  # a worker that claimed, then died
    assert len(abandoned.rows) == 3
    sending.run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING and counts(campaign) == {R.SENT: 5, R.SENDING: 3}
    with travel(timezone.now() + timedelta(minutes=11)):
        sending.run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and counts(campaign) == {R.SENT: 8}
    sent_to = [m["to"] for m in sandbox.sent_messages()]
    assert sorted(sent_to) == sorted(p.wa_id for p in people)  # every one, each once


def test_handed_off_but_unrecorded_batch_is_unknown_not_resent(account, sandbox, create):
    make_contacts(account, 5)
    campaign = create(schedule="draft")
    campaigns.start_campaign(campaign, enqueue=False)
    claim = sending.claim_batch(campaign, 2)
    # The worker committed the hand-off, then died before recording the answers.
    CampaignRecipient.objects.filter(claim_token=claim.token).update(handed_off_at=timezone.now())
    with travel(timezone.now() + timedelta(minutes=11)):
        sending.run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert counts(campaign) == {R.SENT: 3, R.UNKNOWN: 2} and len(sandbox.sent_messages()) == 3
    assert campaign.status == Campaign.Status.COMPLETED
    assert sending.requeue_unknown(campaign) == 2  # a human's decision


def test_recurring_campaign_starts_one_run_per_occurrence(account, sandbox, create):
    make_contacts(account, 2)
    start = timezone.now() + timedelta(minutes=5)
    schedule = create(schedule="daily", scheduled_at=start)
    assert campaigns.start_due_campaigns()["started"] == 0
    with travel(start + timedelta(seconds=1)):
        assert campaigns.start_due_campaigns()["started"] == 1
        assert campaigns.start_due_campaigns()["started"] == 0  # the same occurrence never twice
    run = Campaign.objects.get(parent=schedule)
    schedule.refresh_from_db()
    assert schedule.scheduled_at == start + timedelta(days=1) and schedule.status == Campaign.Status.SCHEDULED
    assert counts(run) == {R.QUEUED: 2} or counts(run) == {R.SENT: 2}


# -- REST API --------------------------------------------------------------------------------------


@pytest.fixture
def tenants(db):
    return tenant_a(), tenant_b()


def test_api_create_json_and_multipart_progress_and_actions(
    client, sandbox, tenants, django_capture_on_commit_callbacks
):
    a, _ = tenants
    api = Api(client, member(a.organization, "marketer"))
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "campaigns",
            {
                "name": "JSON",
                "template_name": "hello_world",
                "numbers": ["+972 50 000 0009", "bad", "972500000009"],
            },
        )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["campaign"]["status"] == "running"  # answered before the send (after the commit)
    sent = api.get(f"campaigns/{body['campaign']['id']}").json()
    assert sent["campaign"]["status"] == "completed" and sent["progress"]["counts"]["sent"] == 1
    assert (
        body["audience_report"]["invalid_rows"][0]["line"] == 2 and body["audience_report"]["duplicates"] == 1
    )
    upload = SimpleUploadedFile("list.csv", CSV.encode(), content_type="text/csv")
    response = api.call(
        "POST",
        "campaigns",
        {"name": "CSV", "template_name": "hello_world", "file": upload, "schedule": "draft"},
        multipart=True,
    )
    assert response.status_code == 201, response.content
    campaign_id = response.json()["campaign"]["id"]
    assert response.json()["audience_report"]["invalid"] == 2
    assert api.post(f"campaigns/{campaign_id}/pause").status_code == 409  # a draft is not running
    assert error_code(api.post(f"campaigns/{campaign_id}/resume")) == "CAMPAIGN_STATE"
    assert api.post(f"campaigns/{campaign_id}/cancel").json()["campaign"]["status"] == "cancelled"
    detail = api.get(f"campaigns/{campaign_id}").json()
    assert detail["progress"]["counts"]["skipped"] == 3
    assert {row["id"] for row in api.get("campaigns").json()["results"]} == {
        body["campaign"]["id"],
        campaign_id,
        a.campaign.pk,  # the tenant's own scheduled campaign (api_support)
    }


def test_api_validation_errors(client, sandbox, tenants):
    a, _ = tenants
    api = Api(client, member(a.organization, "marketer"))
    cases = [
        ({"template_name": "hello_world"}, "VALIDATION_ERROR"),
        ({"name": "x", "template_name": "hello_world", "audience": "tag"}, "INVALID_CAMPAIGN"),
        (
            {"name": "x", "template_name": "hello_world", "audience": "tag", "tag": "vip", "numbers": ["1"]},
            "VALIDATION_ERROR",
        ),
        ({"name": "x", "template_name": "hello_world", "schedule": "at"}, "INVALID_CAMPAIGN"),
        ({"name": "x", "template_name": "hello_world", "numbers": ["nope"]}, "INVALID_CAMPAIGN"),
        (
            {
                "name": "x",
                "template_name": "hello_world",
                "variant_b": {"template_name": "b", "percent": 100},
            },
            "VALIDATION_ERROR",
        ),
        ({"name": "x", "template_name": "hello_world", "parameters": ["city"]}, "INVALID_CAMPAIGN"),
    ]
    for body, code in cases:
        response = api.post("campaigns", body)
        assert response.status_code == 400, (body, response.content)
        assert error_code(response) == code, (body, response.json())
    # Only the two tenants' seeded campaigns (api_support): nothing was created.
    assert Campaign.objects.count() == 2 and sandbox.sent_messages() == []


def test_api_tenant_isolation_and_roles(client, sandbox, tenants):
    a, b = tenants
    theirs = campaigns.create_campaign(b.organization, b.account, spec(schedule="draft"))
    api = Api(client, member(a.organization, "marketer"))
    assert api.get(f"campaigns/{theirs.pk}").status_code == 404
    assert api.post(f"campaigns/{theirs.pk}/cancel").status_code == 404
    assert [row["id"] for row in api.get("campaigns").json()["results"]] == [a.campaign.pk]  # A's own
    response = api.post(
        "campaigns", {"name": "x", "template_name": "hello_world", "account": b.account.phone_number_id}
    )
    assert response.status_code == 404
    viewer = Api(client, member(a.organization, "viewer"))
    assert viewer.post("campaigns", {"name": "x", "template_name": "hello_world"}).status_code == 403
    theirs.refresh_from_db()
    assert theirs.status == Campaign.Status.DRAFT


def test_workflows_automate_marketing_campaign_seed_body(
    client, sandbox, tenants, django_capture_on_commit_callbacks
):
    a, _ = tenants
    Contact.objects.filter(pk=a.contact.pk).update(tags=["org-a", "vip"])
    api = Api(client, member(a.organization, "marketer"))
    body = {
        "type": "marketing_campaign",
        "parameters": {
            "campaign_type": "promotion",
            "target_audience": "vip",
            "message_template": "hello_world",
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("workflows/automate", body)
    assert response.status_code == 201, response.content
    campaign = Campaign.objects.get(pk=response.json()["campaign"]["id"])
    assert (campaign.audience, campaign.audience_tag, campaign.campaign_type) == ("tag", "vip", "promotion")
    assert [m["to"] for m in sandbox.sent_messages()] == [a.contact.wa_id]
    body["parameters"] = {"target_audience": "all_customers"}
    assert error_code(api.post("workflows/automate", body)) == "VALIDATION_ERROR"
    listed = api.get("workflows/automate", {"type": "marketing_campaign"}).json()
    assert [row["id"] for row in listed["results"]] == [campaign.pk, a.campaign.pk]


# -- the command and the demo -----------------------------------------------------------------------


def test_command_create_start_status(account, sandbox, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(CSV)
    out = StringIO()
    call_command(
        "whatsapp_campaign",
        "create",
        "--name",
        "Cmd",
        "--template",
        "hello_world",
        "--csv",
        str(path),
        "--format",
        "json",
        stdout=out,
    )
    created = json.loads(out.getvalue())
    assert created["status"] == "draft" and created["audience_report"]["invalid"] == 2
    out = StringIO()
    call_command("whatsapp_campaign", "start", str(created["id"]), stdout=out)
    assert "Campaign" in out.getvalue() and "sent 3" in out.getvalue()
    out = StringIO()
    call_command("whatsapp_campaign", "status", str(created["id"]), "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["progress"]["counts"]["sent"] == 3
    with pytest.raises(Exception, match="cannot resume"):
        call_command("whatsapp_campaign", "resume", str(created["id"]), stdout=StringIO())
    assert len(sandbox.sent_messages()) == 3


def test_demo_campaign(account, sandbox):
    result = campaigns.run_demo_campaign(account, ["+972 50 010 0001", "972500100002", "oops"])
    assert result["status"] == "completed" and result["progress"]["counts"]["sent"] == 2
    assert result["audience_report"]["invalid"] == 1


# -- admin -----------------------------------------------------------------------------------------


def test_admin_shows_progress_and_pauses_resumes(admin_client, account, sandbox, create):
    from django.urls import reverse

    make_contacts(account, 2)
    campaign = create(schedule="draft")
    campaigns.start_campaign(campaign, enqueue=False)
    changelist = reverse("admin:wacloud_campaign_changelist")
    page = admin_client.get(reverse("admin:wacloud_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200 and b"queued 2" in page.content
    response = admin_client.post(changelist, {"action": "pause_campaigns", "_selected_action": [campaign.pk]})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    admin_client.post(changelist, {"action": "pause_campaigns", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED  # refused with a warning, nothing changed
    admin_client.post(changelist, {"action": "cancel_campaigns", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED and sandbox.sent_messages() == []
    assert admin_client.get(reverse("admin:wacloud_campaignrecipient_changelist")).status_code == 200


def test_resuming_a_paused_recurring_schedule_keeps_it_a_schedule(account, sandbox, create):
    make_contacts(account, 1)
    schedule = create(schedule="weekly", scheduled_at=timezone.now() - timedelta(minutes=1))
    campaigns.pause_campaign(schedule)
    resumed = campaigns.resume_campaign(schedule)
    assert resumed.status == Campaign.Status.SCHEDULED and not resumed.recipients.exists()
    assert campaigns.start_due_campaigns()["started"] == 1
    assert Campaign.objects.filter(parent=schedule).count() == 1


def test_an_erased_contact_is_never_in_an_all_contacts_audience(account, sandbox, create):
    from wacloud_django.services import privacy

    kept, erased = make_contacts(account, 2)
    privacy.erase_contact(erased)
    campaign = create(audience="all")
    assert list(CampaignRecipient.objects.filter(campaign=campaign).values_list("wa_id", flat=True)) == [
        kept.wa_id
    ]
    assert [message["to"] for message in sandbox.sent_messages()] == [kept.wa_id]
