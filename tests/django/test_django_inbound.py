"""Inbound processing: threading, linking, statuses, pending statuses, templates, signals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from wacloud_test_helpers import USER, WABA_ID, envelope, status_update, text_message

from wacloud_django.models import Contact, Conversation, Message, PendingStatus, Template, WebhookEvent
from wacloud_django.services import inbound
from wacloud_django.services.webhooks import reprocess_webhook_events

pytestmark = pytest.mark.django_db

T0 = 1697043223


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def echo(wamid: str, body: str = "from the app", timestamp: int = T0):
    item = {"from": "972123456789", "to": USER, "id": wamid, "timestamp": str(timestamp), "type": "text",
            "text": {"body": body}}  # fmt: skip
    return envelope({"message_echoes": [item]}, field="smb_message_echoes")


def test_text_message_threads_contact_and_conversation(post_webhook, account, caught):
    post_webhook(text_message("wamid.1", "hi", timestamp=T0))
    post_webhook(text_message("wamid.2", "again", timestamp=T0 + 60))
    contact = Contact.objects.get()
    assert (contact.account, contact.wa_id, contact.name) == (account, USER, "Test Name")
    assert contact.profile["profile"]["name"] == "Test Name" and contact.last_inbound_at == at(T0 + 60)
    conversation = Conversation.objects.get()
    assert conversation.status == "open" and conversation.unread_count == 2
    assert conversation.last_message_at == at(T0 + 60)
    assert conversation.service_window_expires_at == at(T0 + 60) + timedelta(hours=24)
    assert conversation.is_window_open(at(T0 + 3600)) and not conversation.is_window_open(at(T0 + 60 + 86400))
    message = Message.objects.get(wamid="wamid.1")
    assert (message.direction, message.type, message.text, message.status) == (
        "inbound",
        "text",
        "hi",
        "received",
    )
    assert message.timestamp == at(T0) and message.content == {"text": "hi"}
    assert message.raw["id"] == "wamid.1"

    received = [kwargs for name, kwargs in caught if name == "message_received"]
    assert [kwargs["message"].wamid for kwargs in received] == ["wamid.1", "wamid.2"]
    first = received[0]
    assert (
        first["account"] == account and first["contact"] == contact and first["conversation"] == conversation
    )
    assert first["event"].text == "hi" and first["webhook_event"].status in ("processing", "processed")
    kinds = [kwargs["event"].event_type for name, kwargs in caught if name == "webhook_event_received"]
    assert kinds == ["message", "message"]


def test_older_message_does_not_move_the_window_back(post_webhook, account):
    post_webhook(text_message("wamid.new", timestamp=T0 + 3600))
    post_webhook(text_message("wamid.old", timestamp=T0))
    conversation = Conversation.objects.get()
    assert conversation.last_message_at == at(T0 + 3600)
    assert conversation.service_window_expires_at == at(T0 + 3600) + timedelta(hours=24)


def test_echo_is_stored_as_outbound_sent_without_opening_the_window(post_webhook, account):
    post_webhook(echo("wamid.E"))
    message = Message.objects.get()
    assert (message.direction, message.status, message.sent_at) == ("outbound", "sent", at(T0))
    assert message.contact.wa_id == USER
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 0 and conversation.service_window_expires_at is None


def test_reply_is_linked_whichever_arrives_first(post_webhook, account):
    post_webhook(text_message("wamid.reply", "answer", context={"from": USER, "id": "wamid.orig"}))
    reply = Message.objects.get(wamid="wamid.reply")
    assert reply.reply_to is None and reply.reply_to_wamid == "wamid.orig"
    post_webhook(echo("wamid.orig"))
    reply.refresh_from_db()
    assert reply.reply_to.wamid == "wamid.orig"
    post_webhook(text_message("wamid.reply2", context={"from": USER, "id": "wamid.orig"}))
    assert Message.objects.get(wamid="wamid.reply2").reply_to.wamid == "wamid.orig"


def test_reaction_edit_and_revoke_mark_their_target(post_webhook, account):
    post_webhook(text_message("wamid.orig", "typo", timestamp=T0))
    reaction = {"from": USER, "id": "wamid.r", "timestamp": str(T0 + 1), "type": "reaction",
                "reaction": {"message_id": "wamid.orig", "emoji": "👍"}}  # fmt: skip
    new_content = {"type": "text", "text": {"body": "fixed"}}
    edit = {"from": USER, "id": "wamid.e", "timestamp": str(T0 + 2), "type": "edit",
            "edit": {"original_message_id": "wamid.orig", "message": new_content}}  # fmt: skip
    revoke = {"from": USER, "id": "wamid.v", "timestamp": str(T0 + 3), "type": "revoke",
              "revoke": {"original_message_id": "wamid.orig"}}  # fmt: skip
    for item in (reaction, edit, revoke):
        post_webhook(envelope({"messages": [item]}))
    original = Message.objects.get(wamid="wamid.orig")
    assert original.edited_at == at(T0 + 2) and original.deleted_at == at(T0 + 3)
    assert {m.wamid for m in original.referenced_by.all()} == {"wamid.r", "wamid.e", "wamid.v"}
    assert Message.objects.get(wamid="wamid.r").content["reaction"] == {
        "message_id": "wamid.orig",
        "emoji": "👍",
    }
    assert Message.objects.get(wamid="wamid.e").text == "fixed"
    assert Conversation.objects.get().unread_count == 1  # reactions, edits and revokes change, not add


def test_unsupported_message_keeps_its_error(post_webhook, account):
    item = {"from": USER, "id": "wamid.u", "timestamp": str(T0), "type": "unsupported",
            "errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                        "error_data": {"details": "Message type is currently not supported."}}]}  # fmt: skip
    post_webhook(envelope({"messages": [item]}))
    message = Message.objects.get()
    assert message.error_code == 131051
    assert message.error_message == "Message type unknown: Message type is currently not supported."


# -- statuses ------------------------------------------------------------------------------------


def outbound(account, wamid="wamid.out", status="sent"):
    return Message.objects.create(
        account=account, wamid=wamid, direction="outbound", type="text", status=status
    )


def test_statuses_never_regress_and_keep_every_timestamp(post_webhook, account, caught):
    message = outbound(account)
    for status, stamp in (("read", 300), ("delivered", 200), ("sent", 100), ("read", 300)):
        post_webhook(status_update("wamid.out", status, timestamp=T0 + stamp))
    message.refresh_from_db()
    assert message.status == "read"
    assert (message.sent_at, message.delivered_at, message.read_at) == (
        at(T0 + 100),
        at(T0 + 200),
        at(T0 + 300),
    )
    changed = [
        (kw["previous_status"], kw["status"]) for name, kw in caught if name == "message_status_changed"
    ]
    assert changed == [("sent", "read")]
    assert caught[0][1]["event"].status == "read" and caught[0][1]["message"].pk == message.pk


def test_failed_keeps_its_error_and_does_not_undo_delivery(post_webhook, account):
    errors = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
               "error_data": {"details": "Receiver is incapable"}}]  # fmt: skip
    failed = outbound(account, "wamid.f")
    post_webhook(status_update("wamid.f", "failed", timestamp=T0 + 5, errors=errors))
    post_webhook(status_update("wamid.f", "sent", timestamp=T0 + 1))
    failed.refresh_from_db()
    assert (failed.status, failed.error_code, failed.failed_at) == ("failed", 131026, at(T0 + 5))
    assert failed.error_message == "Message undeliverable: Receiver is incapable"
    assert failed.sent_at == at(T0 + 1)

    delivered = outbound(account, "wamid.d")
    post_webhook(status_update("wamid.d", "delivered", timestamp=T0 + 5))
    post_webhook(status_update("wamid.d", "failed", timestamp=T0 + 6, errors=errors))
    delivered.refresh_from_db()
    assert delivered.status == "delivered" and delivered.error_code == 131026


def test_pending_status_applied_when_the_message_appears(post_webhook, account, caught):
    post_webhook(status_update("wamid.E", "delivered", timestamp=T0 + 10))
    post_webhook(status_update("wamid.E", "read", timestamp=T0 + 20))
    assert set(PendingStatus.objects.values_list("status", flat=True)) == {"delivered", "read"}
    post_webhook(echo("wamid.E"))  # the message shows up (here as an echo)
    message = Message.objects.get(wamid="wamid.E")
    assert (message.status, message.delivered_at, message.read_at) == ("read", at(T0 + 10), at(T0 + 20))
    assert PendingStatus.objects.count() == 0
    changed = [
        (kw["previous_status"], kw["status"], kw["event"])
        for n, kw in caught
        if n == "message_status_changed"
    ]
    assert changed == [("sent", "delivered", None), ("delivered", "read", None)]


def test_unknown_status_string_is_kept_without_changing_status(post_webhook, account):
    message = outbound(account)
    post_webhook(status_update("wamid.out", "warning"))
    message.refresh_from_db()
    assert message.status == "sent"
    assert WebhookEvent.objects.get().status == "processed"


# -- templates, preferences, other fields --------------------------------------------------------


def template_status(name, status, time, reason="NONE"):
    value = {"event": status, "message_template_id": 42, "message_template_name": name,
             "message_template_language": "en_US", "reason": reason}  # fmt: skip
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "time": time, "changes": [{"value": value,
                       "field": "message_template_status_update"}]}]}  # fmt: skip


def test_template_status_created_updated_and_never_rewound(post_webhook, account, caught):
    post_webhook(template_status("welcome", "APPROVED", T0 + 10))
    post_webhook(template_status("welcome", "PENDING", T0))  # older: ignored
    post_webhook(template_status("welcome", "REJECTED", T0 + 20, reason="INVALID_FORMAT"))
    template = Template.objects.get()
    assert (template.account, template.waba_id, template.template_id) == (account, WABA_ID, "42")
    assert (template.status, template.rejection_reason) == ("REJECTED", "INVALID_FORMAT")
    changed = [(kw["previous_status"], kw["status"]) for n, kw in caught if n == "template_status_changed"]
    assert changed == [("", "APPROVED"), ("APPROVED", "REJECTED")]


def test_marketing_preferences_opt_out_and_back_in_order(post_webhook, account):
    def preference(value, stamp):
        item = {"wa_id": USER, "category": "marketing_messages", "value": value, "timestamp": stamp}
        return envelope({"user_preferences": [item]}, field="user_preferences")

    from wacloud_django.automation.services.consent import current_consent

    post_webhook(preference("resume", T0 + 10))
    post_webhook(preference("stop", T0))  # older than the resume: kept in the history, changes nothing
    assert current_consent(Contact.objects.get())["marketing"] == "granted"
    post_webhook(preference("stop", T0 + 20))
    contact = Contact.objects.get()
    assert current_consent(contact)["marketing"] == "revoked"
    # Marketing only: the contact still gets service messages (docs/automation.md).
    assert contact.opted_out is False and contact.consent_records.count() == 3


def test_other_fields_and_meta_errors_are_signalled(post_webhook, account, caught):
    update = {"object": "whatsapp_business_account",
              "entry": [{"id": WABA_ID, "time": T0, "changes": [{"value": {"event": "ACCOUNT_VIOLATION"},
                         "field": "account_update"}]}]}  # fmt: skip
    post_webhook(update)
    error = envelope({"errors": [{"code": 131000, "title": "Something went wrong", "message": "x"}]})
    post_webhook(error)
    events = [kw for n, kw in caught if n == "webhook_event_received"]
    assert [kw["event"].field for kw in events] == ["account_update", "messages"]
    assert events[0]["event"].value == {"event": "ACCOUNT_VIOLATION"} and events[0]["account"] == account
    meta = [kw for n, kw in caught if n == "webhook_error"]
    assert meta[0]["reason"] == "meta_error" and meta[0]["event"].errors[0].code == 131000


def test_signals_wait_for_the_commit(account, django_capture_on_commit_callbacks, caught):
    from wacloud_test_helpers import dumps

    from wacloud_django.services.webhooks import record_webhook_event

    event, _ = record_webhook_event(dumps(text_message("wamid.1")), signature_verified=True, account=account)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inbound.process_webhook_event(event.pk)
    assert caught == [] and Message.objects.count() == 1
    for callback in callbacks:
        callback()
    assert [name for name, _ in caught] == ["message_received", "webhook_event_received"]


# -- failures and reprocessing -------------------------------------------------------------------


def test_failed_processing_is_recorded_and_reprocessing_recovers(
    post_webhook, account, monkeypatch, caught, django_capture_on_commit_callbacks
):
    real = inbound.store_inbound_message

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(inbound, "store_inbound_message", broken)
    assert post_webhook(text_message("wamid.1")).status_code == 200  # stored, so still acknowledged
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == ("failed", 1)
    assert event.last_error == "RuntimeError: database hiccup"
    assert [kw["reason"] for n, kw in caught if n == "webhook_error"] == ["processing_failed"]
    assert Message.objects.count() == 0

    monkeypatch.setattr(inbound, "store_inbound_message", real)
    with django_capture_on_commit_callbacks(execute=True):
        assert reprocess_webhook_events([event.pk]) == {"processed": 1}
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("processed", 2, "")
    assert Message.objects.count() == 1
    # Reprocessing a processed event is harmless: nothing duplicated, nothing re-announced.
    before = len(caught)
    with django_capture_on_commit_callbacks(execute=True):
        assert reprocess_webhook_events([event.pk]) == {"processed": 1}
    assert Message.objects.count() == 1 and Conversation.objects.get().unread_count == 1
    assert [n for n, _ in caught[before:]] == ["webhook_event_received"]


def test_processing_a_processed_event_again_is_a_no_op(account, post_webhook):
    post_webhook(text_message("wamid.1"))
    event = WebhookEvent.objects.get()
    assert inbound.process_webhook_event(event.pk).attempts == 1


def test_processing_a_missing_event_raises_does_not_exist(db):
    with pytest.raises(WebhookEvent.DoesNotExist):
        inbound.process_webhook_event(123456)
