"""Batch processing (docs/webhooks.md, "Batch processing"): many stored events applied
together end with the rows and signals of one event at a time; statuses never move
back; a bad event fails alone; the work done per batch does not grow with its size."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from batch_support import batch_mode, drain, snapshot
from django.db import connection
from django.test.utils import CaptureQueriesContext
from test_django_fixtures import FIXTURE_FILES, _values, load, unique_ids, with_status
from wacloud_test_helpers import (
    APP_SECRET,
    GLOBAL_APP_SECRET,
    USER,
    dumps,
    envelope,
    status_update,
    text_message,
)

from wacloud_django.models import BusinessAccount, Conversation, Message, PendingStatus, WebhookEvent
from wacloud_django.services import webhook_batch
from wacloud_django.services.webhooks import finish_unfinished_events, record_webhook_event

pytestmark = pytest.mark.django_db

FROZEN = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LATER = FROZEN + timedelta(seconds=1)


def outbound(account, wamid, status="sent"):
    return Message.objects.create(
        account=account, wamid=wamid, direction="outbound", type="text", status=status
    )


def statuses(*items):
    """One body with many statuses, as Meta batches them."""
    rows = [
        {"id": wamid, "status": status, "timestamp": str(when), "recipient_id": USER}
        for wamid, status, when in items
    ]
    return envelope({"statuses": rows})


def signal_summary(caught):
    """The signals sent, by what they name (order left aside: batches group the work)."""

    def number(account):
        return account.phone_number_id if account is not None else None

    summary = []
    for name, kw in caught:
        sha = kw["webhook_event"].body_sha256 if kw.get("webhook_event") is not None else None
        if name == "message_received":
            key = (kw["message"].wamid, sha, number(kw["account"]), getattr(kw["contact"], "wa_id", None))
        elif name == "message_status_changed":
            key = (kw["message"].wamid, kw["previous_status"], kw["status"], kw["event"] is None)
        elif name == "webhook_event_received":
            event = kw["event"]
            key = (sha, str(event.event_type), getattr(event, "message_id", None), number(kw["account"]))
        elif name == "webhook_error":
            key = (kw["reason"], sha, type(kw["error"]).__name__, str(kw["error"]))
        else:
            key = (sorted(kw),)
        summary.append((name, *key))
    return sorted(summary, key=repr)


# -- the fixture corpus: one event at a time and in batches give the same rows and signals --------


def corpus_bodies():
    bodies = [unique_ids(json.loads(path.read_text()), path.stem) for path in FIXTURE_FILES]
    template = load("message_status__sent.json")
    errors = next(_values(load("message_status__failed.json")))["statuses"][0]["errors"]
    bodies += [
        with_status(template, "wamid.OUT.read", "read", 1700000300),
        with_status(template, "wamid.OUT.read", "sent", 1700000100),
        with_status(template, "wamid.OUT.read", "delivered", 1700000200),
        with_status(template, "wamid.OUT.failed", "failed", 1700000150, errors=errors),
        with_status(template, "wamid.OUT.failed", "sent", 1700000100),
    ]
    random.Random(7).shuffle(bodies)
    return bodies


def deliver_corpus(post_webhook, bodies):
    """The accounts (each with its own secret) and the outbound messages the statuses name,
    then every body delivered twice: the intake stores each once."""
    main = BusinessAccount.objects.create(phone_number_id="1122334455667", app_secret="secret-1122334455667")
    outbound(main, "wamid.OUT.read")
    outbound(main, "wamid.OUT.failed", status="queued")
    numbers = {v["metadata"]["phone_number_id"] for b in bodies for v in _values(b) if "metadata" in v}
    for number in sorted(numbers - {main.phone_number_id}):
        if number.isdigit():
            BusinessAccount.objects.create(phone_number_id=number, app_secret=f"secret-{number}")
    for body in bodies + bodies:
        named = [v["metadata"]["phone_number_id"] for v in _values(body) if "metadata" in v]
        known = [number for number in named if number.isdigit()]
        secret = f"secret-{known[0]}" if known else GLOBAL_APP_SECRET
        assert post_webhook(dumps(body), secret=secret).status_code == 200


def wipe():
    from wacloud_django.models import MediaFile, Template

    for model in (PendingStatus, MediaFile, Message, Conversation, Template, WebhookEvent, BusinessAccount):
        model.objects.all().delete()


def test_the_corpus_in_batches_ends_as_one_event_at_a_time(
    post_webhook, settings, caught, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    bodies = corpus_bodies()
    # The same clock in both runs: rows stamped "now" (messages without a timestamp) compare equal.
    with time_machine.travel(FROZEN, tick=False):
        deliver_corpus(post_webhook, bodies)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"pending"}
    with time_machine.travel(LATER, tick=False), django_capture_on_commit_callbacks(execute=True):
        finish_unfinished_events()  # one event at a time, oldest first
    one_at_a_time, signals_one = snapshot(), signal_summary(caught)

    wipe()
    caught.clear()
    with time_machine.travel(FROZEN, tick=False):
        deliver_corpus(post_webhook, bodies)
    with time_machine.travel(LATER, tick=False):
        counts = drain(django_capture_on_commit_callbacks, limit=9)  # batches mixing every kind of body
    in_batches, signals_batched = snapshot(), signal_summary(caught)

    assert sum(counts.values()) == len(bodies)
    assert {e[1] for e in in_batches["events"]} == {"processed"}
    assert all(e[5] == 1 for e in in_batches["events"])  # one attempt each
    for table in one_at_a_time:
        assert in_batches[table] == one_at_a_time[table], table
    assert signals_batched == signals_one
    # The statuses delivered backwards still ended at the furthest, with every timestamp.
    read = Message.objects.get(wamid="wamid.OUT.read")
    assert read.status == "read" and read.sent_at and read.delivered_at and read.read_at


# -- statuses ----------------------------------------------------------------------------------------


def test_statuses_out_of_order_in_one_batch_never_move_back(
    post_webhook, account, settings, caught, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    backwards, forwards, failing = (
        outbound(account, "wamid.b"),
        outbound(account, "wamid.f"),
        outbound(account, "wamid.x"),
    )
    post_webhook(statuses(("wamid.b", "read", 300), ("wamid.f", "sent", 100)))
    post_webhook(
        statuses(("wamid.b", "delivered", 200), ("wamid.f", "delivered", 200), ("wamid.x", "failed", 150))
    )
    post_webhook(statuses(("wamid.b", "sent", 100), ("wamid.f", "read", 300), ("wamid.x", "delivered", 160)))
    post_webhook(status_update("wamid.unknown", "delivered"))
    assert drain(django_capture_on_commit_callbacks) == {"processed": 4}

    for message in (backwards, forwards):
        message.refresh_from_db()
        assert message.status == "read"
        assert [int(getattr(message, f).timestamp()) for f in ("sent_at", "delivered_at", "read_at")] == [
            100,
            200,
            300,
        ]
    failing.refresh_from_db()
    assert failing.status == "delivered" and failing.failed_at is not None  # delivered outranks failed
    changes = [
        (kw["message"].wamid, kw["previous_status"], kw["status"])
        for name, kw in caught
        if name == "message_status_changed"
    ]
    assert sorted(changes) == sorted(
        [
            ("wamid.b", "sent", "read"),
            ("wamid.f", "sent", "delivered"),
            ("wamid.f", "delivered", "read"),
            ("wamid.x", "sent", "failed"),
            ("wamid.x", "failed", "delivered"),
        ]
    )
    # A status for a message not stored yet waits, and is applied when the message is.
    assert PendingStatus.objects.get().wamid == "wamid.unknown"
    late = outbound(account, "wamid.unknown", status="queued")
    from wacloud_django.services.statuses import apply_pending_statuses

    apply_pending_statuses(late)
    late.refresh_from_db()
    assert late.status == "delivered" and not PendingStatus.objects.exists()


def test_a_status_batched_with_its_message_finds_it(
    post_webhook, account, settings, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    post_webhook(text_message("wamid.in", "hi"))
    post_webhook(status_update("wamid.in", "read"))  # odd for an inbound message, but it names a stored row
    drain(django_capture_on_commit_callbacks)
    assert Message.objects.get(wamid="wamid.in").read_at is not None and not PendingStatus.objects.exists()


# -- failures stay with their event --------------------------------------------------------------


def test_an_event_that_fails_is_marked_failed_and_its_neighbours_commit(
    post_webhook, account, settings, monkeypatch, caught, django_capture_on_commit_callbacks
):
    from wacloud_django.automation.services import consent_keywords

    batch_mode(settings)
    real = consent_keywords.apply_consent_keyword

    def fragile(message, contact):
        if message.text == "boom":
            raise RuntimeError("automation bug")
        return real(message, contact)

    monkeypatch.setattr(consent_keywords, "apply_consent_keyword", fragile)
    post_webhook(text_message("wamid.1", "first"))
    post_webhook(text_message("wamid.2", "boom"))
    post_webhook(text_message("wamid.3", "third", wa_id="15550001111"))
    unreadable, _ = record_webhook_event(
        b'{"object": "whatsapp_business_account", "entry": 5}', signature_verified=True, account=account
    )
    post_webhook(status_update("wamid.1", "read"))

    assert drain(django_capture_on_commit_callbacks) == {"processed": 3, "failed": 2}
    boom = WebhookEvent.objects.get(
        body_sha256__in=[e.body_sha256 for e in WebhookEvent.objects.all() if b"boom" in e.body_bytes]
    )
    assert (boom.status, boom.retriable, boom.attempts) == ("failed", True, 1)
    assert boom.last_error == "RuntimeError: automation bug"
    unreadable.refresh_from_db()
    assert (unreadable.status, unreadable.retriable) == ("failed", False)
    assert set(Message.objects.values_list("wamid", flat=True)) == {"wamid.1", "wamid.3"}
    assert Message.objects.get(wamid="wamid.1").status == "read"
    errors = sorted((kw["reason"], kw["webhook_event"].pk) for name, kw in caught if name == "webhook_error")
    assert errors == sorted([("processing_failed", boom.pk), ("malformed_body", unreadable.pk)])
    received = [kw["message"].wamid for name, kw in caught if name == "message_received"]
    assert sorted(received) == ["wamid.1", "wamid.3"]
    # Fixed, the failed event goes through on its own (as the sweep retries it).
    monkeypatch.setattr(consent_keywords, "apply_consent_keyword", real)
    from wacloud_django.services.inbound import process_webhook_event

    assert process_webhook_event(boom.pk).status == "processed"
    assert Message.objects.filter(wamid="wamid.2").exists()


def test_bad_items_in_a_batch_are_recorded_and_the_rest_applied(
    post_webhook, account, settings, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    other = BusinessAccount.objects.create(phone_number_id="777", access_token="t", app_secret="s7")
    outbound(other, "wamid.theirs")
    post_webhook(
        envelope(
            {
                "messages": [
                    {
                        "from": USER,
                        "id": "wamid.ok",
                        "timestamp": "1697043223",
                        "type": "text",
                        "text": {"body": "ok"},
                    },
                    {
                        "from": "9" * 70,
                        "id": "wamid.longwaid",
                        "timestamp": "1697043223",
                        "type": "text",
                        "text": {"body": "x"},
                    },
                    {
                        "from": USER,
                        "id": "w" * 300,
                        "timestamp": "1697043223",
                        "type": "text",
                        "text": {"body": "x"},
                    },
                    {"from": USER, "id": "wamid.notype", "timestamp": "1697043223", "text": {"body": "?"}},
                ],
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}],
            }
        ),
        secret=APP_SECRET,
    )
    post_webhook(statuses(("wamid.theirs", "read", 300), ("wamid.ok", "read", 300)), secret=APP_SECRET)
    assert drain(django_capture_on_commit_callbacks) == {"partial": 2}
    first, second = WebhookEvent.objects.order_by("pk")
    assert [(e["index"], e["kind"]) for e in first.item_errors] == [
        (1, "message"),
        (2, "message"),
        (3, "message"),
    ]
    assert first.item_errors[2]["path"] == "entry[0].changes[0].value.messages[3].type"
    assert "3 of 4 items not applied" in first.last_error
    assert "another account" in second.item_errors[0]["error"]
    assert Message.objects.get(wamid="wamid.theirs").status == "sent"
    assert Message.objects.get(wamid="wamid.ok").status == "read"


# -- set-based: the statements per batch do not grow with its size --------------------------------


def _processing_queries(post_webhook, account, capture, count, start):
    for index in range(start, start + count):
        # 20 customers, each writing again; half the bodies carry statuses for earlier replies.
        wa_id = f"1555000{index % 20:04d}"
        post_webhook(
            text_message(f"wamid.in{index}", f"message {index}", wa_id=wa_id, timestamp=1697043223 + index)
        )
    replies = [outbound(account, f"wamid.out{index}") for index in range(start, start + count)]
    for pair in range(0, count, 2):
        post_webhook(
            statuses(
                (replies[pair].wamid, "delivered", 1697043300), (replies[pair + 1].wamid, "read", 1697043400)
            )
        )
    with capture(execute=False), CaptureQueriesContext(connection) as queries:
        assert webhook_batch.process_batch(limit=500) == {"processed": count + count // 2}
    # Django splits a bulk INSERT by the database's parameter limit (SQLite: 999): counted apart.
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "wacloud_message"')]
    assert len(inserts) <= 1 + count // 30
    return len(queries) - len(inserts)


def test_the_statements_per_batch_do_not_grow_with_its_size(
    post_webhook, account, settings, django_capture_on_commit_callbacks
):
    batch_mode(settings)
    small = _processing_queries(post_webhook, account, django_capture_on_commit_callbacks, 20, 0)
    large = _processing_queries(post_webhook, account, django_capture_on_commit_callbacks, 120, 100)
    assert large <= small <= 25, (small, large)  # one at a time: over 20 queries per event
    conversations = Conversation.objects.all()
    assert conversations.count() == 20 and sum(c.unread_count for c in conversations) == 140
