"""Who takes pending events in batch mode, and only once (docs/webhooks.md, "Batch
processing"): the claim, drainers racing each other and per-event tasks, the intake's
triggers (inline, a debounced Celery task, none), the sweep, the command, the setting."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from batch_support import batch_mode, drain
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from wacloud_test_helpers import USER, dumps, status_update, text_message

from wacloud_django import signals
from wacloud_django.exceptions import SettingError
from wacloud_django.models import Contact, Conversation, Message, WebhookEvent
from wacloud_django.services import bulk_sql, inbound, webhook_batch, webhooks
from wacloud_django.services.webhooks import record_webhook_event

pytestmark = pytest.mark.django_db


def stored(count, account, start=0):
    return [
        record_webhook_event(
            dumps(text_message(f"wamid.{index}", f"m{index}")), signature_verified=True, account=account
        )[0]
        for index in range(start, start + count)
    ]


# -- the claim -----------------------------------------------------------------------------------


def test_a_claim_takes_the_oldest_pending_events_once_and_rolls_back_with_its_batch(account):
    events = stored(5, account)
    now = timezone.now()
    for age, event in enumerate(reversed(events)):  # the first stored is the oldest
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=now - timedelta(minutes=age))
    failed = stored(1, account, start=10)[0]
    WebhookEvent.objects.filter(pk=failed.pk).update(status="failed")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        first = webhook_batch.claim_events(3)
        assert [event.pk for event in first] == [event.pk for event in events[:3]]
        assert {
            (e.status, e.attempts) for e in WebhookEvent.objects.filter(pk__in=[e.pk for e in first])
        } == {("processing", 1)}
        second = webhook_batch.claim_events(10)  # neither the claimed ones nor the failed one
        assert [event.pk for event in second] == [event.pk for event in events[3:]]
        assert webhook_batch.claim_events(10) == []
        raise Rollback  # a batch that dies leaves its events pending, their attempt not counted
    assert set(WebhookEvent.objects.exclude(pk=failed.pk).values_list("status", "attempts")) == {
        ("pending", 0)
    }


def test_a_transient_database_error_rolls_the_batch_back_and_it_is_tried_again(
    account, settings, monkeypatch, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    stored(3, account)
    real, calls = webhook_batch.apply_together, []

    def flaky(pairs):
        calls.append(len(pairs))
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return real(pairs)

    monkeypatch.setattr(webhook_batch, "apply_together", flaky)
    assert drain(django_capture_on_commit_callbacks) == {"processed": 3}
    assert calls == [3, 3]
    assert set(WebhookEvent.objects.values_list("status", "attempts")) == {("processed", 1)}

    stored(2, account, start=10)
    monkeypatch.setattr(
        webhook_batch, "apply_together", lambda pairs: (_ for _ in ()).throw(OperationalError("down"))
    )
    with pytest.raises(OperationalError):
        webhook_batch.drain()
    assert set(WebhookEvent.objects.filter(status="pending").values_list("attempts", flat=True)) == {0}
    assert WebhookEvent.objects.filter(status="pending").count() == 2


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_racing_drainers_and_per_event_tasks_process_each_event_once(account, settings):
    if connection.vendor != "postgresql":
        pytest.skip("about row locks: run with WACLOUD_TEST_DATABASE_URL (SQLite's threads lock the table)")
    batch_mode(settings, SIZE=7)
    customers = [f"1555000{index:04d}" for index in range(8)]
    replies = [
        Message.objects.create(
            account=account, wamid=f"wamid.out{index}", direction="outbound", type="text", status="sent"
        )
        for index in range(20)
    ]
    bodies = [
        dumps(
            text_message(
                f"wamid.in{index}", f"m{index}", wa_id=customers[index % 8], timestamp=1697043223 + index
            )
        )
        for index in range(60)
    ]
    bodies += [
        dumps(status_update(reply.wamid, status)) for reply in replies for status in ("delivered", "read")
    ]
    ids = [record_webhook_event(body, signature_verified=True, account=account)[0].pk for body in bodies]
    received, lock = [], threading.Lock()

    def on_received(sender, message, **kwargs):
        with lock:
            received.append(message.wamid)

    signals.message_received.connect(on_received, weak=False, dispatch_uid="race")
    barrier, failures = threading.Barrier(5), []

    def work(job):
        try:
            barrier.wait(timeout=10)
            job()
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    def one_at_a_time():  # a per-event task for every event (a redelivery, the old sweep)
        for event_id in reversed(ids):
            inbound.process_webhook_event(event_id)

    jobs = [webhook_batch.drain] * 4 + [one_at_a_time]
    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    finally:
        signals.message_received.disconnect(dispatch_uid="race")
    assert failures == []
    assert set(WebhookEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
    assert sorted(received) == sorted(f"wamid.in{index}" for index in range(60))  # announced once each
    assert Message.objects.filter(direction="inbound").count() == 60 and Contact.objects.count() == 8
    assert sorted(Conversation.objects.values_list("unread_count", flat=True)) == [7, 7, 7, 7, 8, 8, 8, 8]
    assert set(Message.objects.filter(direction="outbound").values_list("status", flat=True)) == {"read"}


def test_without_update_from_each_row_is_updated_on_its_own(
    account, settings, monkeypatch, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    monkeypatch.setattr(bulk_sql, "supports_update_from", lambda: False)
    for index in range(3):
        record_webhook_event(
            dumps(text_message(f"wamid.{index}", timestamp=1697043223 + index)),
            signature_verified=True,
            account=account,
        )
    assert drain(django_capture_on_commit_callbacks) == {"processed": 3}
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 3 and int(conversation.last_message_at.timestamp()) == 1697043225
    assert int(Contact.objects.get().last_inbound_at.timestamp()) == 1697043225


# -- what the intake does after storing ------------------------------------------------------------


def test_without_celery_the_request_drains_a_batch_inline(post_webhook, account, settings):
    batch_mode(settings, DRAIN="auto")
    assert post_webhook(text_message("wamid.1", "hi")).status_code == 200
    assert WebhookEvent.objects.get().status == "processed" and Message.objects.get().text == "hi"


def test_with_drain_command_the_intake_only_stores(post_webhook, account, settings):
    batch_mode(settings, DRAIN="command")
    post_webhook(text_message("wamid.1"))
    assert WebhookEvent.objects.get().status == "pending" and not Message.objects.exists()
    out = StringIO()
    call_command("whatsapp_process_webhooks", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {"processed": 1, "by_status": {"processed": 1}}
    out = StringIO()
    call_command("whatsapp_process_webhooks", stdout=out)
    assert "nothing to do" in out.getvalue()
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("whatsapp_process_webhooks", "--batch-size", "0")


class FakeClock:
    now = 1000.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


def test_with_celery_drain_tasks_are_debounced_per_process(post_webhook, account, settings, monkeypatch):
    from wacloud_django import tasks

    batch_mode(settings, DRAIN="auto", DEBOUNCE_SECONDS=0.5)
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": True}
    queued = []
    monkeypatch.setattr(tasks.drain_webhook_events, "delay", lambda: queued.append(None))
    monkeypatch.setattr(tasks.drain_webhook_events, "apply_async", lambda countdown: queued.append(countdown))
    monkeypatch.setattr(webhook_batch, "time", FakeClock)
    monkeypatch.setattr(webhook_batch, "_window_ends", float("-inf"))
    for index, at in enumerate([1000.0, 1000.1, 1000.2, 1000.6]):
        FakeClock.now = at
        post_webhook(text_message(f"wamid.{index}"))
    # At once; once at the window's end for the two stored meanwhile; at once again after it.
    assert queued == [None, pytest.approx(0.4), None]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"pending"}


def test_the_drain_task_queues_itself_again_when_its_time_ran_out(account, settings, monkeypatch):
    from wacloud_django import tasks

    batch_mode(settings)
    stored(2, account)
    queued = []
    monkeypatch.setattr(tasks.drain_webhook_events, "delay", lambda: queued.append("again"))
    assert tasks.drain_webhook_events() == {"processed": 2} and queued == []
    monkeypatch.setattr(
        webhook_batch, "drain", lambda **kw: webhook_batch.DrainResult({"processed": 9}, False)
    )
    assert tasks.drain_webhook_events() == {"processed": 9} and queued == ["again"]


def test_a_redelivered_pending_body_triggers_a_drain(post_webhook, account, settings):
    batch_mode(settings, DRAIN="command")
    body = dumps(text_message("wamid.lost"))
    post_webhook(body)
    assert WebhookEvent.objects.get().status == "pending"
    batch_mode(settings, DRAIN="auto")  # e.g. the drainer was down; the redelivery drains inline
    post_webhook(body)
    assert WebhookEvent.objects.get().status == "processed" and Message.objects.get().wamid == "wamid.lost"


def test_the_sweep_drains_pending_events_and_retries_failed_ones_alone(account, settings, monkeypatch):
    batch_mode(settings)
    old = timezone.now() - timedelta(hours=1)
    pending, failed = stored(2, account)
    WebhookEvent.objects.filter(pk=failed.pk).update(status="failed", attempts=1)
    WebhookEvent.objects.update(received_at=old)
    alone = []
    monkeypatch.setattr(webhooks, "schedule_processing", alone.append)
    assert webhooks.process_pending_webhook_events() == 2
    assert alone == [failed.pk]
    assert WebhookEvent.objects.get(pk=pending.pk).status == "processed"


def test_the_loop_drains_then_waits_until_stopped(account, settings):
    batch_mode(settings)
    stored(3, account)
    checks = []

    def should_stop():
        checks.append(WebhookEvent.objects.filter(status="pending").count())
        return len(checks) > 2

    assert webhook_batch.drain_forever(0.01, should_stop) == {"processed": 3}
    assert checks[-1] == 0


def test_a_drain_ends_with_a_batch_that_took_every_pending_event(account, settings, monkeypatch):
    """Full batches are followed by another claim; a partial one took everything pending, so
    what is stored while it runs waits for the next drain instead of a batch of its own."""
    batch_mode(settings)
    stored(5, account)
    real, claimed = webhook_batch.claim_events, []

    def claim(limit):
        events = real(limit)
        claimed.append(len(events))
        if len(claimed) == 3:  # stored while the third, partial, batch runs
            stored(1, account, start=10)
        return events

    monkeypatch.setattr(webhook_batch, "claim_events", claim)
    result = webhook_batch.drain(limit=2)
    assert (result.counts, result.finished, claimed) == ({"processed": 5}, True, [2, 2, 1])
    assert WebhookEvent.objects.filter(status="pending").count() == 1
    assert webhook_batch.drain(limit=2).counts == {"processed": 1} and claimed == [2, 2, 1, 1]


# -- the setting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"SIZE": 0}, 'WACLOUD["WEBHOOK_BATCH"]["SIZE"] must be a positive integer, got 0'),
        ({"DRAIN": "cron"}, "[\"DRAIN\"] must be 'auto' or 'command', got 'cron'"),
        ({"ENABLED": "yes"}, '["ENABLED"] must be True or False'),
        ({"DEBOUNCE_SECONDS": -1}, '["DEBOUNCE_SECONDS"] must be a positive number of seconds'),
        ({"BATCH": 5}, 'WACLOUD["WEBHOOK_BATCH"]["BATCH"] is not a known key'),
    ],
)
def test_a_bad_setting_is_named(settings, conf, message):
    from wacloud_django.checks import check_settings

    settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_BATCH": conf}
    with pytest.raises(SettingError) as raised:
        webhook_batch.batch_settings()
    assert message in str(raised.value)
    assert [
        (problem.id, message in problem.msg) for problem in check_settings() if problem.id == "wacloud.E070"
    ] == [("wacloud.E070", True)]


def test_batch_processing_is_off_by_default(post_webhook, account):
    assert webhook_batch.batch_enabled() is False
    post_webhook(text_message("wamid.1"))  # processed on its own, as always
    assert WebhookEvent.objects.get().status == "processed"
    assert Contact.objects.get().wa_id == USER


@pytest.mark.django_db(transaction=True)
def test_the_intake_stores_a_body_once_in_one_statement(account):
    body = dumps(text_message("wamid.once"))
    headers = {"X-Request-Id": "req-1", "User-Agent": "facebookexternalua"}
    first, created = record_webhook_event(
        body, headers=headers, account=account, signature_verified=True, fields=["messages", "messages"]
    )
    again, created_again = record_webhook_event(body, account=account, signature_verified=True)
    assert (created, created_again) == (True, False) and first.pk == again.pk
    stored = WebhookEvent.objects.get()
    assert (stored.pk, stored.body_bytes, stored.fields, stored.status, stored.account) == (
        first.pk,
        body,
        "messages",
        "pending",
        account,
    )
    assert stored.headers == headers and stored.received_at == first.received_at


@pytest.mark.django_db(transaction=True)
def test_receivers_sharing_a_batchs_lookups_act_as_one_event_at_a_time(account, settings):
    """Follow-ups, with the batch's shared look-ups: a first message enrolls, a second one in
    the same batch stops that enrollment, an earlier enrollment is stopped by a reply."""
    from wacloud_django.automation.services import followups

    batch_mode(settings)
    welcome = followups.create_sequence(
        account.organization,
        {
            "name": "Welcome",
            "trigger": "first_inbound",
            "steps": [{"delay_seconds": 3600, "text": "Welcome!", "condition": "always"}],
        },
    )
    manual = followups.create_sequence(
        account.organization,
        {
            "name": "Manual",
            "trigger": "api",
            "steps": [{"delay_seconds": 3600, "text": "Hi", "condition": "always"}],
        },
    )
    known = Contact.objects.create(account=account, wa_id="15550000001")
    Message.objects.create(
        account=account, contact=known, wamid="wamid.old", direction="inbound", type="text", status="received"
    )
    followups.enroll(manual, known)
    for index, wa_id in enumerate(["15550000001", "15550000002", "15550000002", "15550000003"]):
        record_webhook_event(
            dumps(text_message(f"wamid.{index}", "hello", wa_id=wa_id, timestamp=1697043223 + index)),
            signature_verified=True,
            account=account,
        )
    assert webhook_batch.drain().counts == {"processed": 4}

    from wacloud_django.models import FollowUpEnrollment

    states = sorted(
        FollowUpEnrollment.objects.values_list("contact__wa_id", "sequence__name", "status", "stop_reason")
    )
    assert states == [
        ("15550000001", "Manual", "stopped", "reply"),
        (
            "15550000002",
            "Welcome",
            "stopped",
            "reply",
        ),  # enrolled by its first message, stopped by the second
        ("15550000003", "Welcome", "active", ""),
    ]
    assert welcome.pk  # (the sequence the first messages started)
