"""The webhook endpoint: handshake, signatures, size cap, malformed bodies, dedupe."""

from __future__ import annotations

import pytest
from django.test import override_settings
from wacloud_test_helpers import (
    APP_SECRET,
    GLOBAL_APP_SECRET,
    PHONE_NUMBER_ID,
    WEBHOOK_URL,
    dumps,
    envelope,
    sign,
    text_message,
)

from wacloud_django import signals
from wacloud_django.models import BusinessAccount, Message, WebhookEvent

pytestmark = pytest.mark.django_db

ACCOUNT_URL = f"{WEBHOOK_URL}{PHONE_NUMBER_ID}/"


@pytest.fixture
def errors():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.webhook_error.connect(receiver)
    yield received
    signals.webhook_error.disconnect(receiver)


# -- GET: Meta's subscription handshake ----------------------------------------------------------


def handshake(client, url=WEBHOOK_URL, token="global-verify-token", mode="subscribe", challenge="1158201444"):
    return client.get(url, {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge})


def test_handshake_with_global_token_echoes_challenge(client):
    response = handshake(client)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


def test_handshake_accepts_any_account_token_on_shared_url(client, account):
    assert handshake(client, token="account-verify-token").status_code == 200


def test_handshake_per_account_url_uses_the_account_token_only(client, account):
    assert handshake(client, ACCOUNT_URL, token="account-verify-token").status_code == 200
    assert handshake(client, ACCOUNT_URL, token="global-verify-token").status_code == 403


@pytest.mark.parametrize(
    ("mode", "token", "challenge"),
    [
        ("subscribe", "wrong", "1"),
        ("unsubscribe", "global-verify-token", "1"),
        ("subscribe", "global-verify-token", ""),
    ],
)
def test_handshake_refused(client, mode, token, challenge):
    response = handshake(client, token=token, mode=mode, challenge=challenge)
    assert response.status_code == 403
    assert b"Forbidden" in response.content


@override_settings(WACLOUD={"VERIFY_TOKEN": None})
def test_handshake_without_any_configured_token_is_refused(client):
    response = handshake(client, token="")
    assert response.status_code == 403
    assert b"no verify token is configured" in response.content


def test_unknown_account_url_is_404(client, post_webhook):
    assert handshake(client, f"{WEBHOOK_URL}999/").status_code == 404
    assert post_webhook(text_message("wamid.A"), url=f"{WEBHOOK_URL}999/").status_code == 404
    assert WebhookEvent.objects.count() == 0


# -- POST: signatures ----------------------------------------------------------------------------


