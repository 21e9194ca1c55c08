"""Onboarding and number management as Meta plays them: registration, verification, the PIN,
the webhook subscription (and its override URL), the block list, QR codes, commerce settings
and product messages. Every answer's shape is checked against the spec in
test_spec_conformance.py; this file checks the behaviour."""

from __future__ import annotations

import pytest
from sandbox_support import USER, Graph, assert_valid_error

from wacloud.sandbox import WebhookCollector
from wacloud.sandbox.state import State

OTHER = "15550002222"


def post(graph: Graph, edge: str, body: dict | None = None):
    return graph.request("POST", f"/{graph.phone}/{edge}", body)


def register(graph: Graph, pin: str):
    return post(graph, "register", {"messaging_product": "whatsapp", "pin": pin})


# -- registration and verification -------------------------------------------------------------
def test_a_new_number_is_verified_then_registered_and_only_then_sends(graph, wa_sandbox, open_window):
    wa_sandbox.set_number(registered=False, verified=False)
    refused = assert_valid_error(graph.text(), 133010, 400)
    assert refused["message"] == "(#133010) Account not registered"
    assert_valid_error(register(graph, "123456"), 133006, 400)  # not verified yet
    assert post(graph, "request_code", {"code_method": "SMS", "language": "en_US"}).status == 200
    code = wa_sandbox.number()["pending_code"]
    assert len(code) == 6 and code.isdigit()
    wrong = "000000" if code != "000000" else "111111"
    assert_valid_error(post(graph, "verify_code", {"code": wrong}), 136025, 400)
    assert post(graph, "verify_code", {"code": code}).status == 200
    node = graph.request("GET", f"/{graph.phone}?fields=code_verification_status,status").body
    assert node["code_verification_status"] == "VERIFIED" and node["status"] == "DISCONNECTED"
    assert register(graph, "123456").status == 200
    assert wa_sandbox.number()["pin"] == "123456"  # registering set the two-step PIN
    assert graph.request("GET", f"/{graph.phone}?fields=status").body["status"] == "CONNECTED"
    assert graph.text().status == 200


def test_register_needs_the_pin_once_one_is_set(graph, wa_sandbox):
    assert graph.request("POST", f"/{graph.phone}", {"pin": "246810"}).status == 200
    error = assert_valid_error(register(graph, "123456"), 133005, 400)
    assert error["message"] == "(#133005) Two step verification PIN Mismatch"
    assert register(graph, "246810").status == 200


def test_a_pin_is_six_digits(graph):
    for pin in ("12345", "1234567", "abcdef", 123456):
        assert_valid_error(graph.request("POST", f"/{graph.phone}", {"pin": pin}), 100, 400)
    assert_valid_error(graph.request("POST", f"/{graph.phone}", {}), 100, 400)


def test_ten_registrations_in_72_hours_then_133016_until_the_window_moves(graph, wa_sandbox):
    for _ in range(5):
        assert post(graph, "deregister").status == 200
        assert register(graph, "123456").status == 200
    assert_valid_error(post(graph, "deregister"), 133016, 400)
    graph.control("POST", "/clock", {"advance_seconds": 72 * 3600})
    assert post(graph, "deregister").status == 200
    assert wa_sandbox.number()["registered"] is False


def test_request_code_takes_sms_or_voice_and_a_language(graph):
    assert_valid_error(post(graph, "request_code", {"code_method": "FAX", "language": "en_US"}), 100, 400)
    assert_valid_error(post(graph, "request_code", {"code_method": "SMS"}), 100, 400)
    assert_valid_error(post(graph, "request_code", {"code_method": "SMS", "language": "english"}), 100, 400)
    assert post(graph, "request_code", {"code_method": "VOICE", "language": "pt_BR"}).status == 200


