"""Nothing accepted stays unprocessed, and one bad item never blocks its neighbours
(docs/webhooks.md, "One bad item" and "Nothing accepted stays unprocessed")."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from wacloud_test_helpers import APP_SECRET, USER, dumps, envelope, text_message

from wacloud_django.models import Contact, Message, WebhookEvent
from wacloud_django.services import inbound, webhooks

pytestmark = pytest.mark.django_db


def message(wamid: str, body: str = "hi", wa_id: str = USER, **extra) -> dict:
    return {
        "from": wa_id,
        "id": wamid,
        "timestamp": "1697043223",
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def batch(*messages: dict, contacts: list | None = None) -> dict:
    contacts = contacts if contacts is not None else [{"profile": {"name": "Ana"}, "wa_id": USER}]
    return envelope({"messages": list(messages), "contacts": contacts})


@pytest.fixture
def lose_tasks(monkeypatch):
    """Processing scheduled after the commit goes nowhere (a worker killed, a broker down)."""
    monkeypatch.setattr(webhooks, "schedule_processing", lambda event_id: None)
    return lambda: monkeypatch.undo()


# -- redelivery and sweeps ----------------------------------------------------------------------


def test_a_redelivery_of_a_pending_event_is_queued_again(post_webhook, account, lose_tasks):
    body = dumps(text_message("wamid.lost"))
    assert post_webhook(body).status_code == 200
    assert WebhookEvent.objects.get().status == "pending" and not Message.objects.exists()
    lose_tasks()  # the worker is back
    assert post_webhook(body).status_code == 200  # Meta delivers the same body again
    event = WebhookEvent.objects.get()
    assert event.status == "processed" and Message.objects.get().wamid == "wamid.lost"


def test_a_redelivery_retries_a_retriable_failure_but_not_a_refused_body(post_webhook, account, monkeypatch):
    real = inbound.store_inbound_message
    monkeypatch.setattr(inbound, "store_inbound_message", lambda *a, **k: 1 / 0)
    body = dumps(text_message("wamid.1"))
    post_webhook(body)
    assert WebhookEvent.objects.get().status == "failed"
    monkeypatch.setattr(inbound, "store_inbound_message", real)
    post_webhook(body)
    assert WebhookEvent.objects.get().status == "processed" and Message.objects.count() == 1

    unreadable = dumps({"object": "whatsapp_business_account", "entry": "not a list"})
    post_webhook(unreadable)
    refused = WebhookEvent.objects.get(body_sha256=webhooks.body_sha256(unreadable))
    assert (refused.status, refused.retriable, refused.attempts) == ("failed", False, 1)
    post_webhook(unreadable)
    refused.refresh_from_db()
    assert refused.attempts == 1  # not tried again


def test_process_pending_command_finishes_what_was_left(post_webhook, account, lose_tasks):
    for index in range(3):
        post_webhook(text_message(f"wamid.{index}"))
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"pending"}
    lose_tasks()
    out = StringIO()
    call_command("whatsapp_process_pending", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {"processed": 3, "by_status": {"processed": 3}}
    assert Message.objects.count() == 3
    out = StringIO()
    call_command("whatsapp_process_pending", stdout=out)
    assert "nothing to do" in out.getvalue()


def test_a_webhook_request_sweeps_events_left_pending(post_webhook, account, lose_tasks, monkeypatch):
    post_webhook(text_message("wamid.old"))
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=10))
    lose_tasks()
    monkeypatch.setattr(webhooks, "_last_inline_sweep", float("-inf"))
    post_webhook(text_message("wamid.new"))  # inline: processes itself, then sweeps
    assert set(Message.objects.values_list("wamid", flat=True)) == {"wamid.old", "wamid.new"}
    # At most once a minute per process: a third request does not query again.
    monkeypatch.setattr(webhooks, "process_pending_webhook_events", lambda **kw: pytest.fail("swept again"))
    post_webhook(text_message("wamid.third"))


def test_the_sweep_retries_failed_events_only_while_they_have_attempts_left(account, settings):
    settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_MAX_ATTEMPTS": 2}
    old = timezone.now() - timedelta(hours=1)
    kinds = {"pending": (0, True), "failed": (1, True), "failed-exhausted": (2, True), "refused": (1, False)}
    for name, (attempts, retriable) in kinds.items():
        status = "pending" if name == "pending" else "failed"
        event, _ = webhooks.record_webhook_event(name.encode(), signature_verified=True)
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=status, attempts=attempts, retriable=retriable, received_at=old
        )
    scheduled = []
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": False}
    from unittest import mock

    with mock.patch.object(webhooks, "schedule_processing", scheduled.append):
        assert webhooks.process_pending_webhook_events() == 2
    assert sorted(WebhookEvent.objects.get(pk=pk).body_bytes.decode() for pk in scheduled) == [
        "failed",
        "pending",
    ]


# -- one bad item never blocks its neighbours ---------------------------------------------------


def test_bad_items_are_recorded_and_their_neighbours_stored(post_webhook, account, caught):
    body = batch(
        message("wamid.good1"),
        message("wamid.nul", "a\u0000b"),
        message("wamid.longwaid", wa_id="9" * 70),
        message("w" * 300),
        message("wamid.good2"),
        contacts=[{"profile": {"name": "A\u0000na"}, "wa_id": USER}],
    )
    assert post_webhook(body).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == "partial" and event.event_count == 5
    stored = dict(Message.objects.values_list("wamid", "text"))
    assert stored == {"wamid.good1": "hi", "wamid.nul": "a\ufffdb", "wamid.good2": "hi"}
    assert Contact.objects.get(wa_id=USER).name == "A\ufffdna"
    assert [(e["index"], e["kind"]) for e in event.item_errors] == [(2, "message"), (3, "message")]
    assert "wa_id is 70 characters" in event.item_errors[0]["error"]
    assert "wamid is 300 characters" in event.item_errors[1]["error"]
    assert "2 of 5 items not applied" in event.last_error
    reasons = [kw["reason"] for name, kw in caught if name == "webhook_error"]
    assert reasons == ["item_failed", "item_failed"]
    # The stored body is the original, byte for byte.
    assert b"a\\u0000b" in event.body_bytes


def test_a_nul_written_as_an_escaped_backslash_is_literal_text(post_webhook, account):
    post_webhook(batch(message("wamid.1", "C:\\u0000")))  # the text is backslash, "u0000"
    assert Message.objects.get().text == "C:\\u0000"


def test_a_lone_surrogate_becomes_a_replacement_character(post_webhook, account):
    raw = dumps(batch(message("wamid.1", "x"))).replace(b'"body":"x"', b'"body":"a\\ud800b"')
    assert post_webhook(raw).status_code == 200
    assert Message.objects.get().text == "a\ufffdb"


def test_an_unreadable_item_is_recorded_with_its_path(post_webhook, account):
    broken = {"from": USER, "id": "wamid.notype", "timestamp": "1697043223", "text": {"body": "?"}}
    post_webhook(batch(message("wamid.before"), broken, message("wamid.after")))
    event = WebhookEvent.objects.get()
    assert event.status == "partial"
    assert set(Message.objects.values_list("wamid", flat=True)) == {"wamid.before", "wamid.after"}
    (failure,) = event.item_errors
    assert failure["index"] == 1 and failure["kind"] == "message" and failure["id"] == "wamid.notype"
    assert failure["path"] == "entry[0].changes[0].value.messages[1].type"


def test_a_message_without_a_sender_is_kept(post_webhook, account):
    anonymous = {"id": "wamid.anon", "timestamp": "1697043223", "type": "text", "text": {"body": "who?"}}
    post_webhook(batch(anonymous, contacts=[]))
    stored = Message.objects.get()
    assert (stored.wamid, stored.text, stored.contact, stored.account) == (
        "wamid.anon",
        "who?",
        None,
        account,
    )


def test_an_unexpected_error_stores_the_neighbours_and_retries_the_event(post_webhook, account, monkeypatch):
    real = inbound.store_inbound_message

    def flaky(item, *args, **kwargs):
        if item.message_id == "wamid.flaky":
            raise RuntimeError("receiver bug")
        return real(item, *args, **kwargs)

    monkeypatch.setattr(inbound, "store_inbound_message", flaky)
    post_webhook(batch(message("wamid.a"), message("wamid.flaky"), message("wamid.b")))
    event = WebhookEvent.objects.get()
    assert (event.status, event.retriable, event.last_error) == ("failed", True, "RuntimeError: receiver bug")
    assert set(Message.objects.values_list("wamid", flat=True)) == {"wamid.a", "wamid.b"}
    monkeypatch.setattr(inbound, "store_inbound_message", real)
    assert inbound.process_webhook_event(event.pk).status == "processed"
    assert Message.objects.count() == 3 and event.__class__.objects.get().item_errors == []


def test_a_status_for_another_accounts_message_is_refused(post_webhook, account):
    from wacloud_django.models import BusinessAccount

    other = BusinessAccount.objects.create(phone_number_id="777", access_token="t", app_secret="s7")
    theirs = Message.objects.create(account=other, wamid="wamid.theirs", direction="outbound", type="text",
                                    status="sent")  # fmt: skip
    revoke = message("wamid.revoke", type="revoke")
    revoke.pop("text")
    revoke["revoke"] = {"original_message_id": "wamid.theirs"}
    status = {"id": "wamid.theirs", "status": "read", "timestamp": "1697043300", "recipient_id": USER}
    post_webhook(envelope({"statuses": [status]}), secret=APP_SECRET)
    post_webhook(batch(revoke), secret=APP_SECRET)
    theirs.refresh_from_db()
    assert theirs.status == "sent" and theirs.deleted_at is None
    first = WebhookEvent.objects.order_by("pk").first()
    assert first.status == "partial" and "another account" in first.item_errors[0]["error"]


def test_a_quality_update_labelled_as_a_status_update_reaches_the_template(post_webhook, account):
    from wacloud_test_helpers import WABA_ID

    from wacloud_django.models import Template

    value = {
        "previous_quality_score": "GREEN",
        "new_quality_score": "YELLOW",
        "message_template_id": 7,
        "message_template_name": "promo",
        "message_template_language": "en_US",
    }
    change = {"value": value, "field": "message_template_status_update"}
    body = {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "time": 1, "changes": [change]}]}
    assert post_webhook(body, secret=APP_SECRET).status_code == 200
    assert WebhookEvent.objects.get().status == "processed"
    assert Template.objects.get(name="promo", language="en_US").quality_score == "YELLOW"
