"""Follow-up sequences (automation/services/followups.py, the ``advance_followups`` task) driven
through signed webhooks with the sandbox as Meta on a controlled clock: triggers (first
message, tag, API), free text inside the window and the template outside it, stop on reply and
on STOP, the "read but no reply" and "no reply since" conditions, once per step, and the API."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from api_support import Api, member, tenant_a, tenant_b
from django.utils import timezone
from schedule_support import Clock, approve_template, run_task, template_texts, texts, without_scheduled_rows
from wacloud_test_helpers import USER, status_update, text_message

from wacloud_django import tasks
from wacloud_django.automation.services import followups
from wacloud_django.models import Contact, FollowUpDelivery, FollowUpEnrollment, FollowUpSequence, Message

pytestmark = pytest.mark.django_db

NUDGE = "Did you find what you were looking for?"
CHECK_IN = "Hello {{1}}, we are here if you need us."
_wamids = count()


@pytest.fixture
def clock(sandbox):
    with Clock(timezone.now().replace(microsecond=0), sandbox) as controlled:
        yield controlled


@pytest.fixture
def template(sandbox, account):
    return approve_template(sandbox, account, "check_in", CHECK_IN, examples=("Ana",))


def make_sequence(account, *steps, trigger="api", **fields):
    return followups.create_sequence(
        account.organization, {"name": "Welcome", "trigger": trigger, "steps": list(steps), **fields}
    )


def step(delay, text="", template_name="", condition="always", **extra):
    return {"delay_seconds": delay, "text": text, "template_name": template_name, "condition": condition,
            "template_parameters": ["Ana"] if template_name else [], **extra}  # fmt: skip


def writes(post_webhook, sandbox, clock, text="hi", wa_id=USER):
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text=text)
    wamid = f"wamid.followup{next(_wamids)}"
    response = post_webhook(text_message(wamid, text, wa_id=wa_id, timestamp=int(clock.now.timestamp())))
    assert response.status_code == 200
    return Message.objects.get(wamid=wamid)


def advance(clock, capture, **delta):
    if delta:
        clock.travel(**delta)
    return run_task(tasks.advance_followups, capture)


def enrollment_of(sequence, wa_id=USER):
    return FollowUpEnrollment.objects.get(sequence=sequence, contact__wa_id=wa_id)


def test_first_message_starts_it_text_inside_the_window_template_outside(
    clock, sandbox, account, template, post_webhook, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    sequence = make_sequence(
        account, step(600, text=NUDGE, template_name="check_in"),
        step(2 * 86400, text=NUDGE, template_name="check_in"), trigger="first_inbound",
    )  # fmt: skip
    writes(post_webhook, sandbox, clock)
    enrollment = enrollment_of(sequence)
    assert (enrollment.status, enrollment.trigger) == ("active", "first_inbound")
    assert enrollment.next_due_at == clock.now + timedelta(seconds=600)

    assert advance(clock, capture, seconds=599) == {}
    assert advance(clock, capture, seconds=1) == {"sent": 1}
    assert texts(sandbox, USER) == [NUDGE]  # inside the 24-hour window: free text
    assert advance(clock, capture, days=2) == {"sent": 1}
    assert template_texts(sandbox, USER, "check_in") == [["Ana"]]  # outside it: the template
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("completed", "end")
    assert advance(clock, capture, days=5) == {}
    assert [d.message.type for d in FollowUpDelivery.objects.filter(enrollment=enrollment)] == [
        "text",
        "template",
    ]


def test_a_second_message_does_not_start_first_message_sequences(
    clock, sandbox, account, post_webhook, django_capture_on_commit_callbacks
):
    writes(post_webhook, sandbox, clock)
    make_sequence(account, step(60, text=NUDGE), trigger="first_inbound")
    writes(post_webhook, sandbox, clock, "again")
    assert not FollowUpEnrollment.objects.exists()


def test_any_reply_stops_it(
    clock, sandbox, account, template, post_webhook, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    sequence = make_sequence(
        account, step(3600, template_name="check_in"), step(3600, template_name="check_in")
    )
    enrollment, created = followups.enroll(sequence, contact)
    assert created
    assert advance(clock, capture, hours=1) == {"sent": 1}
    writes(post_webhook, sandbox, clock, "thanks, all good")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason, enrollment.next_due_at) == ("stopped", "reply", None)
    assert advance(clock, capture, hours=2) == {}
    assert len(template_texts(sandbox, USER)) == 1


def test_stop_keyword_stops_it_as_an_opt_out(
    clock, sandbox, account, template, post_webhook, django_capture_on_commit_callbacks
):
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    sequence = make_sequence(account, step(3600, template_name="check_in"))
    enrollment, _ = followups.enroll(sequence, contact)
    writes(post_webhook, sandbox, clock, "STOP")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "opt_out")
    assert advance(clock, django_capture_on_commit_callbacks, hours=2) == {}
    assert template_texts(sandbox, USER) == []
    with pytest.raises(ValueError, match="opted out"):
        followups.enroll(sequence, Contact.objects.get(pk=contact.pk))


def test_an_opt_out_through_the_api_stops_it(client, sandbox, django_capture_on_commit_callbacks):
    a = tenant_a()
    without_scheduled_rows()
    sequence = followups.create_sequence(a.organization, {"name": "N", "steps": [step(60, text=NUDGE)]})
    enrollment, _ = followups.enroll(sequence, a.contact)
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(client, member(a.organization, "agent")).call(
            "PATCH", f"contacts/{a.contact.pk}", {"opted_out": True}
        )
    assert response.status_code == 200
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "opt_out")


def test_read_but_no_reply(
    clock, sandbox, account, template, post_webhook, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    contacts = [Contact.objects.create(account=account, wa_id=wa_id, name="Ana")
                for wa_id in (USER, "972500000088")]  # fmt: skip
    sequence = make_sequence(
        account, step(60, template_name="check_in"),
        step(3600, template_name="check_in", condition="read_no_reply"), step(60, template_name="check_in"),
    )  # fmt: skip
    for contact in contacts:
        followups.enroll(sequence, contact)
    assert advance(clock, capture, minutes=1) == {"sent": 2}
    # Only the first contact reads the first message.
    first = FollowUpDelivery.objects.get(enrollment__contact=contacts[0], step__position=1).message
    response = post_webhook(status_update(first.wamid, "read", timestamp=int(clock.now.timestamp()) + 5))
    assert response.status_code == 200
    assert advance(clock, capture, hours=1) == {"sent": 1, "skipped": 1}
    skipped = FollowUpDelivery.objects.get(enrollment__contact=contacts[1], step__position=2)
    assert (skipped.status, skipped.reason, skipped.message) == ("skipped", "not_read", None)
    assert advance(clock, capture, minutes=1) == {"sent": 2}  # step 3 (always) for both
    assert len(template_texts(sandbox, USER)) == 3 and len(template_texts(sandbox, "972500000088")) == 2


def test_no_reply_since_a_step(clock, sandbox, account, template, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    sequence = make_sequence(
        account, step(60, template_name="check_in"), step(60, template_name="check_in"),
        step(60, template_name="check_in", condition="no_reply_since", condition_step=1),
    )  # fmt: skip
    enrollment, _ = followups.enroll(sequence, contact)
    advance(clock, capture, minutes=1)
    clock.travel(seconds=30)
    # A reply the receivers never saw (stored by other code): the condition still sees it.
    Message.objects.create(account=account, contact=contact, direction="inbound", type="text", text="ok",
                           status="received")  # fmt: skip
    assert advance(clock, capture, seconds=30) == {"sent": 1}
    assert advance(clock, capture, minutes=1) == {"skipped": 1}
    assert FollowUpDelivery.objects.get(enrollment=enrollment, step__position=3).reason == "replied"


def test_a_tag_added_starts_it(clock, client, sandbox, django_capture_on_commit_callbacks):
    a = tenant_a()
    without_scheduled_rows()
    sequence = followups.create_sequence(
        a.organization,
        {"name": "VIP", "trigger": "tag_added", "trigger_tag": "vip", "steps": [step(60, text=NUDGE)]},
    )
    api = Api(client, member(a.organization, "agent"))
    with django_capture_on_commit_callbacks(execute=True):
        assert api.call("PATCH", f"contacts/{a.contact.pk}", {"tags": ["org-a", "vip"]}).status_code == 200
    enrollment = FollowUpEnrollment.objects.get(sequence=sequence)
    assert (enrollment.contact, enrollment.trigger) == (a.contact, "tag_added")
    with django_capture_on_commit_callbacks(execute=True):  # a tag already there starts nothing again
        api.call("PATCH", f"contacts/{a.contact.pk}", {"name": "Renamed"})
    assert FollowUpEnrollment.objects.count() == 1


def test_one_active_enrollment_per_contact_and_each_step_once(
    clock, sandbox, account, template, django_capture_on_commit_callbacks
):
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    sequence = make_sequence(account, step(60, template_name="check_in"), step(60, template_name="check_in"))
    first, created = followups.enroll(sequence, contact)
    again, created_again = followups.enroll(sequence, contact)
    assert created and not created_again and again.pk == first.pk
    clock.travel(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert followups.advance_enrollment(first.pk) == "sent"
    assert followups.advance_enrollment(first.pk) is None  # a second scheduler / a retried task
    assert FollowUpDelivery.objects.filter(enrollment=first).count() == 1
    assert len(template_texts(sandbox, USER)) == 1
    # Once it ended, the contact may be enrolled again.
    followups.stop_enrollments(contact, "api")
    assert followups.enroll(sequence, contact)[1] is True


def test_a_refused_step_is_recorded_and_ends_the_marketing_enrollment(
    clock, sandbox, account, template, settings, django_capture_on_commit_callbacks
):
    settings.WACLOUD = {**settings.WACLOUD, "MARKETING_REQUIRES_OPT_IN": True}
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    sequence = make_sequence(account, step(60, template_name="check_in"), step(60, template_name="check_in"),
                             purpose="marketing")  # fmt: skip
    enrollment, _ = followups.enroll(sequence, contact)
    assert advance(clock, django_capture_on_commit_callbacks, minutes=1) == {"refused": 1}
    delivery = FollowUpDelivery.objects.get(enrollment=enrollment)
    assert (delivery.status, delivery.reason) == ("refused", "opt_in_required")
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "opt_out")
    assert advance(clock, django_capture_on_commit_callbacks, minutes=5) == {}


# -- REST --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "x", "steps": []}, "steps"),
        ({"name": "x", "steps": [{"delay_seconds": 60}]}, "text, template_name"),
        ({"name": "x", "steps": [{"delay_seconds": -1, "text": "a"}]}, "delay_seconds"),
        ({"name": "x", "steps": [{"delay_seconds": 1, "text": "a", "condition": "maybe"}]}, "condition"),
        ({"name": "x", "steps": [{"delay_seconds": 1, "text": "a", "condition": "read_no_reply"}]},
         "first step"),
        ({"name": "x", "steps": [{"delay_seconds": 1, "text": "a"},
                                 {"delay_seconds": 1, "text": "b", "condition": "no_reply_since",
                                  "condition_step": 2}]}, "condition_step"),
        ({"name": "x", "trigger": "tag_added", "steps": [{"delay_seconds": 1, "text": "a"}]}, "trigger_tag"),
        ({"name": "x", "trigger": "sometimes", "steps": [{"delay_seconds": 1, "text": "a"}]}, "trigger"),
    ],
)  # fmt: skip
def test_sequence_api_validation(client, db, body, needle):
    a = tenant_a()
    without_scheduled_rows()
    response = Api(client, member(a.organization, "marketer")).post("followups", body)
    assert response.status_code == 400, response.content
    assert needle in response.content.decode()
    assert not FollowUpSequence.objects.exists()


def test_sequence_api_enroll_and_tenancy(client, db):
    a, b = tenant_a(), tenant_b()
    without_scheduled_rows()
    api = Api(client, member(a.organization, "marketer"))
    response = api.post("followups", {"name": "Welcome", "steps": [{"delay_seconds": 60, "text": NUDGE}]})
    assert response.status_code == 201, response.content
    sequence_id = response.json()["sequence"]["id"]
    path = f"followups/{sequence_id}/enrollments"
    assert api.post(path, {"contact": a.contact.pk}).status_code == 201
    assert api.post(path, {"contact": a.contact.pk}).json()["created"] is False
    assert [row["contact"] for row in api.get(path).json()["results"]] == [a.contact.pk]
    assert api.post(path, {"contact": b.contact.pk}).status_code == 404  # B's contact
    assert api.post(path, {}).status_code == 400
    theirs = followups.create_sequence(
        b.organization, {"name": "B", "steps": [{"delay_seconds": 1, "text": "b"}]}
    )
    assert api.post(f"followups/{theirs.pk}/enrollments", {"contact": a.contact.pk}).status_code == 404
    assert api.get(f"followups/{theirs.pk}/enrollments").status_code == 404
    assert [row["id"] for row in api.get("followups").json()["results"]] == [sequence_id]
    assert (
        Api(client, member(a.organization, "viewer")).post(path, {"contact": a.contact.pk}).status_code == 403
    )
    assert not FollowUpEnrollment.objects.filter(sequence=theirs).exists()


# -- admin -------------------------------------------------------------------------------------------


def test_admin_pages_render_and_actions_use_the_services(admin_client, clock, sandbox, account, template):
    from django.urls import reverse

    from wacloud_django.automation.services import reminders, summaries
    from wacloud_django.models import Appointment, DailySummarySubscription, ReminderPolicy

    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    sequence = make_sequence(account, step(60, text=NUDGE))
    enrollment, _ = followups.enroll(sequence, contact)
    policy = reminders.create_policy(
        account.organization, {"reminder_intervals": [2], "template_name": "check_in"}
    )
    appointment = reminders.schedule_appointment(account.organization, contact, clock.now + timedelta(days=1),
                                                 policy=policy)  # fmt: skip
    subscription = summaries.subscribe(contact, clock.now.time(), "UTC")
    for obj in (policy, appointment, sequence, enrollment, subscription):
        info = obj._meta.app_label, obj._meta.model_name
        assert admin_client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200
        assert admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200
    admin_client.post(reverse("admin:wacloud_appointment_changelist"),
                      {"action": "cancel_appointments", "_selected_action": [appointment.pk]})  # fmt: skip
    admin_client.post(reverse("admin:wacloud_followupenrollment_changelist"),
                      {"action": "stop_enrollments", "_selected_action": [enrollment.pk]})  # fmt: skip
    admin_client.post(reverse("admin:wacloud_dailysummarysubscription_changelist"),
                      {"action": "unsubscribe", "_selected_action": [subscription.pk]})  # fmt: skip
    assert Appointment.objects.get(pk=appointment.pk).status == "cancelled"
    assert appointment.reminders.get().status == "cancelled"
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "admin")
    assert DailySummarySubscription.objects.get(pk=subscription.pk).is_active is False
    assert ReminderPolicy.objects.count() == 1


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_schedulers_advancing_at_once_send_each_step_once(sandbox, account):
    """On PostgreSQL the position claim resolves every race with no failure; on SQLite the
    writers queue up (a thread may fail on the lock). Each step goes out once either way."""
    from django.db import connection
    from schedule_support import deliver_left_queued, in_parallel

    approve_template(sandbox, account, "check_in", CHECK_IN, examples=("Ana",))
    start = timezone.now()
    contacts = [
        Contact.objects.create(account=account, wa_id=f"97250000020{n}", name="Ana") for n in range(3)
    ]
    sequence = make_sequence(account, step(60, template_name="check_in"), step(60, template_name="check_in"))
    with Clock(start):
        for contact in contacts:
            followups.enroll(sequence, contact)
    with Clock(start + timedelta(minutes=1)):
        results, failures = in_parallel(tasks.advance_followups)
        if connection.vendor == "postgresql":
            assert failures == []
        tasks.advance_followups()  # what a failed run left, the next run does
        deliver_left_queued()
    assert sum(result.get("sent", 0) for result in results) <= 3
    assert FollowUpDelivery.objects.filter(step__position=1, status="sent").count() == 3
    assert not FollowUpDelivery.objects.filter(step__position=2).exists()
    assert Message.objects.filter(direction="outbound").count() == 3
    assert len(sandbox.sent_messages(type="template")) == 3
