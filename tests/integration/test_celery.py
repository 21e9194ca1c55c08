"""End to end on real services: a Celery worker subprocess (Redis broker and
results) runs send_whatsapp_message and process_webhook_event on PostgreSQL,
against the sandbox, whose signed webhooks reach a live Django server."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.utils import timezone

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUSTOMER = "15550004444"


def wait_for(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def worker_busy(app) -> bool:
    inspect = app.control.inspect(timeout=0.5)
    return any(any(tasks.values()) for tasks in (inspect.active() or {}, inspect.scheduled() or {},
                                                  inspect.reserved() or {}))  # fmt: skip


@pytest.fixture(autouse=True)
def worker_idle_after_test(celery_worker):
    yield
    # The database is emptied after each test: no task may still hold rows then.
    deadline = time.monotonic() + 20
    while worker_busy(celery_worker) and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def account(celery_worker, sandbox, settings):
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud_django.models import BusinessAccount

    sandbox.reset()
    sandbox.clear_faults()
    # This process queues tasks and serves webhooks; the worker sends and processes.
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": True, "BASE_URL": sandbox.base_url}
    return BusinessAccount.objects.create(
        name="Integration", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, access_token="EAAG-test-token",
        app_secret=APP_SECRET,
    )  # fmt: skip


def customer_writes(sandbox, text):
    from wacloud_django.models import Message

    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Dee", type="text", text=text)
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND, text=text)
    return wait_for(f"the inbound message {text!r}", inbound.first)


def test_inbound_webhook_and_outbound_send_run_on_the_worker(account, sandbox):
    from wacloud_django.models import Message, WebhookEvent
    from wacloud_django.services.outbound import send_message

    inbound = customer_writes(sandbox, "Is my order ready?")
    assert inbound.contact.wa_id == CUSTOMER and inbound.contact.last_inbound_at is not None
    message = send_message(account, CUSTOMER, "text", "Yes, it is.")  # queued; the task goes on commit
    assert message.status == Message.Status.QUEUED
    read = Message.objects.filter(pk=message.pk, status=Message.Status.READ)
    wait_for("the read status", read.exists)
    message.refresh_from_db()
    assert message.wamid and message.sent_at and message.delivered_at and message.read_at
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1
    # Every webhook (the inbound message and three statuses) was processed by process_webhook_event.
    wait_for("every webhook processed", lambda: not WebhookEvent.objects.exclude(status="processed").exists())
    assert WebhookEvent.objects.count() >= 4


def test_the_same_send_task_delivered_three_times_at_once_sends_once(account, sandbox, celery_worker):
    from wacloud_django.models import Contact, Message
    from wacloud_django.services.outbound import send_message
    from wacloud_django.tasks import send_whatsapp_message

    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Dee", type="text", text="hi")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    with transaction.atomic():
        message = send_message(account, CUSTOMER, "text", "only once")
        # Redelivery (acks_late after a lost worker) and duplicates: three tasks for one row, racing.
        duplicates = [send_whatsapp_message.delay(message.pk) for _ in range(2)]
    outcomes = sorted(result.get(timeout=20) for result in duplicates)
    wait_for("the send", Message.objects.filter(pk=message.pk, wamid__isnull=False).exists)
    assert set(outcomes) <= {"sent", "skipped", "in_progress"}
    wait_for("the third delivery", lambda: not worker_busy(celery_worker))
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1
    assert Message.objects.get(pk=message.pk).send_attempts == 1


def test_a_throttled_send_is_retried_by_the_task_with_backoff(account, sandbox):
    from wacloud_django.models import Message
    from wacloud_django.services.outbound import send_message

    customer_writes(sandbox, "throttle me")
    sandbox.set_faults(rate_limit_next=4)  # the worker's client retries once, so the task must retry too
    message = send_message(account, CUSTOMER, "text", "after the burst")
    wait_for("the send", Message.objects.filter(pk=message.pk, wamid__isnull=False).exists)
    message.refresh_from_db()
    assert message.send_attempts >= 2 and message.error_code is None
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_a_timeout_is_left_for_a_human_and_the_retry_task_does_not_resend_it(account, sandbox, celery_worker):
    from wacloud_django.models import Message
    from wacloud_django.services.outbound import send_message
    from wacloud_django.tasks import retry_failed_messages

    customer_writes(sandbox, "slow")
    sandbox.set_faults(timeout_next=1, timeout_seconds=3)
    message = send_message(account, CUSTOMER, "text", "maybe delivered")
    failed = Message.objects.filter(pk=message.pk, status=Message.Status.FAILED)
    wait_for("the unknown outcome", failed.exists)
    message.refresh_from_db()
    assert message.failure_kind == Message.SendFailure.UNKNOWN and message.wamid is None
    assert retry_failed_messages.delay().get(timeout=20)["requeued"] == 0
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1  # the sandbox got it once; never again


def test_template_sync_task(account, celery_worker):
    from wacloud_django.models import Template
    from wacloud_django.tasks import sync_whatsapp_templates

    result = sync_whatsapp_templates.delay(account.pk).get(timeout=20)
    assert result[account.phone_number_id]["created"] == 1
    assert Template.objects.get(name="hello_world").status == "APPROVED"
