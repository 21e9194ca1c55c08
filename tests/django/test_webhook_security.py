"""A webhook is authenticated as one signer, and may only speak for the accounts
that signer's secret belongs to (docs/webhooks.md, "Who may speak for whom")."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from wacloud_test_helpers import (
    APP_SECRET,
    GLOBAL_APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    dumps,
    envelope,
    text_message,
)

from wacloud_django.models import BusinessAccount, Contact, Message, WebhookEvent
from wacloud_django.services import inbound
from wacloud_django.services.webhooks import record_webhook_event

OTHER_PHONE_ID, OTHER_WABA, OTHER_SECRET = "9988776655", "5550005550005", "other-app-secret"


@pytest.fixture
def other(db):
    return BusinessAccount.objects.create(
        name="Other tenant",
        phone_number_id=OTHER_PHONE_ID,
        waba_id=OTHER_WABA,
        access_token="EAAG-other",
        app_secret=OTHER_SECRET,
    )


def template_status(waba_id: str) -> dict:
    value = {
        "event": "APPROVED",
        "message_template_id": 1,
        "message_template_name": "promo",
        "message_template_language": "en_US",
        "reason": "NONE",
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "time": 1,
                "changes": [{"value": value, "field": "message_template_status_update"}],
            }
        ],
    }


def nothing_stored() -> bool:
    return not WebhookEvent.objects.exists() and not Message.objects.exists()


# -- refused: another account's secret or URL --------------------------------------------------


def test_body_naming_a_signed_with_bs_secret_is_refused(post_webhook, account, other):
    response = post_webhook(text_message("wamid.forged"), secret=OTHER_SECRET)
    assert response.status_code == 403
    assert nothing_stored()


def test_body_naming_a_posted_to_bs_url_is_refused(post_webhook, account, other):
    url = f"/whatsapp/webhook/{OTHER_PHONE_ID}/"
    assert post_webhook(text_message("wamid.forged"), secret=OTHER_SECRET, url=url).status_code == 403
    assert nothing_stored()


def test_waba_only_change_of_a_signed_by_b_is_refused(post_webhook, account, other):
    assert post_webhook(template_status(WABA_ID), secret=OTHER_SECRET).status_code == 403
    assert nothing_stored()


def test_a_body_mixing_two_accounts_is_refused_whole(post_webhook, account, other):
    body = text_message("wamid.a")
    message = text_message("wamid.b")["entry"][0]["changes"][0]["value"]["messages"][0]
    foreign = envelope({"messages": [message]}, phone_number_id=OTHER_PHONE_ID)["entry"][0]["changes"][0]
    body["entry"][0]["changes"].append(foreign)
    assert post_webhook(body, secret=APP_SECRET).status_code == 403
    assert post_webhook(body, secret=OTHER_SECRET).status_code == 403
    assert nothing_stored()


def test_an_entry_with_a_foreign_waba_is_refused(post_webhook, account, other):
    body = text_message("wamid.a")
    body["entry"][0]["id"] = OTHER_WABA  # A's number under B's WABA
    assert post_webhook(body, secret=APP_SECRET).status_code == 403
    assert post_webhook(body, secret=OTHER_SECRET).status_code == 403
    assert nothing_stored()


def test_only_the_global_secret_speaks_for_unconfigured_numbers(post_webhook, account):
    unknown = text_message("wamid.new", **{})
    unknown["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "4444444444"
    unknown["entry"][0]["id"] = "777777"
    assert post_webhook(unknown, secret=APP_SECRET).status_code == 403
    assert nothing_stored()
    assert post_webhook(unknown, secret=GLOBAL_APP_SECRET).status_code == 200
    created = BusinessAccount.objects.get(phone_number_id="4444444444")
    assert not created.is_active and Message.objects.get().account == created


def test_a_forged_signature_still_gets_403(post_webhook, account):
    assert post_webhook(text_message("wamid.x"), secret="not-the-secret").status_code == 403
    assert nothing_stored()


# -- accepted ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/whatsapp/webhook/", f"/whatsapp/webhook/{PHONE_NUMBER_ID}/",
                                 f"/whatsapp/webhook/{WABA_ID}/"])  # fmt: skip
def test_the_accounts_own_secret_is_accepted_on_every_url(post_webhook, account, other, url):
    assert post_webhook(text_message("wamid.ok"), secret=APP_SECRET, url=url).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.account == account and event.status == "processed"
    assert Message.objects.get().account == account


def test_accounts_sharing_the_global_secret_speak_for_each_other(post_webhook, db):
    first = BusinessAccount.objects.create(phone_number_id="111", waba_id=WABA_ID, access_token="t")
    second = BusinessAccount.objects.create(phone_number_id="222", waba_id=WABA_ID, access_token="t")
    body = text_message("wamid.1")
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "111"
    change = json.loads(json.dumps(body["entry"][0]["changes"][0]))
    change["value"]["metadata"]["phone_number_id"] = "222"
    change["value"]["messages"][0]["id"] = "wamid.2"
    body["entry"][0]["changes"].append(change)
    assert post_webhook(body, secret=GLOBAL_APP_SECRET).status_code == 200
    assert {m.wamid: m.account for m in Message.objects.all()} == {"wamid.1": first, "wamid.2": second}


def test_an_account_without_a_waba_id_receives_its_wabas_changes(post_webhook, db):
    lone = BusinessAccount.objects.create(
        phone_number_id=PHONE_NUMBER_ID, access_token="t", app_secret="lone"
    )
    assert post_webhook(text_message("wamid.1"), secret="lone").status_code == 200
    assert Message.objects.get().account == lone


def test_waba_url_takes_the_secrets_of_that_waba_only(post_webhook, account, other):
    url = f"/whatsapp/webhook/{OTHER_WABA}/"
    assert post_webhook(text_message("wamid.x"), secret=APP_SECRET, url=url).status_code == 403
    assert (
        post_webhook(text_message("wamid.x"), secret=APP_SECRET, url="/whatsapp/webhook/000/").status_code
        == 404
    )


# -- processing never re-attributes ------------------------------------------------------------


def test_processing_refuses_items_of_accounts_the_signer_does_not_speak_for(account, other):
    # Stored by other code (or before the intake rule): filed under B, naming A.
    event, _ = record_webhook_event(
        dumps(text_message("wamid.moved")), account=other, signature_verified=True
    )
    inbound.process_webhook_event(event.pk)
    event.refresh_from_db()
    assert event.status == "partial" and not Message.objects.exists() and not Contact.objects.exists()
    (failure,) = event.item_errors
    assert failure["id"] == "wamid.moved" and "cannot speak for" in failure["error"]


# -- signed but unreadable bodies get 400, not 403 ----------------------------------------------


def test_signed_garbage_with_only_account_secrets_gets_400_and_is_kept(post_webhook, account, settings):
    settings.WACLOUD = {**settings.WACLOUD, "APP_SECRET": None}
    response = post_webhook(b"{not json", secret=APP_SECRET)
    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert (event.status, event.retriable, event.account) == ("failed", False, account)
    assert post_webhook(b"{not json", secret="forged").status_code == 403


# -- the verify token is a secret ---------------------------------------------------------------


def test_verify_token_is_encrypted_and_never_shown(account, admin_client, client):
    row = BusinessAccount.objects.filter(pk=account.pk).values().get()
    assert "account-verify-token" not in json.dumps(row, default=str)
    assert row["verify_token_encrypted"].startswith("wac1:")
    page = admin_client.get(reverse("admin:wacloud_businessaccount_change", args=[account.pk])).content
    assert b"account-verify-token" not in page
    from io import StringIO

    dump = StringIO()
    call_command("dumpdata", "wacloud.businessaccount", stdout=dump)
    assert "account-verify-token" not in dump.getvalue()
    # ... and the handshake still accepts it.
    query = {"hub.mode": "subscribe", "hub.verify_token": "account-verify-token", "hub.challenge": "42"}
    assert client.get(f"/whatsapp/webhook/{PHONE_NUMBER_ID}/", query).content == b"42"
    assert client.get("/whatsapp/webhook/", query).content == b"42"


def test_admin_keeps_or_replaces_the_verify_token(account, admin_client):
    url = reverse("admin:wacloud_businessaccount_change", args=[account.pk])
    form = {"name": "Main", "phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID, "is_active": "on",
            "display_phone_number": "", "api_version": "", "app_id": ""}  # fmt: skip
    assert admin_client.post(url, form).status_code == 302
    account.refresh_from_db()
    assert account.verify_token == "account-verify-token"  # an empty field keeps it
    assert admin_client.post(url, {**form, "verify_token": "new-token"}).status_code == 302
    account.refresh_from_db()
    assert account.verify_token == "new-token"


@pytest.mark.django_db(transaction=True)
def test_migration_encrypts_plain_verify_tokens():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("wacloud", "0002_message_outbox")])
    old_apps = executor.loader.project_state([("wacloud", "0002_message_outbox")]).apps
    OldAccount = old_apps.get_model("wacloud", "BusinessAccount")
    OldAccount.objects.create(phone_number_id="1", verify_token="plain-token")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("wacloud"))
    migrated = BusinessAccount.objects.get(phone_number_id="1")
    assert migrated.verify_token_encrypted.startswith("wac1:") and migrated.verify_token == "plain-token"
