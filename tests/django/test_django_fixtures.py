"""Every real-shaped webhook body, delivered three times in shuffled order, ends
in the same database state as one orderly delivery: each message stored once,
each status applied without regressing, unknown wamids kept pending and
applied when their message appears."""

from __future__ import annotations

import copy
import json
import random

import pytest
from wacloud_test_helpers import FIXTURES_DIR, GLOBAL_APP_SECRET, dumps

from wacloud_django import signals
from wacloud_django.models import (
    BusinessAccount,
    Contact,
    Conversation,
    MediaFile,
    Message,
    PendingStatus,
    Template,
    WebhookEvent,
)
from wacloud_django.services.statuses import RANK, apply_pending_statuses

pytestmark = pytest.mark.django_db

FIXTURE_FILES = sorted(FIXTURES_DIR.glob("*.json"))
ITEM_LISTS = ("messages", "message_echoes", "statuses")
ID_KEYS = {"id", "message_id", "original_message_id"}


def _suffix_ids(node, suffix):
    if isinstance(node, dict):
        return {
            key: f"{value}.{suffix}"
            if key in ID_KEYS and isinstance(value, str)
            else _suffix_ids(value, suffix)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_suffix_ids(item, suffix) for item in node]
    return node


def _values(payload, field=None):
    for entry in payload["entry"]:
        for change in entry["changes"]:
            if field is None or change["field"] == field:
                yield change["value"]


def unique_ids(payload, suffix):
    """Many samples share wamid.xyzxyz: make every message id (and the ids it
    refers to) unique per file, so references inside one file still match."""
    payload = copy.deepcopy(payload)
    for value in _values(payload):
        for name in ITEM_LISTS:
            if name in value:
                value[name] = _suffix_ids(value[name], suffix)
    return payload


def with_status(payload, wamid, status, timestamp, errors=None):
    payload = copy.deepcopy(payload)
    item = next(_values(payload))["statuses"][0]
    item.update(id=wamid, status=status, timestamp=str(timestamp))
    if errors:
        item["errors"] = errors
    return payload


def load(name):
    return json.loads((FIXTURES_DIR / name).read_text())


def test_fixture_corpus_is_present():
    assert len(FIXTURE_FILES) == 74