def test_valid_signature_stores_and_processes(post_webhook, account):
    response = post_webhook(text_message("wamid.A"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.signature_verified and event.account == account
    assert event.status == WebhookEvent.Status.PROCESSED and event.attempts == 1 and event.event_count == 1
    assert event.fields == "messages"
    assert event.headers["X-Hub-Signature-256"].startswith("sha256=")
    assert Message.objects.get().wamid == "wamid.A"


def test_missing_signature_is_403_and_nothing_stored(post_webhook, account, errors):
    response = post_webhook(text_message("wamid.A"), secret=None)
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0 and Message.objects.count() == 0
    assert errors[0]["reason"] == "invalid_signature"
    assert "missing" in str(errors[0]["error"])
    assert errors[0]["request"] is not None


def test_forged_signature_is_403_and_nothing_stored(post_webhook, account, errors):
    assert post_webhook(text_message("wamid.A"), secret="attacker").status_code == 403
    body = dumps(text_message("wamid.A"))
    tampered = body.replace(b"hello", b"HELLO")
    assert post_webhook(tampered, HTTP_X_HUB_SIGNATURE_256=sign(APP_SECRET, body)).status_code == 403
    assert post_webhook(body, HTTP_X_HUB_SIGNATURE_256="sha1=" + "0" * 40).status_code == 403
    assert WebhookEvent.objects.count() == 0
    assert [error["reason"] for error in errors] == ["invalid_signature"] * 3


def test_signature_of_another_account_is_403(post_webhook, account):
    BusinessAccount.objects.create(phone_number_id="5550001", app_secret="other-secret")
    # Signed with the other account's secret while the payload (and the URL) name this account.
    assert post_webhook(text_message("wamid.A"), secret="other-secret").status_code == 403
    assert post_webhook(text_message("wamid.A"), secret="other-secret", url=ACCOUNT_URL).status_code == 403
    # Nor does the global secret stand in for an account that has its own.
    assert post_webhook(text_message("wamid.A"), secret=GLOBAL_APP_SECRET).status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_account_url_refuses_a_body_naming_another_account(post_webhook, account):
    # Posted to B's own URL with B's secret, the body names A: never stored under A or B.
    other = BusinessAccount.objects.create(phone_number_id="5550001", app_secret="other-secret")
    body = text_message("wamid.B")
    url = f"{WEBHOOK_URL}{other.phone_number_id}/"
    assert post_webhook(body, secret="other-secret", url=url).status_code == 403
    assert not WebhookEvent.objects.exists()


def test_unknown_number_is_verified_with_global_secret_and_kept(post_webhook):
    message = {"from": "1", "id": "wamid.U", "timestamp": "1", "type": "text", "text": {"body": "x"}}
    body = envelope({"messages": [message]}, phone_number_id="777")
    assert post_webhook(body, secret=APP_SECRET).status_code == 403
    assert post_webhook(body, secret=GLOBAL_APP_SECRET).status_code == 200
    created = BusinessAccount.objects.get(phone_number_id="777")
    assert created.is_active is False  # kept, but not used for sending until configured
    assert Message.objects.get().account == created


def test_account_without_secret_uses_global_secret(post_webhook):
    BusinessAccount.objects.create(phone_number_id=PHONE_NUMBER_ID)
    assert post_webhook(text_message("wamid.A"), secret=GLOBAL_APP_SECRET).status_code == 200


@override_settings(WACLOUD={"APP_SECRET": None})
def test_no_secret_anywhere_is_403(post_webhook, errors):
    assert post_webhook(text_message("wamid.A"), secret="anything").status_code == 403
    assert "no app secret" in str(errors[0]["error"])
    assert WebhookEvent.objects.count() == 0


def test_undecryptable_secret_is_500_and_nothing_stored(post_webhook, account, errors, settings):
    # The account's secret was encrypted under the suite's key; the key is now another one.
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": "1e" * 32}
    response = post_webhook(text_message("wamid.A"))
    assert response.status_code == 500
    assert errors[0]["reason"] == "configuration_error"
    assert WebhookEvent.objects.count() == 0


# -- POST: size, malformed bodies, duplicates ----------------------------------------------------


@override_settings(WACLOUD={"APP_SECRET": GLOBAL_APP_SECRET, "WEBHOOK_MAX_BODY_BYTES": 1000})
def test_oversized_body_is_413_before_verification(post_webhook, errors):
    big = text_message("wamid.A", "x" * 2000)
    response = post_webhook(big, secret=GLOBAL_APP_SECRET)
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0
    assert errors[0]["reason"] == "body_too_large"


@override_settings(WACLOUD={"APP_SECRET": GLOBAL_APP_SECRET, "WEBHOOK_MAX_BODY_BYTES": 1000})
def test_oversized_body_without_content_length_is_413(rf, errors):
    from wacloud_django.views.webhook import WhatsAppWebhookView

    body = dumps(text_message("wamid.A", "x" * 2000))
    request = rf.post(WEBHOOK_URL, data=body, content_type="application/json")
    del request.META["CONTENT_LENGTH"]  # as with chunked transfer encoding
    request.META["HTTP_X_HUB_SIGNATURE_256"] = sign(GLOBAL_APP_SECRET, body)
    assert WhatsAppWebhookView.as_view()(request).status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", b"not valid JSON"), (b"[1, 2]", b"expected a JSON object"), (b"\xff\xfe", b"not UTF-8")],
)
def test_malformed_signed_body_is_400_and_kept_as_failed(post_webhook, errors, body, reason):
    response = post_webhook(body, secret=GLOBAL_APP_SECRET)
    assert response.status_code == 400
    assert reason in response.content
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED and event.body_bytes == body
    assert reason.decode() in event.last_error
    assert errors[0]["reason"] == "malformed_body" and errors[0]["webhook_event"] == event
    # The same body again: same answer, still one row.
    assert post_webhook(body, secret=GLOBAL_APP_SECRET).status_code == 400
    assert WebhookEvent.objects.count() == 1


def test_malformed_unsigned_body_is_403_and_not_kept(post_webhook):
    assert post_webhook(b"{not json", secret="attacker").status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_json_not_shaped_like_a_webhook_is_stored_and_fails_in_processing(post_webhook, errors):
    response = post_webhook(
        {"object": "whatsapp_business_account", "entry": "nope"}, secret=GLOBAL_APP_SECRET
    )
    assert response.status_code == 200  # acknowledged: stored before the C++ parser looked at it
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert "entry" in event.last_error
    assert [error["reason"] for error in errors] == ["malformed_body"]


def test_duplicate_body_is_acknowledged_and_stored_once(post_webhook, account, django_assert_num_queries):
    body = dumps(text_message("wamid.A"))
    assert post_webhook(body).status_code == 200
    assert post_webhook(body).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().attempts == 1  # not processed again
    assert Message.objects.count() == 1


def test_only_get_and_post_are_allowed(client):
    assert client.put(WEBHOOK_URL).status_code == 405
