"""Walks of the onboarding and number management routes for test_spec_conformance.py: each
calls one operation the way a client would (successes and refusals), so that every answer is
checked against Meta's spec there."""

from __future__ import annotations

from typing import Any

from sandbox_support import USER, Graph, Reply

from wacloud.sandbox import conformance as c


def _phone(graph: Graph, edge: str) -> str:
    return f"/{graph.phone}/{edge}"


def walk_register(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = _phone(graph, "register")
    return [
        graph.request("POST", path, {"messaging_product": "whatsapp", "pin": "123456"}),
        graph.request("POST", path, {"messaging_product": "whatsapp", "pin": "12"}),
        graph.request("POST", path, {"messaging_product": "whatsapp", "pin": "654321"}),  # 133005
    ]


def walk_deregister(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    return [graph.request("POST", _phone(graph, "deregister")), graph.request("POST", "/999/deregister")]


def walk_request_code(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = _phone(graph, "request_code")
    return [
        graph.request("POST", path, {"code_method": "SMS", "language": "en_US"}),
        graph.request("POST", path, {"code_method": "EMAIL", "language": "en_US"}),
        graph.request("POST", path, {"code_method": "VOICE", "language": "english"}),
    ]


def walk_verify_code(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    graph.request("POST", _phone(graph, "request_code"), {"code_method": "SMS", "language": "en_US"})
    code = graph.control("GET", "/number").body["pending_code"]
    path = _phone(graph, "verify_code")
    wrong = "000000" if code != "000000" else "111111"
    return [graph.request("POST", path, {"code": wrong}), graph.request("POST", path, {"code": code})]


def walk_set_pin(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    return [
        graph.request("POST", f"/{graph.phone}", {"pin": "246810"}),
        graph.request("POST", f"/{graph.phone}", {"pin": "abc"}),
    ]


def walk_list_phone_numbers(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = f"/{graph.waba}/phone_numbers"
    return [
        graph.request("GET", path),
        graph.request("GET", path + "?limit=1"),
        graph.request("GET", path + "?limit=0"),
    ]


def walk_list_subscribed_apps(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = f"/{graph.waba}/subscribed_apps"
    return [graph.request("GET", path), graph.request("GET", f"/{graph.phone}/subscribed_apps")]


def walk_subscribe_app(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = f"/{graph.waba}/subscribed_apps"
    return [graph.request("POST", path), graph.request("POST", path, {"override_callback_uri": "http://x"})]


def walk_unsubscribe_app(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    return [
        graph.request("DELETE", f"/{graph.waba}/subscribed_apps"),
        graph.request("DELETE", "/999/subscribed_apps"),
    ]


def _block(users: list[str]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "block_users": [{"user": u} for u in users]}


def walk_block(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    path = _phone(graph, "block_users")
    return [
        graph.request("POST", path, _block([USER])),
        graph.request("POST", path, _block([USER, "15550009999"])),  # 139100: one of two failed
        graph.request("POST", path, {"messaging_product": "whatsapp", "block_users": []}),
    ]


def walk_unblock(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = _phone(graph, "block_users")
    return [graph.request("DELETE", path, _block([USER])), graph.request("DELETE", path, {"block_users": []})]


def walk_list_blocked(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    graph.request("POST", _phone(graph, "block_users"), _block([USER]))
    path = _phone(graph, "block_users")
    return [graph.request("GET", path), graph.request("GET", path + "?limit=0")]


def _qr(graph: Graph) -> str:
    reply = graph.request("POST", _phone(graph, "message_qrdls"), {"prefilled_message": "Hi!"})
    assert reply.status == 200, reply.body
    return reply.body["code"]


def walk_save_qr_code(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = _phone(graph, "message_qrdls")
    code = _qr(graph)
    return [
        graph.request("POST", path, {"prefilled_message": "Hello", "generate_qr_image": "SVG"}),
        graph.request("POST", path, {"code": code, "prefilled_message": "Changed"}),
        graph.request("POST", path, {"prefilled_message": "x" * 141}),
    ]


def walk_list_qr_codes(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    _qr(graph)
    path = _phone(graph, "message_qrdls")
    every = "code,prefilled_message,deep_link_url,qr_image_url.format(SVG)"
    return [
        graph.request("GET", path),
        graph.request("GET", f"{path}?fields={every}"),
        graph.request("GET", path + "?limit=26"),
    ]


def walk_get_qr_code(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    code = _qr(graph)
    path = _phone(graph, "message_qrdls")
    return [
        graph.request(
            "GET", f"{path}/{code}?fields=code,prefilled_message,deep_link_url,qr_image_url.format(PNG)"
        ),
        graph.request("GET", f"{path}/AAAAAAAAAAAAAA"),
    ]


def walk_delete_qr_code(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    code = _qr(graph)
    path = f"{_phone(graph, 'message_qrdls')}/{code}"
    return [graph.request("DELETE", path), graph.request("DELETE", path)]


def walk_get_commerce(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    return [
        graph.request("GET", _phone(graph, "whatsapp_commerce_settings")),
        graph.request("GET", "/999/whatsapp_commerce_settings"),
    ]


def walk_set_commerce(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = _phone(graph, "whatsapp_commerce_settings")
    return [
        graph.request("POST", path + "?is_cart_enabled=false&is_catalog_visible=true"),
        graph.request("POST", path + "?is_cart_enabled=maybe"),
    ]


ACCOUNT_WALKS = {
    c.REGISTER: walk_register,
    c.DEREGISTER: walk_deregister,
    c.REQUEST_CODE: walk_request_code,
    c.VERIFY_CODE: walk_verify_code,
    c.SET_PIN: walk_set_pin,
    c.LIST_PHONE_NUMBERS: walk_list_phone_numbers,
    c.LIST_SUBSCRIBED_APPS: walk_list_subscribed_apps,
    c.SUBSCRIBE_APP: walk_subscribe_app,
    c.UNSUBSCRIBE_APP: walk_unsubscribe_app,
    c.LIST_BLOCKED: walk_list_blocked,
    c.BLOCK_USERS: walk_block,
    c.UNBLOCK_USERS: walk_unblock,
    c.LIST_QR_CODES: walk_list_qr_codes,
    c.SAVE_QR_CODE: walk_save_qr_code,
    c.GET_QR_CODE: walk_get_qr_code,
    c.DELETE_QR_CODE: walk_delete_qr_code,
    c.GET_COMMERCE: walk_get_commerce,
    c.SET_COMMERCE: walk_set_commerce,
}
