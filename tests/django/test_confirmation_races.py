"""Y/N confirmations under races (docs/automation.md "Confirmations"): parallel workers processing
different taps on one question, and expiry sweeps run by several schedulers at once, resolve it
once. Run on PostgreSQL (WACLOUD_TEST_DATABASE_URL) the conditional UPDATEs decide; on SQLite the
writers queue up instead."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from wacloud_test_helpers import USER, dumps, envelope

from wacloud_django import signals
from wacloud_django.automation.services import confirmations
from wacloud_django.models import AuditEntry, Confirmation, Contact, WebhookEvent
from wacloud_django.services.webhooks import reprocess_webhook_events


@pytest.fixture
def resolved():
    sent = []
    signals.confirmation_resolved.connect(
        lambda sender, **kw: sent.append(kw), weak=False, dispatch_uid="t-race"
    )
    yield sent
    signals.confirmation_resolved.disconnect(dispatch_uid="t-race")


def tap_body(confirmation_id, outcome, wamid):
    """Meta's webhook for a tap on one of the question's reply buttons."""
    reply = {"id": f"wacloud-confirmation:{confirmation_id}:{outcome}", "title": outcome}
    message = {
        "from": USER, "id": wamid, "timestamp": str(int(timezone.now().timestamp())), "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": reply},
    }  # fmt: skip
    return dumps(envelope({"messages": [message], "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}]}))


def _in_parallel(work, arguments):
    from django.db import connection

    barrier = threading.Barrier(len(arguments))
    failures = []

    def run(argument):
        try:
            barrier.wait(timeout=10)
            work(argument)
        except Exception as exc:  # kept for the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_parallel_workers_resolve_a_confirmation_once(account, resolved):
    from wacloud_django.services import inbound
    from wacloud_django.services.webhooks import record_webhook_event

    contact = Contact.objects.create(account=account, wa_id=USER)
    confirmation = Confirmation.objects.create(
        organization=account.organization, account=account, contact=contact, action_type="pay",
        description="pay the invoice", timeout_minutes=30, sent_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    # Different taps (Yes and No, each delivered twice) reach four workers at once.
    bodies = [
        tap_body(confirmation.pk, outcome, f"wamid.p{index}")
        for index, outcome in enumerate(["confirmed", "declined", "confirmed", "declined"])
    ]
    ids = [record_webhook_event(body, signature_verified=True, account=account)[0].pk for body in bodies]
    failures = _in_parallel(inbound.process_webhook_event, ids)
    leftovers = list(WebhookEvent.objects.exclude(status="processed").values_list("pk", flat=True))
    assert len(leftovers) <= len(failures), failures
    reprocess_webhook_events(leftovers)
    confirmation.refresh_from_db()
    assert confirmation.status in ("confirmed", "declined") and len(resolved) == 1
    assert resolved[0]["status"] == confirmation.status
    assert (
        AuditEntry.objects.filter(action__in=["confirmation.confirmed", "confirmation.declined"]).count() == 1
    )

    # The expiry sweep run by several schedulers at once expires a confirmation once.
    late = Confirmation.objects.create(
        organization=account.organization, account=account, contact=contact, action_type="pay",
        description="pay again", timeout_minutes=1, sent_at=timezone.now() - timedelta(minutes=2),
        expires_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    _in_parallel(lambda _: confirmations.expire_due_confirmations(), range(3))
    # On SQLite a sweep may find the table locked by another and leave the row to the next
    # sweep (logged); the next one finishes it, and it is still expired only once.
    confirmations.expire_due_confirmations()
    assert Confirmation.objects.get(pk=late.pk).status == "expired"
    assert [s["status"] for s in resolved] == [confirmation.status, "expired"]