# -- webhook subscription ---------------------------------------------------------------------------
def test_unsubscribing_stops_the_webhooks_and_subscribing_starts_them_again(graph, wa_sandbox):
    apps = graph.request("GET", f"/{graph.waba}/subscribed_apps").body["data"]
    assert [a["whatsapp_business_api_data"]["name"] for a in apps] == ["wacloud sandbox webhooks"]
    assert graph.request("DELETE", f"/{graph.waba}/subscribed_apps").status == 200
    assert graph.request("GET", f"/{graph.waba}/subscribed_apps").body["data"] == []
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "unheard"})
    assert wa_sandbox.webhooks() == []
    assert graph.request("POST", f"/{graph.waba}/subscribed_apps").status == 200
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "heard"})
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message")
    assert delivery["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "heard"


def test_an_override_callback_uri_is_verified_then_receives_the_webhooks(graph, wa_sandbox):
    with WebhookCollector(verify_token="override-secret") as override:
        body = {"override_callback_uri": override.url, "verify_token": "wrong"}
        failed = assert_valid_error(graph.request("POST", f"/{graph.waba}/subscribed_apps", body), 2200, 400)
        assert "Callback verification failed" in failed["message"]
        body["verify_token"] = "override-secret"
        assert graph.request("POST", f"/{graph.waba}/subscribed_apps", body).status == 200
        (app,) = graph.request("GET", f"/{graph.waba}/subscribed_apps").body["data"]
        assert app["override_callback_uri"] == override.url
        wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "to the override"})
        (received,) = override.wait(1)
        assert (
            received.payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
            == "to the override"
        )
    assert wa_sandbox.collector.received == []


def test_an_override_needs_its_verify_token_and_an_https_url(graph):
    path = f"/{graph.waba}/subscribed_apps"
    assert_valid_error(
        graph.request("POST", path, {"override_callback_uri": "https://example.com/hook"}), 100, 400
    )
    plain = {"override_callback_uri": "http://example.com/hook", "verify_token": "t"}
    assert_valid_error(graph.request("POST", path, plain), 100, 400)


# -- block list --------------------------------------------------------------------------------------
def block(graph: Graph, method: str, *users: str):
    body = {"messaging_product": "whatsapp", "block_users": [{"user": u} for u in users]}
    return graph.request(method, f"/{graph.phone}/block_users", body)


def test_only_users_who_wrote_in_24_hours_can_be_blocked_and_then_get_nothing(graph, wa_sandbox, open_window):
    reply = block(graph, "POST", "+1 555-000-1111", OTHER, wa_sandbox.config.display_phone_number)
    error = assert_valid_error(reply, 139100, 400)
    assert error["message"] == "(#139100) Failed to block/unblock users"
    lists = reply.body["block_users"]
    assert lists["added_users"] == [{"input": "+1 555-000-1111", "wa_id": USER}]
    assert {u["wa_id"]: u["errors"][0]["code"] for u in lists["failed_users"]} == {
        OTHER: 131047,
        wa_sandbox.config.display_phone_number: 131021,
    }
    assert_valid_error(graph.text(), 131026, 400)  # a blocked user is sent nothing
    blocked = graph.request("GET", f"/{graph.phone}/block_users").body["data"]
    assert blocked == [{"messaging_product": "whatsapp", "wa_id": USER}]
    assert block(graph, "DELETE", USER).body["block_users"] == {
        "removed_users": [{"input": USER, "wa_id": USER}]
    }
    assert graph.text().status == 200


def test_a_blocked_user_cannot_reach_the_business(graph, wa_sandbox, open_window):
    wa_sandbox.wait_for_webhooks(kind="message")
    assert block(graph, "POST", USER).status == 200
    unheard = wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "let me in"})
    assert unheard["blocked"] is True
    assert len(wa_sandbox.webhooks(kind="message")) == 1  # only the message from before the block
    assert [m["message"]["text"]["body"] for m in wa_sandbox.inbound_messages()] == ["hi"]


def test_the_window_for_blocking_is_24_hours(graph, wa_sandbox, open_window):
    graph.control("POST", "/clock", {"advance_seconds": 24 * 3600 + 1})
    assert block(graph, "POST", USER).status == 400
    assert block(graph, "DELETE", USER).status == 200  # unblocking has no such rule


def test_a_request_blocks_1_to_1000_users(graph):
    assert_valid_error(block(graph, "POST"), 100, 400)
    assert_valid_error(block(graph, "POST", *[f"1555{n:07d}" for n in range(1001)]), 100, 400)


