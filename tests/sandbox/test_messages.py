"""POST /{phone-number-id}/messages: every type, mark-as-read, and Meta's refusals."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from sandbox_support import USER, assert_valid_error

IMAGE_LINK = {"link": "https://example.com/cat.jpg", "caption": "a cat"}

ACCEPTED_PAYLOADS = {
    "text": {"type": "text", "text": {"body": "hello", "preview_url": False}},
    "image_link": {"type": "image", "image": IMAGE_LINK},
    "audio_link": {"type": "audio", "audio": {"link": "https://example.com/a.ogg"}},
    "video_link": {"type": "video", "video": {"link": "https://example.com/v.mp4", "caption": "v"}},
    "document_link": {
        "type": "document",
        "document": {"link": "https://example.com/d.pdf", "filename": "d.pdf"},
    },
    "sticker_link": {"type": "sticker", "sticker": {"link": "https://example.com/s.webp"}},
    "location": {"type": "location", "location": {"latitude": 37.48, "longitude": -122.15, "name": "HQ"}},
    "contacts": {
        "type": "contacts",
        "contacts": [
            {"name": {"formatted_name": "Ana B", "first_name": "Ana"}, "phones": [{"phone": "+1 555"}]}
        ],
    },
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.abc", "emoji": "👍"}},
    "template": {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}},
    "buttons": {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Choose"},
            "body": {"text": "Pick one"},
            "footer": {"text": "footer"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        },
    },
    "list": {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Menu"},
            "action": {
                "button": "Open",
                "sections": [
                    {"title": "A", "rows": [{"id": "a1", "title": "One", "description": "first"}]},
                    {"title": "B", "rows": [{"id": "b1", "title": "Two"}]},
                ],
            },
        },
    },
    "cta_url": {
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "body": {"text": "Visit"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Open", "url": "https://example.com"},
            },
        },
    },
    "flow": {
        "type": "interactive",
        "interactive": {
            "type": "flow",
            "body": {"text": "Sign up"},
            "action": {
                "name": "flow",
                "parameters": {
                    "flow_message_version": "3",
                    "flow_name": "sign_up",
                    "flow_cta": "Start",
                    "mode": "draft",
                },
            },
        },
    },
    "location_request": {
        "type": "interactive",
        "interactive": {
            "type": "location_request_message",
            "body": {"text": "Where?"},
            "action": {"name": "send_location"},
        },
    },
    "reply_context": {"type": "text", "text": {"body": "re"}, "context": {"message_id": "wamid.prev"}},
}


@pytest.mark.parametrize("name", sorted(ACCEPTED_PAYLOADS))
def test_every_message_type_is_accepted_with_metas_success_shape(graph, wa_sandbox, open_window, name):
    if name == "flow":  # the Flow a message opens must exist; a draft goes in draft mode
        graph.request("POST", f"/{graph.waba}/flows", {"name": "sign_up", "categories": ["SIGN_UP"]})
    reply = graph.send(to="+1 (555) 000-1111", **ACCEPTED_PAYLOADS[name])
    assert reply.status == 200, reply.body
    assert reply.body["messaging_product"] == "whatsapp"
    assert reply.body["contacts"] == [{"input": "+1 (555) 000-1111", "wa_id": USER}]
    (message,) = reply.body["messages"]
    assert message["id"].startswith("wamid.")
    # Meta returns message_status for template sends only (Messages API reference).
    assert message.get("message_status") == ("accepted" if name == "template" else None)
    stored = wa_sandbox.message(message["id"])
    assert stored["type"] == ACCEPTED_PAYLOADS[name]["type"]
    assert stored["payload"]["to"] == "+1 (555) 000-1111"


def test_media_by_uploaded_id_is_accepted(graph, wa_sandbox, open_window):
    media_id = wa_sandbox._call(
        lambda: wa_sandbox._core.store_media(b"\xff\xd8\xff" + b"x" * 10, "image/jpeg")
    )["id"]
    reply = graph.send(to=USER, type="image", image={"id": media_id})
    assert reply.status == 200, reply.body


def test_form_encoded_parameters_are_accepted_like_graph(graph, open_window):
    fields = {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": json.dumps({"body": "hi"})}
    reply = graph.request(
        "POST",
        f"/{graph.phone}/messages",
        data=urllib.parse.urlencode(fields).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert reply.status == 200, reply.body


def test_any_version_prefix_is_served(graph, open_window):
    reply = graph.request(
        "POST",
        f"/{graph.phone}/messages",
        {"messaging_product": "whatsapp", "to": USER, "text": {"body": "x"}},
        version="v17.0",
    )
    assert reply.status == 200  # type defaults to text, as in Graph


def test_mark_as_read_with_typing_indicator(graph, wa_sandbox):
    received = wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi")
    reply = graph.send(status="read", message_id=received["id"], typing_indicator={"type": "text"})
    assert reply.status == 200 and reply.body == {"success": True}
    assert wa_sandbox.inbound_messages()[0]["read"] is True


def test_mark_as_read_of_unknown_message_is_invalid_parameter(graph):
    assert_valid_error(graph.send(status="read", message_id="wamid.nope"), 100, 400)


REFUSED = [
    # (payload, code): missing values are 131008, bad values 131009, unknown params 100.
    ({"type": "text"}, 131008),
    ({"type": "text", "text": {}}, 131008),
    ({"type": "text", "text": {"body": "x" * 4097}}, 131009),
    ({"type": "image", "image": {}}, 131008),
    ({"type": "image", "image": {"id": "1", "link": "https://x.y/a.jpg"}}, 131009),
    ({"type": "image", "image": {"link": "ftp://x.y/a.jpg"}}, 131009),
    ({"type": "image", "image": {**IMAGE_LINK, "caption": "c" * 1025}}, 131009),
    ({"type": "image", "image": {"id": "999999"}}, 131009),
    ({"type": "location", "location": {"latitude": 1}}, 131008),
    ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, 131009),
    ({"type": "contacts", "contacts": [{"phones": []}]}, 131008),
    ({"type": "reaction", "reaction": {"message_id": "wamid.x"}}, 131008),
    (
        {
            "type": "interactive",
            "interactive": {"type": "button", "body": {"text": "b"}, "action": {"buttons": []}},
        },
        131009,
    ),
    (
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "b"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "t" * 21}}]},
            },
        },
        131009,
    ),
    ({"type": "interactive", "interactive": {"type": "carousel"}}, 131009),
    (
        {
            "type": "interactive",
            "interactive": {"type": "list", "body": {"text": "b"}, "action": {"button": "x"}},
        },
        131008,
    ),
    ({"type": "template", "template": {"name": "hello_world"}}, 131008),
    ({"type": "sms", "text": {"body": "x"}}, 100),
    ({"type": "text", "text": {"body": "x"}, "recipient_type": "broadcast"}, 100),
    ({"type": "text", "text": {"body": "x"}, "to": "not-a-number"}, 131009),
]


@pytest.mark.parametrize(("payload", "code"), REFUSED)
def test_invalid_requests_get_metas_error_codes(graph, open_window, payload, code):
    reply = graph.send(**{"to": USER, **payload})
    error = assert_valid_error(reply, code, 400)
    assert error["message"].startswith(f"(#{code})")


def test_missing_messaging_product_and_recipient(graph):
    reply = graph.request("POST", f"/{graph.phone}/messages", {"to": USER, "text": {"body": "x"}})
    assert "messaging_product" in assert_valid_error(reply, 100, 400)["message"]
    reply = graph.request("POST", f"/{graph.phone}/messages", {"messaging_product": "sms", "to": USER})
    assert_valid_error(reply, 100, 400)
    reply = graph.send(text={"body": "x"})
    assert "to" in assert_valid_error(reply, 100, 400)["message"]


def test_malformed_json_body_is_a_graph_error_not_a_500(graph):
    reply = graph.request("POST", f"/{graph.phone}/messages", data=b"{not json")
    assert_valid_error(reply, 100, 400)
    reply = graph.request("POST", f"/{graph.phone}/messages", data=b"[1, 2]")
    assert_valid_error(reply, 100, 400)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_bad_token_is_190(graph, token):
    reply = graph.request("POST", f"/{graph.phone}/messages", {"messaging_product": "whatsapp"}, token=token)
    error = assert_valid_error(reply, 190, 401)
    assert error["type"] == "OAuthException"
    assert "invalid_token" in reply.headers["WWW-Authenticate"]


def test_wrong_phone_number_id_is_100_subcode_33(graph):
    reply = graph.request("POST", "/999000/messages", {"messaging_product": "whatsapp", "to": USER})
    error = assert_valid_error(reply, 100, 400)
    assert error["error_subcode"] == 33 and error["type"] == "GraphMethodException"
    assert "'999000'" in error["message"]


def test_unknown_path_is_a_graph_error(graph):
    error = assert_valid_error(graph.request("GET", "/nothing/here/at/all"), 100, 400)
    assert error["error_subcode"] == 33


def test_free_form_outside_the_window_is_131047_but_templates_go(graph, wa_sandbox):
    error = assert_valid_error(graph.text(), 131047, 400)
    assert "24 hours" in error["error_data"]["details"]
    assert graph.send(to=USER, **ACCEPTED_PAYLOADS["template"]).status == 200
    wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hello")
    assert graph.text().status == 200
    wa_sandbox.advance_clock(24 * 3600 + 1)  # the window closes a day after the user's message
    assert_valid_error(graph.text(), 131047, 400)


@pytest.mark.wa_sandbox(window_errors="async")
def test_window_error_can_arrive_as_a_failed_status_webhook(graph, wa_sandbox):
    reply = graph.text()
    assert reply.status == 200
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    status = delivery["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["id"] == reply.body["messages"][0]["id"]
    assert status["errors"][0]["code"] == 131047


@pytest.mark.wa_sandbox(messages_per_second=5)
def test_throughput_over_the_limit_is_130429(graph):
    codes = [graph.send(to=f"1555000{i:04d}", **ACCEPTED_PAYLOADS["template"]).status for i in range(8)]
    assert codes[:5] == [200] * 5
    last = graph.send(to="15550009999", **ACCEPTED_PAYLOADS["template"])
    assert assert_valid_error(last, 130429, 400)["is_transient"] is True


@pytest.mark.wa_sandbox(pair_burst=2, pair_rate_per_second=0.01)
def test_pair_limit_to_one_recipient_is_131056(graph, open_window):
    assert graph.text().status == 200
    assert graph.text().status == 200
    assert_valid_error(graph.text(), 131056, 400)
    # Other recipients have their own budget.
    assert graph.send(to="15550002222", **ACCEPTED_PAYLOADS["template"]).status == 200


def test_undeliverable_recipient_fails_asynchronously_with_131026(graph, wa_sandbox):
    wa_sandbox.mark_undeliverable("15550003333")
    reply = graph.send(to="15550003333", **ACCEPTED_PAYLOADS["template"])
    assert reply.status == 200
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    status = delivery["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["errors"][0]["code"] == 131026 and status["errors"][0]["title"] == "Message undeliverable"
    assert wa_sandbox.message(reply.body["messages"][0]["id"])["status"] == "failed"
