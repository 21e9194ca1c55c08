"""Daily summaries (automation/services/summaries.py, the ``send_daily_summaries`` task) on a
controlled clock with the sandbox as Meta: sent at each contact's local time once per local
day across daylight saving changes, built by the host project's callable (nothing sent on
``None``, a failing one recorded without stopping the others), text inside the 24-hour
window and seed 003's ``daily_summary`` template outside it, and the REST API."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
import schedule_support
from api_support import Api, member, tenant_a, tenant_b
from django.utils import timezone
from schedule_support import (
    SUMMARY_BODY,
    Clock,
    approve_template,
    run_task,
    template_texts,
    texts,
    without_scheduled_rows,
)
from wacloud_test_helpers import USER, text_message

from wacloud_django import tasks
from wacloud_django.automation.services import summaries
from wacloud_django.automation.services.consent import record_opt_out
from wacloud_django.models import Contact, DailySummaryRun, DailySummarySubscription, Message

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
BUILDER = "schedule_support.build_summary"
UTC = dt_timezone.utc


@pytest.fixture(autouse=True)
def builder(settings):
    settings.WACLOUD = {**settings.WACLOUD, "AUTOMATION": {"DAILY_SUMMARY_BUILDER": BUILDER}}
    schedule_support.BUILT.clear()
    schedule_support.ANSWERS.clear()
    yield
    schedule_support.ANSWERS.clear()


@pytest.fixture
def template(sandbox, account):
    return approve_template(sandbox, account, "daily_summary", SUMMARY_BODY, examples=("Monday", "3", "2"))


@pytest.fixture
def contact(account):
    return Contact.objects.create(account=account, wa_id=USER, name="Ana")


def sweep(clock, capture, moment):
    clock.travel(moment)
    return run_task(tasks.send_daily_summaries, capture)


def test_sent_at_the_local_time_across_the_spring_forward(
    sandbox, template, contact, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    # New York moves from UTC-5 to UTC-4 on Sunday 8 March 2026: 08:00 is 13:00 UTC, then 12:00 UTC.
    with Clock(datetime(2026, 3, 6, 20, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(8, 0), "America/New_York")
        assert subscription.next_run_at == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
        assert sweep(clock, capture, datetime(2026, 3, 7, 12, 59, tzinfo=UTC)) == {}
        assert sweep(clock, capture, datetime(2026, 3, 7, 13, 0, tzinfo=UTC)) == {"sent": 1}
        assert sweep(clock, capture, datetime(2026, 3, 7, 13, 1, tzinfo=UTC)) == {}
        subscription.refresh_from_db()
        assert subscription.next_run_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
        assert sweep(clock, capture, datetime(2026, 3, 8, 11, 59, tzinfo=UTC)) == {}
        assert sweep(clock, capture, datetime(2026, 3, 8, 12, 0, tzinfo=UTC)) == {"sent": 1}  # 08:00 EDT
        assert sweep(clock, capture, datetime(2026, 3, 8, 13, 0, tzinfo=UTC)) == {}  # the old UTC time
    assert schedule_support.BUILT == [(USER, date(2026, 3, 7)), (USER, date(2026, 3, 8))]
    assert template_texts(sandbox, USER, "daily_summary") == [
        ["2026-03-07", "3 tasks", "2 events"], ["2026-03-08", "3 tasks", "2 events"],
    ]  # fmt: skip
    runs = DailySummaryRun.objects.filter(subscription=subscription).order_by("local_date")
    assert [(run.local_date, run.status) for run in runs] == [
        (date(2026, 3, 7), "sent"),
        (date(2026, 3, 8), "sent"),
    ]
    assert all(run.message.status == "sent" for run in runs)


def test_sent_at_the_local_time_across_the_fall_back(
    sandbox, template, contact, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    # New York moves back to UTC-5 on Sunday 1 November 2026: 08:00 is 12:00 UTC, then 13:00 UTC.
    with Clock(datetime(2026, 10, 31, 12, 30, tzinfo=UTC)) as clock:
        summaries.subscribe(contact, time(8, 0), "America/New_York")
        assert sweep(clock, capture, datetime(2026, 11, 1, 12, 0, tzinfo=UTC)) == {}  # 07:00 EST
        assert sweep(clock, capture, datetime(2026, 11, 1, 13, 0, tzinfo=UTC)) == {"sent": 1}
    assert schedule_support.BUILT == [(USER, date(2026, 11, 1))]


def test_a_time_skipped_or_repeated_by_the_clock_change_is_sent_once():
    # 02:30 does not exist on 8 March in New York: sent at 03:30 EDT (the same offset as before).
    gap = summaries.next_occurrence(time(2, 30), NEW_YORK, datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert gap == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # 01:30 happens twice on 1 November: the first time, then the next day.
    first = summaries.next_occurrence(time(1, 30), NEW_YORK, datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    following = summaries.next_occurrence(time(1, 30), NEW_YORK, first)
    assert following == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_nothing_is_sent_when_the_builder_returns_none(
    sandbox, template, contact, django_capture_on_commit_callbacks
):
    schedule_support.ANSWERS[USER] = None
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(9, 0), "Europe/Lisbon")
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 8, 0, tzinfo=UTC)) == {
            "skipped": 1
        }
    run = DailySummaryRun.objects.get(subscription=subscription)
    assert (run.status, run.reason, run.message) == ("skipped", "nothing_to_send", None)
    assert sandbox.sent_messages(to=USER) == []


def test_a_failing_builder_is_recorded_and_the_others_go_on(
    sandbox, template, contact, account, django_capture_on_commit_callbacks
):
    other = Contact.objects.create(account=account, wa_id="972500000066", name="Bo")
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        broken = summaries.subscribe(contact, time(7, 0), "UTC", builder="schedule_support.broken_builder")
        summaries.subscribe(other, time(7, 0), "UTC")
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 7, 0, tzinfo=UTC)) == {
            "failed": 1, "sent": 1,
        }  # fmt: skip
        run = DailySummaryRun.objects.get(subscription=broken)
        assert (run.status, run.reason) == ("failed", "builder_error") and "database is down" in run.error
        # Not retried every minute: the next try is tomorrow's.
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 7, 5, tzinfo=UTC)) == {}
    assert sandbox.sent_messages(to=USER) == [] and len(template_texts(sandbox, other.wa_id)) == 1


def test_no_builder_configured_is_recorded(settings, sandbox, contact, django_capture_on_commit_callbacks):
    settings.WACLOUD = {**settings.WACLOUD, "AUTOMATION": {}}
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(7, 0), "UTC")
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 7, 0, tzinfo=UTC)) == {
            "failed": 1
        }
    run = DailySummaryRun.objects.get(subscription=subscription)
    assert run.reason == "builder_error" and "DAILY_SUMMARY_BUILDER" in run.error


def test_text_inside_the_window_template_outside(
    sandbox, template, contact, post_webhook, django_capture_on_commit_callbacks
):
    start = timezone.now().replace(microsecond=0)
    schedule_support.ANSWERS[USER] = {"text": "Today: 3 tasks done.", "parameters": ["today", "3", "2"]}
    with Clock(start, sandbox) as clock:
        local = (start + timedelta(minutes=5)).astimezone(NEW_YORK)
        summaries.subscribe(contact, local.time(), "America/New_York")
        sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="hi")
        assert (
            post_webhook(text_message("wamid.summary-in", "hi", timestamp=int(start.timestamp()))).status_code
            == 200
        )
        assert sweep(clock, django_capture_on_commit_callbacks, start + timedelta(minutes=5)) == {"sent": 1}
        assert texts(sandbox, USER) == ["Today: 3 tasks done."]
        # The next day the window has closed: the template.
        assert sweep(clock, django_capture_on_commit_callbacks, start + timedelta(days=1, minutes=5)) == {
            "sent": 1
        }
    assert template_texts(sandbox, USER, "daily_summary") == [["today", "3", "2"]]


def test_once_per_local_day_whoever_runs_it(sandbox, template, contact, django_capture_on_commit_callbacks):
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(7, 0), "UTC")
        clock.travel(datetime(2026, 5, 4, 7, 0, tzinfo=UTC))
        with django_capture_on_commit_callbacks(execute=True):
            assert summaries.run_summary(subscription.pk) == "sent"
        assert summaries.run_summary(subscription.pk) is None  # a second scheduler, a retried task
        # A second run of a day already sent (the subscription's time moved back): refused by the row.
        DailySummarySubscription.objects.filter(pk=subscription.pk).update(
            next_run_at=datetime(2026, 5, 4, 6, 30, tzinfo=UTC)
        )
        assert summaries.run_summary(subscription.pk) is None
    assert DailySummaryRun.objects.filter(subscription=subscription).count() == 1
    assert len(sandbox.sent_messages(to=USER)) == 1


def test_a_day_the_task_did_not_run_is_not_sent_late(
    sandbox, template, contact, django_capture_on_commit_callbacks
):
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(7, 0), "UTC")
        # Beat was down from 4 May 06:00 to 5 May 09:00.
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 5, 9, 0, tzinfo=UTC)) == {
            "skipped": 1
        }
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 5, 9, 1, tzinfo=UTC)) == {
            "sent": 1
        }
    runs = DailySummaryRun.objects.filter(subscription=subscription).order_by("local_date")
    assert [(run.local_date, run.status, run.reason) for run in runs] == [
        (date(2026, 5, 4), "skipped", "missed"), (date(2026, 5, 5), "sent", ""),
    ]  # fmt: skip


def test_a_consent_refusal_is_recorded(sandbox, template, contact, django_capture_on_commit_callbacks):
    record_opt_out(contact, True)
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(7, 0), "UTC")
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 7, 0, tzinfo=UTC)) == {
            "refused": 1
        }
    run = DailySummaryRun.objects.get(subscription=subscription)
    assert (run.status, run.reason) == ("refused", "revoked")


# -- REST --------------------------------------------------------------------------------------------


def test_daily_summaries_api(client, db):
    a, b = tenant_a(), tenant_b()
    without_scheduled_rows()
    api = Api(client, member(a.organization, "marketer"))
    response = api.post("daily-summaries", {"contact": a.contact.pk, "local_time": "08:00",
                                            "timezone": "America/Sao_Paulo"})  # fmt: skip
    assert response.status_code == 201, response.content
    created = response.json()["subscription"]
    assert created["local_time"] == "08:00:00" and created["is_active"] is True
    next_run = datetime.fromisoformat(created["next_run_at"].replace("Z", "+00:00"))
    assert next_run.astimezone(ZoneInfo("America/Sao_Paulo")).time() == time(8, 0)
    for bad, field in (({"timezone": "Nowhere/Land"}, "timezone"), ({"local_time": "25:00"}, "local_time"),
                       ({"contact": None}, "contact")):  # fmt: skip
        body = {"contact": a.contact.pk, "local_time": "08:00", "timezone": "UTC", **bad}
        refused = api.post("daily-summaries", body)
        assert refused.status_code == 400 and field in refused.content.decode()
    assert api.post("daily-summaries", {"contact": b.contact.pk, "local_time": "08:00", "timezone": "UTC"}
                    ).status_code == 404  # fmt: skip
    theirs = summaries.subscribe(b.contact, time(8, 0), "UTC")
    assert api.get(f"daily-summaries/{theirs.pk}").status_code == 404
    assert api.call("DELETE", f"daily-summaries/{theirs.pk}").status_code == 404
    assert [row["id"] for row in api.get("daily-summaries").json()["results"]] == [created["id"]]
    assert api.call("DELETE", f"daily-summaries/{created['id']}").json()["subscription"]["is_active"] is False
    assert Api(client, member(a.organization, "viewer")).post(
        "daily-summaries", {"contact": a.contact.pk, "local_time": "08:00", "timezone": "UTC"}
    ).status_code == 403  # fmt: skip
    theirs.refresh_from_db()
    assert theirs.is_active


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_schedulers_running_at_once_send_each_summary_once(sandbox, account, settings):
    """On PostgreSQL the claim of ``next_run_at`` resolves every race with no failure; on SQLite
    the writers queue up. Each contact gets one summary that day either way."""
    from django.db import connection
    from schedule_support import deliver_left_queued, in_parallel

    approve_template(sandbox, account, "daily_summary", SUMMARY_BODY, examples=("Monday", "3", "2"))
    contacts = [
        Contact.objects.create(account=account, wa_id=f"97250000030{n}", name="Ana") for n in range(3)
    ]
    with Clock(datetime(2026, 5, 4, 5, 0, tzinfo=UTC)) as clock:
        subscriptions = [summaries.subscribe(contact, time(7, 0), "Europe/Lisbon") for contact in contacts]
        clock.travel(datetime(2026, 5, 4, 6, 0, 30, tzinfo=UTC))  # 07:00:30 in Lisbon (UTC+1)
        results, failures = in_parallel(tasks.send_daily_summaries)
        if connection.vendor == "postgresql":
            assert failures == []
        tasks.send_daily_summaries()
        deliver_left_queued()
    assert sum(result.get("sent", 0) for result in results) <= 3
    for subscription in subscriptions:
        assert DailySummaryRun.objects.filter(subscription=subscription, status="sent").count() == 1
    assert Message.objects.filter(direction="outbound").count() == 3
    assert len(sandbox.sent_messages(type="template")) == 3


def test_a_database_error_while_sending_is_retried_not_recorded_as_failed(
    sandbox, template, contact, django_capture_on_commit_callbacks, monkeypatch
):
    """A lock or a dropped connection is the database's problem, not the contact's: the claim
    rolls back, nothing is recorded, and the next sweep sends the day's summary."""
    from django.db import OperationalError

    from wacloud_django.services import outbound

    real = outbound.send_message
    with Clock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC)) as clock:
        subscription = summaries.subscribe(contact, time(7, 0), "UTC")

        def locked(*args, **kwargs):
            raise OperationalError("database table is locked: wacloud_message")

        monkeypatch.setattr(outbound, "send_message", locked)
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 7, 0, tzinfo=UTC)) == {
            "error": 1
        }
        assert not DailySummaryRun.objects.filter(subscription=subscription).exists()
        monkeypatch.setattr(outbound, "send_message", real)
        assert sweep(clock, django_capture_on_commit_callbacks, datetime(2026, 5, 4, 7, 1, tzinfo=UTC)) == {
            "sent": 1
        }
    assert len(template_texts(sandbox, contact.wa_id)) == 1