def test_the_block_list_pages(graph, wa_sandbox):
    users = [f"1555001{n:04d}" for n in range(5)]
    for user in users:
        wa_sandbox.inject_inbound(**{"from": user, "type": "text", "text": "hi"})
    assert block(graph, "POST", *users).status == 200
    first = graph.request("GET", f"/{graph.phone}/block_users?limit=3").body
    assert [u["wa_id"] for u in first["data"]] == users[:3]
    after = first["paging"]["cursors"]["after"]
    rest = graph.request("GET", f"/{graph.phone}/block_users?limit=3&after={after}").body
    assert [u["wa_id"] for u in rest["data"]] == users[3:] and "next" not in rest["paging"]


# -- QR codes and commerce -----------------------------------------------------------------------------
def test_qr_codes_are_created_read_changed_listed_and_deleted(graph):
    path = f"/{graph.phone}/message_qrdls"
    created = graph.request(
        "POST", path, {"prefilled_message": "Is my order ready?", "generate_qr_image": "SVG"}
    )
    code = created.body["code"]
    assert created.body["deep_link_url"] == f"https://wa.me/message/{code}"
    image = graph.request("GET", "/" + created.body["qr_image_url"].split("/", 3)[3])
    assert image.status == 200 and image.body.startswith(b"<svg")
    changed = graph.request("POST", path, {"code": code, "prefilled_message": "Where is my order?"})
    assert changed.body["code"] == code and changed.body["prefilled_message"] == "Where is my order?"
    one = graph.request("GET", f"{path}/{code}?fields=prefilled_message,qr_image_url.format(PNG)").body
    assert one["prefilled_message"] == "Where is my order?" and one["qr_image_url"].endswith(".png")
    assert [q["code"] for q in graph.request("GET", path).body["data"]] == [code]
    assert graph.request("DELETE", f"{path}/{code}").status == 200
    assert graph.request("GET", f"{path}/{code}").status == 400
    assert graph.request("GET", path).body["data"] == []
    unknown = {"code": "AAAAAAAAAAAAAA", "prefilled_message": "x"}
    assert_valid_error(graph.request("POST", path, unknown), 100, 400)


def test_commerce_settings_change_one_at_a_time(graph):
    path = f"/{graph.phone}/whatsapp_commerce_settings"
    assert graph.request("POST", path + "?is_catalog_visible=false").status == 200
    (settings,) = graph.request("GET", path).body["data"]
    assert settings["is_catalog_visible"] is False and settings["is_cart_enabled"] is True
    assert_valid_error(graph.request("POST", path), 100, 400)


# -- product messages ------------------------------------------------------------------------------------
def product_list(sections, header=True):
    interactive = {
        "type": "product_list",
        "body": {"text": "Our picks"},
        "action": {"catalog_id": "1234", "sections": sections},
    }
    if header:
        interactive["header"] = {"type": "text", "text": "Menu"}
    return {"to": USER, "type": "interactive", "interactive": interactive}


def items(*ids):
    return [{"product_retailer_id": i} for i in ids]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (product_list([{"title": "A", "product_items": items("a")}], header=False), "header"),
        (product_list([{"product_items": items("a")}, {"product_items": items("b")}]), "title"),
        (product_list([{"title": "A", "product_items": items(*map(str, range(31)))}]), "30"),
        (product_list([{"title": "A", "product_items": []}]), "product_items"),
    ],
)
def test_a_product_list_follows_metas_rules(graph, open_window, payload, words):
    reply = graph.send(**payload)
    assert reply.status == 400 and words in str(reply.body["error"]), reply.body


def test_a_product_list_within_the_rules_is_sent(graph, open_window):
    sections = [{"title": "A", "product_items": items("a", "b")}, {"title": "B", "product_items": items("c")}]
    assert graph.send(**product_list(sections)).status == 200


def test_the_account_side_survives_a_restart(tmp_path):
    state = State()
    state.account["blocked"]["15550001111"] = 1.0
    state.account["pin"] = "123456"
    state.save(tmp_path / "state.json")
    restored = State()
    assert restored.load(tmp_path / "state.json")
    assert restored.account["blocked"] == {"15550001111": 1.0} and restored.account["pin"] == "123456"