def test_every_fixture_delivered_three_times_shuffled(post_webhook, django_capture_on_commit_callbacks):
    bodies = [unique_ids(json.loads(path.read_text()), path.stem) for path in FIXTURE_FILES]

    # Outbound messages that exist before their statuses arrive, and statuses for them in every order.
    main = BusinessAccount.objects.create(phone_number_id="1122334455667", app_secret="secret-1122334455667")
    outbound = {"account": main, "direction": "outbound", "type": "text"}
    out_read = Message.objects.create(wamid="wamid.OUT.read", status="sent", **outbound)
    out_failed = Message.objects.create(wamid="wamid.OUT.failed", status="queued", **outbound)
    template_status = load("message_status__sent.json")
    failed_errors = next(_values(load("message_status__failed.json")))["statuses"][0]["errors"]
    bodies += [
        with_status(template_status, out_read.wamid, "sent", 1700000100),
        with_status(template_status, out_read.wamid, "delivered", 1700000200),
        with_status(template_status, out_read.wamid, "read", 1700000300),
        with_status(template_status, out_failed.wamid, "sent", 1700000100),
        with_status(template_status, out_failed.wamid, "failed", 1700000150, errors=failed_errors),
    ]

    # One account (with its own secret) per numeric phone number id; placeholders are unknown numbers.
    phone_ids = {v["metadata"]["phone_number_id"] for b in bodies for v in _values(b) if "metadata" in v}
    for phone_id in sorted(phone_ids - {main.phone_number_id}):
        if phone_id.isdigit():
            BusinessAccount.objects.create(phone_number_id=phone_id, app_secret=f"secret-{phone_id}")

    def secret_for(body):
        named = {v["metadata"]["phone_number_id"] for v in _values(body) if "metadata" in v}
        known = [phone_id for phone_id in named if phone_id.isdigit()]
        return f"secret-{known[0]}" if known else GLOBAL_APP_SECRET

    expected_messages = {
        item["id"] for body in bodies for value in _values(body) for name in ("messages", "message_echoes")
        for item in value.get(name, [])
    }  # fmt: skip
    expected_pending = {
        (item["id"], item["status"]) for body in bodies for value in _values(body, "messages")
        for item in value.get("statuses", []) if not item["id"].startswith("wamid.OUT.")
    }  # fmt: skip

    received = []
    signals.message_received.connect(lambda sender, **kw: received.append(kw["message"].wamid), weak=False,
                                     dispatch_uid="fixtures")  # fmt: skip
    changes = []
    signals.message_status_changed.connect(
        lambda sender, **kw: changes.append((kw["message"].wamid, kw["previous_status"], kw["status"])),
        weak=False, dispatch_uid="fixtures",
    )  # fmt: skip
    try:
        deliveries = [body for body in bodies for _ in range(3)]
        random.Random(20240611).shuffle(deliveries)
        for body in deliveries:
            raw = dumps(body)
            response = post_webhook(raw, secret=secret_for(body))
            assert response.status_code == 200, (response.content, body)
    finally:
        signals.message_received.disconnect(dispatch_uid="fixtures")
        signals.message_status_changed.disconnect(dispatch_uid="fixtures")

    # Every body stored once and processed.
    events = WebhookEvent.objects.all()
    assert events.count() == len({dumps(body) for body in bodies})
    assert {event.status for event in events} == {WebhookEvent.Status.PROCESSED}, [
        (event.fields, event.last_error) for event in events if event.last_error
    ]
    assert all(event.attempts == 1 for event in events)

    # Every message stored exactly once, and announced exactly once.
    assert sorted(
        Message.objects.exclude(wamid__startswith="wamid.OUT.").values_list("wamid", flat=True)
    ) == sorted(expected_messages)
    assert sorted(received) == sorted(expected_messages)
    for message in Message.objects.filter(wamid__in=expected_messages):
        assert message.conversation_id and message.contact_id, message
    assert (
        Conversation.objects.filter(status="open").count()
        == Contact.objects.filter(conversations__isnull=False).count()
    )
    assert MediaFile.objects.count() == sum(
        1 for m in Message.objects.filter(wamid__in=expected_messages) if m.content.get("media")
    )

    # Statuses for known messages: final state whatever the order, timestamps per status, no regression.
    out_read.refresh_from_db()
    assert out_read.status == "read"
    stamps = [getattr(out_read, name).timestamp() for name in ("sent_at", "delivered_at", "read_at")]
    assert stamps == [1700000100, 1700000200, 1700000300]
    out_failed.refresh_from_db()
    assert out_failed.status == "failed" and out_failed.error_code == 130472
    assert "experiment" in out_failed.error_message and out_failed.sent_at is not None
    assert (out_read.wamid, "delivered", "read") in changes or (out_read.wamid, "sent", "read") in changes
    for wamid, previous, status in changes:
        assert RANK[status] > RANK[previous], (wamid, previous, status)

    # Statuses for unknown wamids wait; each (wamid, status) once.
    assert set(PendingStatus.objects.values_list("wamid", "status")) == expected_pending

    # ... and are applied when the outbound send stores the wamid.
    # (Each under the account its statuses came from: another account's statuses never move it.)
    for wamid in {wamid for wamid, _ in expected_pending}:
        owner = PendingStatus.objects.filter(wamid=wamid).values_list("account", flat=True).first() or main.pk
        message = Message.objects.create(
            account_id=owner, wamid=wamid, direction="outbound", type="text", status="queued"
        )
        with django_capture_on_commit_callbacks(execute=True):
            apply_pending_statuses(message)
        best = max((status for w, status in expected_pending if w == wamid), key=lambda s: RANK.get(s, -1))
        message.refresh_from_db()
        assert message.status == best
    assert PendingStatus.objects.count() == 0

    # Templates: status, rejection reason, quality, category.
    approved = Template.objects.get(name="order_confirmation", language="en_US")
    assert (approved.status, approved.category, approved.template_id) == (
        "APPROVED",
        "UTILITY",
        "1689556908129832",
    )
    rejected = Template.objects.get(name="abandoned_cart")
    assert (rejected.status, rejected.rejection_reason) == ("REJECTED", "INVALID_FORMAT")
    assert Template.objects.get(name="welcome_template").quality_score == "YELLOW"
    assert Template.objects.get(name="my_message_template", language="he").category == "MARKETING"

    # Unknown numbers were kept under inactive accounts, not dropped.
    assert BusinessAccount.objects.filter(
        phone_number_id="<BUSINESS_PHONE_NUMBER_ID>", is_active=False
    ).exists()
