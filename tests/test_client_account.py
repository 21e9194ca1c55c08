"""Onboarding and number management, QR codes, commerce settings and product messages through
the client: against the sandbox (Meta's behaviour) and on the wire (a stub) where the exact
request matters. What Meta would refuse is refused before anything is sent."""

from __future__ import annotations

import pytest

import wacloud
from graph_stub import GraphStub, Reply, graph_error
from wacloud import GraphAPIError, InvalidParameter, PermissionDenied, RecipientError
from wacloud.numbers import BlockResult
from wacloud.sandbox import WebhookCollector

TOKEN = "EAAG-secret-token-321"
PHONE_ID = "106540352242922"
USER = "15550001111"


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


@pytest.fixture
def client(wa_sandbox):
    config = wa_sandbox.config
    return wacloud.Client(
        config.access_token, config.phone_number_id, waba_id=config.waba_id,
        base_url=wa_sandbox.base_url, retry_backoff=0.01,
    )  # fmt: skip


def stub_client(stub, **options):
    return wacloud.Client(TOKEN, PHONE_ID, waba_id="102290129340398", base_url=stub.base_url, **options)


# -- registration and verification ----------------------------------------------------------------
def test_onboarding_a_new_number_end_to_end(client, wa_sandbox):
    wa_sandbox.set_number(registered=False, verified=False)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    with pytest.raises(PermissionDenied) as refused:
        client.send_text(USER, "before registration")
    assert refused.value.code == 133010
    client.request_verification_code("VOICE", "en_GB")
    client.verify_code(wa_sandbox.number()["pending_code"])
    client.register_phone_number("482913")
    assert wa_sandbox.number()["pin"] == "482913"
    client.set_two_step_pin("135790")
    with pytest.raises(GraphAPIError) as mismatch:
        client.register_phone_number("482913")
    assert mismatch.value.code == 133005
    assert client.send_text(USER, "registered").message_id
    (number,) = client.list_phone_numbers()
    assert (number.id, number.status, number.code_verification_status) == (PHONE_ID, "LINKED", "VERIFIED")
    client.deregister_phone_number()
    assert client.list_phone_numbers()[0].status == "UNLINKED"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.register_phone_number("12345"), "pin"),
        (
            lambda c: c.register_phone_number("123456", data_localization_region="FR"),
            "data_localization_region",
        ),
        (lambda c: c.set_two_step_pin(123456), "pin"),
        (lambda c: c.request_verification_code("EMAIL"), "code_method"),
        (lambda c: c.request_verification_code("SMS", "english"), "language"),
        (lambda c: c.verify_code("12 34 56"), "code"),
        (lambda c: c.list_phone_numbers(limit=101), "limit"),
        (
            lambda c: c.subscribe_app(override_callback_uri="https://hooks.example/wa"),
            "override_callback_uri",
        ),
        (
            lambda c: c.subscribe_app(override_callback_uri="ftp://x", verify_token="t"),
            "override_callback_uri",
        ),
        (lambda c: c.block_users([]), "users"),
        (lambda c: c.create_qr_code("x" * 141), "prefilled_message"),
        (lambda c: c.create_qr_code("Hi", image_format="GIF"), "image_format"),
        (lambda c: c.get_qr_code("lowercase-code"), "code"),
        (lambda c: c.update_commerce_settings(), "is_cart_enabled"),
        (lambda c: c.update_commerce_settings(is_cart_enabled="yes"), "is_cart_enabled"),
    ],
)
def test_arguments_meta_would_refuse_are_refused_unsent(stub, call, field):
    with pytest.raises(InvalidParameter, match=f"^{field}"):
        call(stub_client(stub))
    assert stub.requests == []


def test_account_calls_need_the_waba_id(stub):
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    for call in (client.list_phone_numbers, client.list_subscribed_apps, client.subscribe_app):
        with pytest.raises(InvalidParameter, match=r"^waba_id"):
            call()


def test_register_on_the_wire(stub):
    stub.script("POST", f"/v25.0/{PHONE_ID}/register", Reply(200, {"success": True}))
    stub_client(stub).register_phone_number("123456", data_localization_region="DE")
    (request,) = stub.requests
    assert request.json() == {
        "messaging_product": "whatsapp",
        "pin": "123456",
        "data_localization_region": "DE",
    }


