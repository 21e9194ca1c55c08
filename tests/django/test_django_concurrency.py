"""Concurrent deliveries of the same message (different bodies, so different
webhook events) processed by parallel workers end with one row of each kind.
Run on PostgreSQL (WACLOUD_TEST_DATABASE_URL) this exercises the IntegrityError
paths; on SQLite the writers queue up instead."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from wacloud_test_helpers import dumps, status_update, text_message

from wacloud_django.models import Contact, Conversation, Message, WebhookEvent
from wacloud_django.services import inbound
from wacloud_django.services.webhooks import record_webhook_event, reprocess_webhook_events

WORKERS = 4


def run_in_parallel(event_ids):
    barrier = threading.Barrier(len(event_ids))
    failures = []

    def work(event_id):
        try:
            barrier.wait(timeout=10)
            inbound.process_webhook_event(event_id)
        except Exception as exc:  # recorded on the event; retried below like the task would
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(event_id,)) for event_id in event_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_parallel_deliveries_of_one_message_store_it_once(account):
    # Meta may resend a message inside a different body (here: differing only in an extra key).
    bodies = [dumps({**text_message("wamid.same", "hi"), "delivery": index}) for index in range(WORKERS)]
    bodies += [dumps({**status_update("wamid.same", "read"), "delivery": index}) for index in range(WORKERS)]
    ids = [record_webhook_event(body, signature_verified=True, account=account)[0].pk for body in bodies]

    failures = run_in_parallel(ids)
    if connection.vendor == "postgresql":
        # Row locks and unique indexes resolve every race: no worker fails at all.
        assert failures == []
    # A worker that failed is retried (a worker whose own bookkeeping failed too
    # leaves the event "processing" until the sweeper's lease ends): reprocess what is left.
    leftovers = list(WebhookEvent.objects.exclude(status="processed").values_list("pk", flat=True))
    assert len(leftovers) <= len(failures), failures
    reprocess_webhook_events(leftovers)

    assert WebhookEvent.objects.filter(status="processed").count() == len(bodies)
    assert Message.objects.filter(wamid="wamid.same").count() == 1
    assert Contact.objects.count() == 1
    conversation = Conversation.objects.get()
    assert conversation.status == "open" and conversation.unread_count == 1
