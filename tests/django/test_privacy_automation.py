"""A contact's rights over the automation data (docs/privacy.md): the export has a section for
confirmations, appointments, follow-ups, daily summaries, campaign messages and help desk
sessions; erasure stops the contact's pending work (the beat tasks, run later on a moved
clock, send nothing to it), redacts the text and parameters, keeps statuses, leaves a
neighbour untouched, and a second run changes nothing more."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone
from schedule_support import SUMMARY_BODY, Clock, approve_template, run_task
from test_campaigns import approved_template
from test_confirmations import writes
from test_helpdesk_sessions import store  # noqa: F401  (the fixture: both session stores)
from wacloud_test_helpers import USER

from wacloud_django import tasks
from wacloud_django.automation.services import (
    campaign_sending,
    campaigns,
    confirmations,
    followups,
    reminders,
    summaries,
)
from wacloud_django.automation.services.campaigns import CampaignSpec
from wacloud_django.helpdesk.services import sessions
from wacloud_django.models import (
    Appointment,
    AppointmentReminder,
    AuditEntry,
    CampaignRecipient,
    Confirmation,
    Contact,
    DailySummarySubscription,
    FollowUpEnrollment,
)
from wacloud_django.services import privacy

pytestmark = pytest.mark.django_db

NEIGHBOUR = "972555000111"
SECTIONS = ("confirmations", "appointments", "followup_enrollments", "daily_summaries", "campaign_messages",
            "helpdesk_sessions")  # fmt: skip


@pytest.fixture
def clock(sandbox):
    with Clock(timezone.now().replace(microsecond=0), sandbox) as controlled:
        yield controlled


@pytest.fixture
def people(clock, sandbox, account, post_webhook, settings, django_capture_on_commit_callbacks):
    """Ana (to erase) and her neighbour, each with a pending and a queued confirmation, an
    appointment in two days, a follow-up enrollment, a daily summary and a queued campaign
    recipient: every kind of automation row, all still to be sent."""
    builder = {"DAILY_SUMMARY_BUILDER": "schedule_support.build_summary"}
    settings.WACLOUD = {**settings.WACLOUD, "AUTOMATION": builder}
    approve_template(sandbox, account)
    approve_template(sandbox, account, "daily_summary", SUMMARY_BODY, examples=("Monday", "3", "2"))
    approved_template(sandbox, account, "spring_offer")
    policy = reminders.create_policy(
        account.organization, {"reminder_intervals": [24, 2], "template_name": "appointment_reminder"}
    )
    step = {"delay_seconds": 3600, "text": "How is the tooth?"}
    sequence = followups.create_sequence(account.organization, {"name": "Aftercare", "steps": [step]})
    contacts = {}
    for wa_id, name in ((USER, "Ana"), (NEIGHBOUR, "Bea")):
        writes(post_webhook, sandbox, "hi", wa_id=wa_id)
        contact = Contact.objects.get(account=account, wa_id=wa_id)
        with django_capture_on_commit_callbacks(execute=True):
            for description in (f"book the dentist for {name}", f"pay {name}'s invoice"):
                confirmations.request_confirmation(
                    contact, "calendar_create", description, details=f"{name} at 1 Main St",
                    timeout_minutes=30, payload={"patient": name},
                )  # fmt: skip
        reminders.schedule_appointment(
            account.organization, contact, clock.now + timedelta(days=2), policy=policy,
            title=f"Root canal for {name}", template_parameters=[name, "Friday at 3 PM"],
        )  # fmt: skip
        followups.enroll(sequence, contact)
        summaries.subscribe(contact, (clock.now + timedelta(hours=3)).time(), "UTC")
        contacts[wa_id] = contact
    csv = f"phone,first_name,discount\n{USER},Ana,10%\n{NEIGHBOUR},Bea,20%\n"
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaigns.create_campaign(
            account.organization, account,
            CampaignSpec(name="Spring sale", template_name="spring_offer", audience="csv", numbers=csv,
                         parameters=["first_name", "discount"], schedule="draft"),
        )  # fmt: skip
    campaigns.start_campaign(campaign, enqueue=False)  # recipients queued, nothing sent yet
    return contacts[USER], contacts[NEIGHBOUR], campaign


def _document(contact: Contact) -> dict:
    return json.loads(zipfile.ZipFile(BytesIO(privacy.export_contact(contact))).read("contact.json"))


def _rows_of(contact: Contact) -> dict:
    """Everything erasure may touch of ``contact``, to compare before and after."""
    return {
        "confirmations": list(Confirmation.objects.filter(contact=contact).order_by("pk").values()),
        "appointments": list(Appointment.objects.filter(contact=contact).order_by("pk").values()),
        "reminders": list(
            AppointmentReminder.objects.filter(appointment__contact=contact).order_by("pk").values()
        ),
        "enrollments": list(FollowUpEnrollment.objects.filter(contact=contact).order_by("pk").values()),
        "summaries": list(DailySummarySubscription.objects.filter(contact=contact).values()),
        "recipients": list(CampaignRecipient.objects.filter(contact=contact).order_by("pk").values()),
    }  # fmt: skip


def test_export_has_a_section_for_every_kind_of_automation_data(people):
    ana, _, campaign = people
    document = _document(ana)
    assert set(SECTIONS) <= set(document)
    assert [c["description"] for c in document["confirmations"]] == [
        "book the dentist for Ana",
        "pay Ana's invoice",
    ]
    assert [c["status"] for c in document["confirmations"]] == ["pending", "queued"]
    assert document["confirmations"][0]["payload"] == {"patient": "Ana"}
    (appointment,) = document["appointments"]
    assert appointment["title"] == "Root canal for Ana"
    assert appointment["template_parameters"] == ["Ana", "Friday at 3 PM"]
    assert [r["status"] for r in appointment["reminders"]] == ["pending", "pending"]
    (enrollment,) = document["followup_enrollments"]
    assert (enrollment["sequence"], enrollment["status"]) == ("Aftercare", "active")
    (summary,) = document["daily_summaries"]
    assert summary["is_active"] and summary["runs"] == []
    (recipient,) = document["campaign_messages"]
    assert recipient["campaign"]["name"] == campaign.name and recipient["params"] == ["Ana", "10%"]
    assert (recipient["wa_id"], recipient["status"]) == (USER, "queued")
    assert "claim_token" not in recipient  # the sender's bookkeeping, not the person's data
    assert document["helpdesk_sessions"] == []
    # The audit trail of the contact's confirmations and appointments comes along.
    assert {"confirmation.request", "appointment.create"} <= {e["action"] for e in document["audit_entries"]}


def test_erase_stops_pending_work_redacts_text_and_leaves_the_neighbour_alone(
    people, clock, sandbox, django_capture_on_commit_callbacks
):
    ana, bea, campaign = people
    neighbour_before = _rows_of(bea)
    sent_to_ana, start = len(sandbox.sent_messages(to=USER)), clock.now
    requests_before, sent_to_bea = sandbox.graph_requests(), len(sandbox.sent_messages(to=NEIGHBOUR))

    counts = privacy.erase_contact(ana)

    assert counts["confirmations_cancelled"] == 2 and counts["confirmations_redacted"] == 2
    assert counts["appointments_cancelled"] == 1 and counts["reminders_skipped"] == 2
    assert counts["followups_stopped"] == 1 and counts["summaries_ended"] == 1
    assert counts["campaign_recipients_skipped"] == 1 and counts["campaign_recipients_redacted"] == 1
    assert counts["appointments_redacted"] == 1 and counts["automation_audit_entries_pseudonymized"] >= 4
    # Pending work stopped, with the reason; statuses and timestamps stay for analytics.
    for confirmation in Confirmation.objects.filter(contact=ana):
        assert (confirmation.status, confirmation.error) == ("cancelled", "contact erased")
        assert confirmation.resolved_at is not None and confirmation.requested_at is not None
        assert (confirmation.description, confirmation.details, confirmation.payload) == ("", "", {})
    appointment = Appointment.objects.get(contact=ana)
    assert (appointment.status, appointment.title, appointment.template_parameters) == ("cancelled", "", [])
    assert set(appointment.reminders.values_list("status", "reason")) == {("skipped", "erased")}
    enrollment = FollowUpEnrollment.objects.get(contact=ana)
    assert (enrollment.status, enrollment.stop_reason, enrollment.next_due_at) == ("stopped", "erased", None)
    assert not DailySummarySubscription.objects.get(contact=ana).is_active
    recipient = CampaignRecipient.objects.get(campaign=campaign, contact=ana)
    assert (recipient.status, recipient.error, recipient.params) == ("skipped", "contact erased", [])
    assert recipient.wa_id == counts["pseudonym"]
    # Audit entries about them keep who did what, not what the confirmation or appointment said.
    anas = [str(pk) for pk in Confirmation.objects.filter(contact=ana).values_list("pk", flat=True)]
    entries = AuditEntry.objects.filter(object_type="wacloud.Confirmation", object_id__in=anas)
    assert entries.count() >= 4  # requested and cancelled, each
    for entry in entries:
        assert "Ana" not in entry.object_repr and "dentist" not in entry.object_repr
    assert "Root canal for Ana" not in json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert "Root canal for Bea" in json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))
    # The neighbour's rows did not change at all.
    assert _rows_of(bea) == neighbour_before

    # Later, every beat task runs on a moved clock: the neighbour gets her messages, Ana none.
    with django_capture_on_commit_callbacks(execute=True):
        campaign_sending.run_campaign(campaign.pk)
    beat = (tasks.expire_confirmations, tasks.send_due_reminders, tasks.advance_followups,
            tasks.send_daily_summaries)  # fmt: skip
    for moment in (
        timedelta(hours=3),
        timedelta(days=2, hours=-1),
    ):  # the summary's hour, then the reminders'
        clock.travel(start + moment)
        for task in beat:
            run_task(task, django_capture_on_commit_callbacks)
    assert len(sandbox.sent_messages(to=USER)) == sent_to_ana
    # Every request the beat made was a message to the neighbour (none refused, none to a pseudonym).
    sent_to_bea = len(sandbox.sent_messages(to=NEIGHBOUR)) - sent_to_bea
    assert sent_to_bea >= 4 and sandbox.graph_requests() - requests_before == sent_to_bea
    assert not [m for m in sandbox.sent_messages() if m["to"].startswith(privacy.PSEUDONYM_PREFIX)]
    to_bea = sandbox.sent_messages(to=NEIGHBOUR)
    templates = {m["payload"]["template"]["name"] for m in to_bea if m["payload"].get("type") == "template"}
    assert {"appointment_reminder", "daily_summary", "spring_offer"} <= templates
    assert CampaignRecipient.objects.get(campaign=campaign, contact=bea).status == "sent"


def test_erasing_twice_changes_nothing_more(people):
    ana, _, _ = people
    privacy.erase_contact(ana)
    before = _rows_of(ana)
    audit_before = list(AuditEntry.objects.exclude(action="contact.erase").order_by("pk").values())

    again = privacy.erase_contact(ana)

    for kind in ("confirmations_cancelled", "confirmations_redacted", "appointments_cancelled",
                 "reminders_skipped", "appointments_redacted", "followups_stopped", "summaries_ended",
                 "campaign_recipients_skipped", "campaign_recipients_redacted", "helpdesk_sessions_ended",
                 "automation_audit_entries_pseudonymized"):  # fmt: skip
        assert again[kind] == 0, kind
    assert _rows_of(ana) == before
    assert list(AuditEntry.objects.exclude(action="contact.erase").order_by("pk").values()) == audit_before


def test_campaign_recipients_are_skipped_and_redacted_in_bounded_batches(people):
    ana, _, campaign = people
    # More campaigns than a batch: the same number on every one (an uploaded list each time).
    for index in range(5):
        CampaignRecipient.objects.create(
            campaign=campaign.__class__.objects.create(
                organization=campaign.organization, account=campaign.account, name=f"List {index}",
                audience="csv", template_name="spring_offer", template_language="en_US",
            ),
            wa_id=USER, params=["Ana", f"{index}%"],
        )  # fmt: skip
    counts = privacy.erase_contact(ana, batch_size=2)
    assert counts["campaign_recipients_skipped"] == 6 and counts["campaign_recipients_redacted"] == 6
    assert not CampaignRecipient.objects.filter(wa_id=USER).exists()
    redacted = CampaignRecipient.objects.filter(wa_id=counts["pseudonym"])
    assert redacted.count() == 6 and all(params == [] for params in redacted.values_list("params", flat=True))


def test_the_help_desk_session_is_ended_in_its_store(post_webhook, sandbox, account, store):  # noqa: F811
    from test_helpdesk import writes as writes_to_help_desk

    writes_to_help_desk(post_webhook, sandbox, "Preciso de ajuda")
    writes_to_help_desk(post_webhook, sandbox, "Olá", wa_id=NEIGHBOUR)
    ana = Contact.objects.get(account=account, wa_id=USER)
    bea = Contact.objects.get(account=account, wa_id=NEIGHBOUR)
    (exported,) = _document(ana)["helpdesk_sessions"]
    assert exported["is_active"] and exported["ticket_number"]

    counts = privacy.erase_contact(ana)

    assert counts["helpdesk_sessions_ended"] == 1
    with sessions.locked_session(account, ana) as session:
        assert not session.is_active and session.ticket_number == exported["ticket_number"]
    with sessions.locked_session(account, bea) as session:
        assert sessions.is_current(session)  # the neighbour's conversation goes on
    assert privacy.erase_contact(ana)["helpdesk_sessions_ended"] == 0
