"""The admin: every page renders, secrets are write-only, reprocess works."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse
from wacloud_test_helpers import text_message

from wacloud_django.admin import register_action
from wacloud_django.models import (
    BusinessAccount,
    Contact,
    Conversation,
    MediaFile,
    Message,
    PendingStatus,
    RateLimitUsage,
    Template,
    WebhookEvent,
)
from wacloud_django.services import inbound

pytestmark = pytest.mark.django_db

MODELS = [BusinessAccount, Contact, Conversation, Message, PendingStatus, Template, MediaFile, WebhookEvent,
          RateLimitUsage]  # fmt: skip


@pytest.fixture
def populated(post_webhook, account):
    post_webhook(text_message("wamid.1", "hello admin"))
    message = Message.objects.get()
    MediaFile.objects.create(account=account, message=message, media_id="m1", mime_type="image/jpeg")
    PendingStatus.objects.create(wamid="wamid.later", status="sent", account=account)
    Template.objects.create(account=account, waba_id=account.waba_id, name="welcome", language="en_US")
    from django.utils import timezone

    RateLimitUsage.objects.create(account=account, window="second", window_start=timezone.now(), count=3)
    return account


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_pages_render(admin_client, populated, model):
    info = model._meta.app_label, model._meta.model_name
    response = admin_client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    obj = model.objects.first()
    response = admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    assert response.status_code == 200


def test_changelist_filters_render(admin_client, populated):
    url = reverse("admin:wacloud_message_changelist")
    response = admin_client.get(url, {"status": "received", "direction": "inbound", "type": "text"})
    assert response.status_code == 200 and b"hello admin" in response.content
    assert b"hello admin" not in admin_client.get(url, {"status": "failed"}).content


def test_account_secrets_are_write_only(admin_client, account):
    url = reverse("admin:wacloud_businessaccount_change", args=[account.pk])
    page = admin_client.get(url).content.decode()
    for secret in ("EAAG-test-token", "account-app-secret", account.access_token_encrypted):
        assert secret not in page
    form = {
        "name": "Renamed", "phone_number_id": account.phone_number_id, "waba_id": account.waba_id,
        "display_phone_number": "", "verify_token": "v", "api_version": "", "is_active": "on",
        "rate_limit_per_second": "", "rate_limit_per_hour": "", "access_token": "", "app_secret": "",
    }  # fmt: skip
    assert admin_client.post(url, form).status_code == 302
    account.refresh_from_db()
    assert (account.name, account.access_token, account.app_secret) == (
        "Renamed",
        "EAAG-test-token",
        "account-app-secret",
    )
    assert admin_client.post(url, {**form, "access_token": "EAAG-new"}).status_code == 302
    account.refresh_from_db()
    assert account.access_token == "EAAG-new" and account.app_secret == "account-app-secret"
    assert admin_client.post(url, {**form, "clear_app_secret": "on"}).status_code == 302
    account.refresh_from_db()
    assert account.app_secret == ""


def test_add_account_page_and_create(admin_client, db):
    url = reverse("admin:wacloud_businessaccount_add")
    assert admin_client.get(url).status_code == 200
    form = {
        "name": "New",
        "phone_number_id": "555",
        "access_token": "EAAG-x",
        "app_secret": "s",
        "is_active": "on",
    }
    assert admin_client.post(url, form).status_code == 302
    created = BusinessAccount.objects.get(phone_number_id="555")
    assert (created.access_token, created.app_secret) == ("EAAG-x", "s")


def test_reprocess_action(admin_client, post_webhook, account, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    real = inbound.store_inbound_message
    monkeypatch.setattr(inbound, "store_inbound_message", broken)
    post_webhook(text_message("wamid.1"))
    event = WebhookEvent.objects.get()
    assert event.status == "failed"
    monkeypatch.setattr(inbound, "store_inbound_message", real)
    response = admin_client.post(
        reverse("admin:wacloud_webhookevent_changelist"),
        {"action": "reprocess", "_selected_action": [event.pk]},
        follow=True,
    )
    assert b"Reprocessed: 1 processed." in response.content
    event.refresh_from_db()
    assert event.status == "processed" and Message.objects.count() == 1


def test_webhook_event_page_shows_pretty_body(admin_client, post_webhook, account):
    post_webhook(text_message("wamid.1", "pretty"))
    event = WebhookEvent.objects.get()
    page = admin_client.get(reverse("admin:wacloud_webhookevent_change", args=[event.pk])).content.decode()
    assert "&quot;body&quot;: &quot;pretty&quot;" in page and "X-Hub-Signature-256" in page


def test_registered_actions_slot_in(admin_client, account):
    @admin.action(description="Say hello")
    def say_hello(modeladmin, request, queryset):
        modeladmin.message_user(request, f"hello {queryset.count()}")

    register_action(BusinessAccount, say_hello)
    try:
        response = admin_client.post(
            reverse("admin:wacloud_businessaccount_changelist"),
            {"action": "say_hello", "_selected_action": [account.pk]},
            follow=True,
        )
        assert b"Hello 1" in response.content  # the admin capitalises messages
    finally:
        from wacloud_django import admin as wacloud_admin

        wacloud_admin._EXTRA_ACTIONS[BusinessAccount].remove(say_hello)
