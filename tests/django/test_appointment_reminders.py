"""Appointment reminders (automation/services/reminders.py, the ``send_due_reminders`` task)
on a controlled clock with the sandbox as Meta: seed 000's ``[24, 2, 0.5]`` fire at their
times and once, past intervals are skipped, rescheduling moves them, cancelling stops them,
consent refusals are recorded, and the REST API (workflows/automate, appointments) with its
validation and tenancy."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from unittest import mock

import pytest
from api_support import Api, member, tenant_a, tenant_b
from django.utils import timezone
from schedule_support import (
    Clock,
    approve_template,
    deliver_left_queued,
    run_task,
    template_texts,
    without_scheduled_rows,
)
from wacloud_test_helpers import USER

from wacloud_django import tasks
from wacloud_django.automation.services import reminders
from wacloud_django.automation.services.consent import record_opt_out
from wacloud_django.models import (
    Appointment,
    AppointmentReminder,
    AuditEntry,
    Contact,
    Message,
    ReminderPolicy,
)

pytestmark = pytest.mark.django_db

SEED_WORKFLOW = {
    "type": "appointment_reminder",
    "parameters": {"reminder_intervals": [24, 2, 0.5], "template_name": "appointment_reminder"},
}
#: A Thursday, 14:00 in Lisbon (UTC+0 in January).
STARTS = datetime(2026, 1, 15, 14, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def clock(sandbox):
    with Clock(STARTS - timedelta(days=3), sandbox) as controlled:
        yield controlled


@pytest.fixture
def policy(sandbox, account):
    approve_template(sandbox, account)
    return reminders.create_policy(account.organization, SEED_WORKFLOW["parameters"])


@pytest.fixture
def contact(account):
    return Contact.objects.create(account=account, wa_id=USER, name="John")


def book(contact, policy, starts_at=STARTS, **fields):
    return reminders.schedule_appointment(
        contact.account.organization,
        contact,
        starts_at,
        policy=policy,
        timezone_name="Europe/Lisbon",
        **fields,
    )


def rows(appointment):
    return {
        float(row.interval_hours): (row.status, row.reason)
        for row in AppointmentReminder.objects.filter(appointment=appointment)
    }


def sweep(clock, capture, **delta):
    if delta:
        clock.travel(**delta)
    return run_task(tasks.send_due_reminders, capture)


def test_24_2_and_half_hour_reminders_fire_at_their_times_and_once(
    clock, sandbox, policy, contact, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    appointment = book(contact, policy)
    assert rows(appointment) == {24.0: ("pending", ""), 2.0: ("pending", ""), 0.5: ("pending", "")}

    assert sweep(clock, capture, days=2, minutes=-1) == {}  # 24 h + 1 min before: not yet
    assert sweep(clock, capture, minutes=1) == {"sent": 1}  # exactly 24 h before
    assert sweep(clock, capture, minutes=1) == {}  # the next minute's run finds nothing
    assert sweep(clock, capture, hours=21, minutes=58) == {}  # 2 h 1 min before
    assert sweep(clock, capture, minutes=1) == {"sent": 1}
    assert sweep(clock, capture, minutes=89) == {}
    assert sweep(clock, capture, minutes=1) == {"sent": 1}  # 30 min before
    assert sweep(clock, capture, hours=1) == {}

    expected = ["John", "January 15 at 2:00 PM"]  # Lisbon is UTC+0 in January
    assert template_texts(sandbox, USER, "appointment_reminder") == [expected] * 3
    assert rows(appointment) == {24.0: ("sent", ""), 2.0: ("sent", ""), 0.5: ("sent", "")}
    for reminder in AppointmentReminder.objects.filter(appointment=appointment):
        assert reminder.message.status == Message.Status.SENT and reminder.message.wamid
        assert reminder.message.reference == f"appointment-{appointment.pk}"
        assert reminder.processed_at == reminder.due_at  # each run was on the minute it was due


def test_times_are_written_in_the_appointments_time_zone(clock, sandbox, policy, contact):
    appointment = book(contact, policy, starts_at=datetime(2026, 7, 1, 13, 30, tzinfo=dt_timezone.utc))
    assert reminders.reminder_parameters(appointment) == ["John", "July 1 at 2:30 PM"]  # summer time, UTC+1
    appointment.template_parameters = ["Dr. Silva", "tomorrow"]
    assert reminders.reminder_parameters(appointment) == ["Dr. Silva", "tomorrow"]


def test_intervals_already_past_are_skipped_not_sent(
    clock, sandbox, policy, contact, django_capture_on_commit_callbacks
):
    appointment = book(contact, policy, starts_at=clock.now + timedelta(hours=3))
    assert rows(appointment) == {24.0: ("skipped", "past"), 2.0: ("pending", ""), 0.5: ("pending", "")}
    assert sweep(clock, django_capture_on_commit_callbacks) == {}
    assert sandbox.sent_messages(to=USER) == []
    assert sweep(clock, django_capture_on_commit_callbacks, hours=1) == {"sent": 1}
    assert rows(appointment)[24.0] == ("skipped", "past")


def test_reschedule_moves_the_reminders_not_sent_yet(
    clock, sandbox, policy, contact, django_capture_on_commit_callbacks
):
    appointment = book(contact, policy)
    assert sweep(clock, django_capture_on_commit_callbacks, days=2) == {"sent": 1}  # the 24 h one
    later = STARTS + timedelta(days=2)
    reminders.update_appointment(appointment, {"starts_at": later})
    due = {float(row.interval_hours): row.due_at for row in appointment.reminders.all()}
    assert due[2.0] == later - timedelta(hours=2) and due[0.5] == later - timedelta(minutes=30)
    assert rows(appointment)[24.0] == ("sent", "")  # history: not sent again
    # The old 2 h time passes without a reminder; the new one fires.
    assert sweep(clock, django_capture_on_commit_callbacks, hours=22) == {}
    assert sweep(clock, django_capture_on_commit_callbacks, moment=later - timedelta(hours=2)) == {"sent": 1}
    assert len(template_texts(sandbox, USER)) == 2
    entry = AuditEntry.objects.filter(action="appointment.update").get()
    assert entry.changes["starts_at"] == [STARTS.isoformat(), later.isoformat()]

    # Moved so close that the 30 min reminder is already past: skipped.
    reminders.update_appointment(appointment, {"starts_at": clock.now + timedelta(minutes=10)})
    assert rows(appointment)[0.5] == ("skipped", "past")


def test_cancel_stops_the_reminders(clock, sandbox, policy, contact, django_capture_on_commit_callbacks):
    appointment = book(contact, policy)
    reminders.cancel_appointment(appointment)
    assert set(rows(appointment).values()) == {("cancelled", "cancelled")}
    for moment in (STARTS - timedelta(hours=24), STARTS - timedelta(hours=2), STARTS - timedelta(minutes=30)):
        assert sweep(clock, django_capture_on_commit_callbacks, moment=moment) == {}
    assert sandbox.sent_messages(to=USER) == []
    assert AuditEntry.objects.filter(action="appointment.cancel").count() == 1


def test_a_cancelled_appointment_between_the_listing_and_the_send_is_not_reminded(
    clock, sandbox, policy, contact
):
    appointment = book(contact, policy)
    reminder = appointment.reminders.get(interval_hours=Decimal("24"))
    Appointment.objects.filter(pk=appointment.pk).update(status="cancelled")  # rows not replanned yet
    clock.travel(days=2)
    assert reminders.send_reminder(reminder.pk) == "cancelled"
    assert sandbox.sent_messages(to=USER) == []


def test_two_runs_and_a_retry_send_each_reminder_once(
    clock, sandbox, policy, contact, django_capture_on_commit_callbacks
):
    appointment = book(contact, policy)
    reminder = appointment.reminders.get(interval_hours=Decimal("24"))
    clock.travel(days=2)
    real_send = reminders.send_scheduled
    inner = []

    def racing_send(*args, **kwargs):
        # A second scheduler arrives while the first holds its claim: it gets nothing to send.
        inner.append(reminders.send_reminder(reminder.pk))
        return real_send(*args, **kwargs)

    with mock.patch.object(reminders, "send_scheduled", side_effect=racing_send):
        assert sweep(clock, django_capture_on_commit_callbacks) == {"sent": 1}
    assert inner == [None]
    # The task retried (or the other beat's run) after the commit: the claim is gone.
    assert reminders.send_reminder(reminder.pk) is None
    assert sweep(clock, django_capture_on_commit_callbacks) == {}
    assert len(sandbox.sent_messages(to=USER)) == 1
    assert (
        Message.objects.filter(direction="outbound", reference=f"appointment-{appointment.pk}").count() == 1
    )


def test_a_consent_refusal_is_recorded_and_not_retried(
    clock, sandbox, policy, contact, account, django_capture_on_commit_callbacks
):
    other = Contact.objects.create(account=account, wa_id="972500000077", name="Bo")
    refused, reminded = book(contact, policy), book(other, policy)
    record_opt_out(contact, True)
    assert sweep(clock, django_capture_on_commit_callbacks, days=2) == {"refused": 1, "sent": 1}
    row = refused.reminders.get(interval_hours=Decimal("24"))
    assert (row.status, row.reason, row.message) == ("refused", "revoked", None) and "opted out" in row.error
    assert reminded.reminders.get(interval_hours=Decimal("24")).status == "sent"  # the other contact goes on
    assert sweep(clock, django_capture_on_commit_callbacks, minutes=1) == {}
    assert sandbox.sent_messages(to=USER) == [] and len(sandbox.sent_messages(to=other.wa_id)) == 1


def test_an_erased_contact_gets_nothing_more(
    clock, sandbox, policy, contact, django_capture_on_commit_callbacks
):
    from wacloud_django.services.privacy import erase_contact

    appointment = book(contact, policy)
    erase_contact(contact)  # skips its unsent reminders itself: the sweep finds none due
    assert sweep(clock, django_capture_on_commit_callbacks, days=2) == {}
    assert rows(appointment)[24.0] == ("skipped", "erased")
    assert sandbox.sent_messages() == []


def test_reminders_are_not_marketing_unless_the_template_is(
    clock, sandbox, account, contact, settings, django_capture_on_commit_callbacks
):
    settings.WACLOUD = {**settings.WACLOUD, "MARKETING_REQUIRES_OPT_IN": True}  # nobody opted in
    approve_template(sandbox, account)  # UTILITY
    approve_template(sandbox, account, "visit_offer", category="MARKETING")
    utility = reminders.create_policy(account.organization, SEED_WORKFLOW["parameters"])
    marketing = reminders.create_policy(
        account.organization, {"reminder_intervals": [24], "template_name": "visit_offer"}
    )
    book(contact, utility)
    offer = book(contact, marketing, starts_at=STARTS + timedelta(hours=1))
    assert sweep(clock, django_capture_on_commit_callbacks, days=2, hours=1) == {"sent": 1, "refused": 1}
    row = offer.reminders.get()
    assert (row.status, row.reason) == ("refused", "opt_in_required")
    assert template_texts(sandbox, USER, "appointment_reminder") and not template_texts(
        sandbox, USER, "visit_offer"
    )


def test_policy_intervals_are_validated():
    for bad in ([], [0], [-1], ["24"], [True], [24, 24], [24 * 61], "24"):
        with pytest.raises(ValueError, match="reminder_intervals"):
            reminders.validate_intervals(bad)
    assert reminders.validate_intervals([0.5, 24, 2]) == [24.0, 2.0, 0.5]


# -- REST --------------------------------------------------------------------------------------------


@pytest.fixture
def tenants(sandbox):
    a, b = tenant_a(), tenant_b()
    without_scheduled_rows()
    approve_template(sandbox, a.account)
    return a, b


def test_workflows_automate_stores_the_seed_policy(client, tenants):
    a, _ = tenants
    api = Api(client, member(a.organization, "marketer"))
    response = api.post("workflows/automate", SEED_WORKFLOW)
    assert response.status_code == 201, response.content
    workflow = response.json()["workflow"]
    assert workflow["type"] == "appointment_reminder" and workflow["intervals"] == [24.0, 2.0, 0.5]
    policy = ReminderPolicy.objects.get(pk=workflow["id"])
    assert (policy.organization, policy.template_name, policy.template_language) == (
        a.organization,
        "appointment_reminder",
        "en_US",
    )
    listed = api.get("workflows/automate", {"type": "appointment_reminder"}).json()["results"]
    assert [row["id"] for row in listed] == [policy.pk]
    assert AuditEntry.objects.filter(action="automation.create", organization=a.organization).exists()


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"template_name": "appointment_reminder"}, "reminder_intervals"),
        ({"reminder_intervals": [], "template_name": "x"}, "reminder_intervals"),
        ({"reminder_intervals": ["soon"], "template_name": "x"}, "reminder_intervals"),
        ({"reminder_intervals": [24]}, "template_name"),
    ],
)
def test_workflows_automate_rejects_bad_reminder_parameters(client, tenants, parameters, field):
    a, _ = tenants
    response = Api(client, member(a.organization, "marketer")).post(
        "workflows/automate", {"type": "appointment_reminder", "parameters": parameters}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR" and field in response.json()["details"]
    assert not ReminderPolicy.objects.exists()


@pytest.mark.parametrize("intervals", [[-2], [0], [24, 24], [10000]])
def test_workflows_automate_rejects_bad_interval_values(client, tenants, intervals):
    a, _ = tenants
    body = {
        "type": "appointment_reminder",
        "parameters": {"reminder_intervals": intervals, "template_name": "x"},
    }
    response = Api(client, member(a.organization, "marketer")).post("workflows/automate", body)
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER"
    assert "reminder_intervals" in response.json()["error"]


def test_appointments_api_create_reschedule_cancel(client, tenants):
    a, _ = tenants
    api = Api(client, member(a.organization, "marketer"))
    api.post("workflows/automate", SEED_WORKFLOW)
    starts = timezone.now() + timedelta(days=3)
    response = api.post("appointments", {"contact": a.contact.pk, "starts_at": starts.isoformat(),
                                         "timezone": "America/Sao_Paulo", "title": "Check-up"})  # fmt: skip
    assert response.status_code == 201, response.content
    created = response.json()["appointment"]
    assert created["contact"] == {"id": a.contact.pk, "wa_id": a.contact.wa_id}
    assert [(row["interval_hours"], row["status"]) for row in created["reminders"]] == [
        ("24.000", "pending"), ("2.000", "pending"), ("0.500", "pending"),
    ]  # fmt: skip
    path = f"appointments/{created['id']}"
    later = starts + timedelta(days=1)
    moved = api.call("PATCH", path, {"starts_at": later.isoformat()}).json()["appointment"]
    first_due = datetime.fromisoformat(moved["reminders"][0]["due_at"].replace("Z", "+00:00"))
    assert first_due == later - timedelta(hours=24)
    cancelled = api.call("DELETE", path).json()["appointment"]
    assert cancelled["status"] == "cancelled" and {row["status"] for row in cancelled["reminders"]} == {
        "cancelled"
    }
    assert api.get(path).json()["appointment"]["status"] == "cancelled"
    assert [row["id"] for row in api.get("appointments").json()["results"]] == [created["id"]]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"starts_at": "2030-01-01T10:00:00Z"}, "VALIDATION_ERROR", "contact"),
        ({"contact": "{contact}"}, "VALIDATION_ERROR", "starts_at"),
        ({"contact": "{contact}", "starts_at": "tomorrow"}, "VALIDATION_ERROR", "starts_at"),
        ({"contact": "{contact}", "starts_at": "2030-01-01T10:00:00Z", "timezone": "Mars/Olympus"},
         "INVALID_PARAMETER", "timezone"),
        ({"contact": "{contact}", "starts_at": "2030-01-01T10:00:00Z", "policy": 999999}, "VALIDATION_ERROR",
         "policy"),
        ({"contact": "{contact}", "starts_at": "2030-01-01T10:00:00Z", "template_parameters": "x"},
         "VALIDATION_ERROR", "template_parameters"),
    ],
)  # fmt: skip
def test_appointments_api_validation(client, tenants, body, code, field):
    a, _ = tenants
    api = Api(client, member(a.organization, "marketer"))
    api.post("workflows/automate", SEED_WORKFLOW)
    body = {key: (a.contact.pk if value == "{contact}" else value) for key, value in body.items()}
    response = api.post("appointments", body)
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == code
    assert field in response.json()["details"] or field in response.json()["error"]
    assert not Appointment.objects.exists()


def test_appointments_need_a_policy(client, tenants):
    a, _ = tenants
    api = Api(client, member(a.organization, "marketer"))
    response = api.post("appointments", {"contact": a.contact.pk, "starts_at": "2030-01-01T10:00:00Z"})
    assert response.status_code == 400 and response.json()["error_code"] == "POLICY_REQUIRED"


def test_appointments_tenant_isolation_and_roles(client, tenants, sandbox):
    a, b = tenants
    policy_b = reminders.create_policy(b.organization, SEED_WORKFLOW["parameters"])
    theirs = reminders.schedule_appointment(b.organization, b.contact, timezone.now() + timedelta(days=2),
                                            policy=policy_b)  # fmt: skip
    api = Api(client, member(a.organization, "admin"))
    api.post("workflows/automate", SEED_WORKFLOW)
    assert api.get(f"appointments/{theirs.pk}").status_code == 404
    assert api.call("PATCH", f"appointments/{theirs.pk}", {"title": "x"}).status_code == 404
    assert api.call("DELETE", f"appointments/{theirs.pk}").status_code == 404
    assert api.get("appointments").json()["results"] == []
    # B's contact, or B's policy, named from A: not found / not valid.
    starts = "2030-01-01T10:00:00Z"
    assert api.post("appointments", {"contact": b.contact.pk, "starts_at": starts}).status_code == 404
    response = api.post("appointments", {"contact": a.contact.pk, "starts_at": starts, "policy": policy_b.pk})
    assert response.status_code == 400 and "policy" in response.json()["details"]
    theirs.refresh_from_db()
    assert theirs.status == "scheduled" and theirs.title == ""
    viewer = Api(client, member(a.organization, "viewer"))
    assert viewer.get("appointments").status_code == 200
    denied = viewer.post("appointments", {"contact": a.contact.pk, "starts_at": starts})
    assert denied.status_code == 403
    assert Appointment.objects.filter(organization=a.organization).count() == 0


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_schedulers_running_the_task_at_once_send_each_reminder_once(sandbox, account):
    """Several beat schedulers at the same moment in threads. On PostgreSQL the row claim
    resolves every race with no failure; on SQLite the writers queue up (a thread may fail
    on the lock): whatever happens, each reminder is sent once."""
    import threading

    from django.db import connection

    approve_template(sandbox, account)
    policy = reminders.create_policy(account.organization, SEED_WORKFLOW["parameters"])
    start = timezone.now()
    contacts = [
        Contact.objects.create(account=account, wa_id=f"97250000010{n}", name="Ana") for n in range(3)
    ]
    with Clock(start):
        appointments = [
            reminders.schedule_appointment(
                account.organization, contact, start + timedelta(hours=25), policy=policy
            )
            for contact in contacts
        ]
    barrier, results, failures = threading.Barrier(4), [], []

    def work():
        try:
            barrier.wait(timeout=10)
            results.append(tasks.send_due_reminders())
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    with Clock(start + timedelta(hours=1, minutes=1)):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if connection.vendor == "postgresql":
            assert failures == []
        tasks.send_due_reminders()  # what a failed run left is picked up by the next one
        deliver_left_queued()
    assert sum(result.get("sent", 0) for result in results) <= 3
    for appointment in appointments:
        assert appointment.reminders.get(interval_hours=Decimal("24")).status == "sent"
        assert Message.objects.filter(reference=f"appointment-{appointment.pk}").count() == 1
    assert len(sandbox.sent_messages(type="template")) == 3