# -- webhook subscription -----------------------------------------------------------------------------
def test_subscribe_unsubscribe_and_an_override(client, wa_sandbox):
    (app,) = client.list_subscribed_apps()
    assert app.name == "wacloud sandbox webhooks" and app.override_callback_uri is None
    client.unsubscribe_app()
    assert client.list_subscribed_apps() == []
    with WebhookCollector(verify_token="s3cret") as override:
        client.subscribe_app(override_callback_uri=override.url, verify_token="s3cret")
        (app,) = client.list_subscribed_apps()
        assert app.override_callback_uri == override.url
        with pytest.raises(GraphAPIError) as failed:
            client.subscribe_app(override_callback_uri=override.url, verify_token="wrong")
        assert failed.value.code == 2200


# -- block list -------------------------------------------------------------------------------------------
def test_block_reports_who_was_blocked_and_who_was_not(client, wa_sandbox):
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "spam"})
    result = client.block_users(["+1 555-000-1111", "+1 555-000-2222"])
    assert isinstance(result, BlockResult) and not result.ok
    assert [(u.input, u.wa_id) for u in result.done] == [(USER, USER)]
    (failure,) = result.failed
    assert (failure.wa_id, failure.code) == ("15550002222", 131047)
    assert client.list_blocked_users() == [USER]
    with pytest.raises(RecipientError):
        client.send_text(USER, "blocked")
    unblocked = client.unblock_users(USER)
    assert unblocked.ok and [u.wa_id for u in unblocked.done] == [USER]
    assert client.list_blocked_users() == []


def test_unblock_sends_its_body_with_delete(stub):
    answer = {
        "messaging_product": "whatsapp",
        "block_users": {"removed_users": [{"input": USER, "wa_id": USER}]},
    }
    stub.script("DELETE", f"/v25.0/{PHONE_ID}/block_users", Reply(200, answer))
    assert stub_client(stub).unblock_users([USER]).ok
    (request,) = stub.requests
    assert request.method == "DELETE"
    assert request.json() == {"messaging_product": "whatsapp", "block_users": [{"user": USER}]}


def test_a_blocklist_error_without_lists_is_raised(stub):
    stub.script(
        "POST", f"/v25.0/{PHONE_ID}/block_users", Reply(400, graph_error(139101, "Blocklist limit reached"))
    )
    with pytest.raises(GraphAPIError) as failed:
        stub_client(stub).block_users([USER])
    assert failed.value.code == 139101 and failed.value.result is None


# -- QR codes, commerce, products ---------------------------------------------------------------------
def test_qr_codes_round_trip(client):
    qr = client.create_qr_code("Is my order ready?", image_format="SVG")
    assert qr.deep_link_url.endswith(qr.code) and qr.qr_image_url.endswith(".svg")
    assert client.update_qr_code(qr.code, "Where is my order?").prefilled_message == "Where is my order?"
    assert client.get_qr_code(qr.code, image_format="PNG").qr_image_url.endswith(".png")
    assert [q.code for q in client.list_qr_codes()] == [qr.code]
    client.delete_qr_code(qr.code)
    assert client.list_qr_codes() == []
    with pytest.raises(GraphAPIError):
        client.get_qr_code(qr.code)


def test_commerce_settings_and_product_messages(client, wa_sandbox):
    client.update_commerce_settings(is_cart_enabled=False)
    settings = client.get_commerce_settings()
    assert (settings.is_cart_enabled, settings.is_catalog_visible) == (False, True)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "menu?"})
    client.send_product(USER, "1234", "sku-1", body="Today's special")
    sections = [wacloud.ProductSection("Drinks", ["lemonade"]), ("Food", ["soup", "bread"])]
    client.send_product_list(USER, "Menu", "Pick what you like", "1234", sections, footer="Open 9-5")
    sent = {
        m["payload"]["interactive"]["type"]: m["payload"]
        for m in wa_sandbox.sent_messages(type="interactive")
    }
    assert sent["product"]["interactive"]["action"] == {"catalog_id": "1234", "product_retailer_id": "sku-1"}
    items = [s["product_items"] for s in sent["product_list"]["interactive"]["action"]["sections"]]
    assert items == [
        [{"product_retailer_id": "lemonade"}],
        [{"product_retailer_id": "soup"}, {"product_retailer_id": "bread"}],
    ]


def test_commerce_settings_go_in_the_query(stub):
    stub.script("POST", f"/v25.0/{PHONE_ID}/whatsapp_commerce_settings", Reply(200, {"success": True}))
    stub_client(stub).update_commerce_settings(is_catalog_visible=True)
    assert stub.requests[0].query == "is_catalog_visible=true"
