"""Webhooks: signatures, the exact shapes of Meta's bodies, status progression,
inbound messages of every type, and retries."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sandbox_support import (
    HAVE_WEBHOOK_PARSER,
    USER,
    check_signature,
    current_shape,
    fixture,
    value_of,
)

TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def assert_parses(body: bytes) -> None:
    if HAVE_WEBHOOK_PARSER:
        from wacloud.webhook import parse

        assert parse(body), body


def test_statuses_sent_delivered_read_signed_and_shaped_like_meta(graph, wa_sandbox):
    wamid = graph.send(to=USER, **TEMPLATE).body["messages"][0]["id"]
    received = wa_sandbox.collector.wait(3)
    statuses = [value_of(r.payload)["statuses"][0] for r in received]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert {s["id"] for s in statuses} == {wamid}
    for item, name in zip(received, ("sent", "delivered", "read"), strict=True):
        check_signature(item, wa_sandbox.config.app_secret)
        assert item.headers["Content-Type"] == "application/json"
        assert current_shape(item.payload) == current_shape(fixture(f"message_status__{name}.json"))
        assert_parses(item.body)
    assert statuses[0]["pricing"] == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "utility",
        "type": "regular",
    }
    assert statuses[0]["conversation"]["origin"] == {"type": "utility"}
    assert wa_sandbox.message(wamid)["status"] == "read"
    (conversation,) = wa_sandbox.conversations()
    assert conversation["id"] == statuses[0]["conversation"]["id"]
    assert int(statuses[0]["conversation"]["expiration_timestamp"]) == int(conversation["expiration"])


def test_failed_status_shape(graph, wa_sandbox):
    wa_sandbox.mark_undeliverable(USER)
    graph.send(to=USER, **TEMPLATE)
    (received,) = wa_sandbox.collector.wait(1)
    value = value_of(received.payload)
    assert "contacts" not in value  # Meta sends failed statuses without contacts
    expected = fixture("message_status__failed.json")
    del value_of(expected)["contacts"]
    assert current_shape(received.payload) == current_shape(expected)
    check_signature(received, wa_sandbox.config.app_secret)
    assert_parses(received.body)


INBOUND = [
    # (inject request, fixture with the same optional fields)
    ({"type": "text", "text": "Body Text"}, "message__text.json"),
    ({"type": "text", "text": "replied", "reply_to": "wamid.prev"}, "message__reply.json"),
    ({"type": "text", "text": "fwd", "forwarded": True}, "message__forwarded.json"),
    ({"type": "image"}, "message__image.json"),
    ({"type": "audio", "voice": True, "mime_type": "audio/ogg; codecs=opus"}, "message__voice.json"),
    ({"type": "video", "caption": "caption", "forwarded": True}, "message__video.json"),
    ({"type": "document", "caption": "c", "filename": "f.pdf", "forwarded": True}, "message__document.json"),
    ({"type": "sticker", "animated": True}, "message__animated_sticker.json"),
    (
        {"type": "location", "location": {"latitude": 12.2, "longitude": 43.9}, "forwarded": True},
        "message__current_location.json",
    ),
    (
        {
            "type": "location",
            "forwarded": True,
            "location": {
                "latitude": 37.4,
                "longitude": -122.2,
                "name": "HQ",
                "address": "1 Way",
                "url": "https://m.x",
            },
        },
        "message__chosen_location.json",
    ),
    (
        {
            "type": "contacts",
            "contacts": fixture("message__contacts.json")["entry"][0]["changes"][0]["value"]["messages"][0][
                "contacts"
            ],
        },
        "message__contacts.json",
    ),
    ({"type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "😮"}}, "message__reaction.json"),
    (
        {"type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": ""}},
        "message__unreaction_empty.json",
    ),
    (
        {"type": "button", "button": {"payload": "p", "text": "t"}, "reply_to": "wamid.t"},
        "callback_button__quick_reply.json",
    ),
    (
        {"type": "interactive", "button_reply": {"id": "a", "title": "A"}, "reply_to": "wamid.b"},
        "callback_button__button.json",
    ),
    (
        {
            "type": "interactive",
            "list_reply": {"id": "a", "title": "A", "description": "d"},
            "reply_to": "wamid.l",
        },
        "callback_selection__description.json",
    ),
    (
        {
            "type": "interactive",
            "nfm_reply": {"response_json": "{}", "body": "Sent", "name": "flow"},
            "reply_to": "w",
        },
        "flow_completion__completion.json",
    ),
]


@pytest.mark.parametrize(("request_", "fixture_name"), INBOUND, ids=[name for _, name in INBOUND])
def test_inbound_webhooks_have_the_fixture_shapes(wa_sandbox, request_, fixture_name):
    message = wa_sandbox.inject_inbound(**{"from": USER, "name": "Ana", **request_})
    (received,) = wa_sandbox.collector.wait(1)
    check_signature(received, wa_sandbox.config.app_secret)
    assert current_shape(received.payload) == current_shape(fixture(fixture_name))
    assert value_of(received.payload)["messages"][0] == message
    assert value_of(received.payload)["contacts"][0]["profile"] == {"name": "Ana"}
    assert_parses(received.body)


@pytest.mark.parametrize("kind", ["image", "audio", "video", "document", "sticker"])
def test_inbound_media_is_downloadable_and_matches_its_sha256(graph, wa_sandbox, kind):
    data = b"%PDF-1.4 real bytes " + kind.encode()
    request = {"from": USER, "type": kind}
    if kind == "document":
        request["data"] = base64.b64encode(data).decode()
    message = wa_sandbox.inject_inbound(**request)
    media = message[kind]
    info = graph.request("GET", f"/{media['id']}").body
    download = graph.request("GET", info["url"].removeprefix(wa_sandbox.base_url))
    assert download.status == 200
    assert base64.b64encode(hashlib.sha256(download.body).digest()).decode() == media["sha256"]
    assert hashlib.sha256(download.body).hexdigest() == info["sha256"]
    if kind == "document":
        assert download.body == data


@pytest.mark.wa_sandbox(inbound_media_url=True)
def test_inbound_media_can_carry_its_url(wa_sandbox):
    wa_sandbox.inject_inbound(**{"from": USER, "type": "image"})
    (received,) = wa_sandbox.collector.wait(1)
    assert current_shape(received.payload) == current_shape(fixture("message__media_with_url.json"))


def test_inbound_opens_the_window_and_answers_in_service_conversation(graph, wa_sandbox):
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    assert graph.text().status == 200
    sent = wa_sandbox.wait_for_webhooks(kind="status.sent")
    status = value_of(sent[0]["payload"])["statuses"][0]
    assert status["pricing"]["category"] == "service" and status["pricing"]["billable"] is False


def test_template_status_webhooks_have_the_fixture_shapes(graph, wa_sandbox):
    body = {
        "name": "order",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "x"}],
    }
    graph.request("POST", f"/{graph.waba}/message_templates", body)
    (approved,) = wa_sandbox.collector.wait(1)
    assert current_shape(approved.payload) == current_shape(fixture("template_status_update__approved.json"))
    wa_sandbox.set_template_status(
        "order", "REJECTED", "INVALID_FORMAT", rejection_info={"reason": "r", "recommendation": "s"}
    )
    rejected = wa_sandbox.collector.wait(2)[1]
    assert current_shape(rejected.payload) == current_shape(fixture("template_status_update__rejected.json"))
    for item in (approved, rejected):
        check_signature(item, wa_sandbox.config.app_secret)
        assert_parses(item.body)


def test_receiver_failures_are_retried_with_backoff(graph, wa_sandbox):
    wa_sandbox.collector.respond_with(500, 503)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message", timeout=5)
    assert delivery["attempts"] == 3 and delivery["responses"] == [500, 503, 200]
    bodies = {r.body for r in wa_sandbox.collector.received}
    assert len(wa_sandbox.collector.received) == 3 and len(bodies) == 1  # the same signed body each time


@pytest.mark.wa_sandbox(webhook_max_attempts=2)
def test_retries_give_up_after_the_last_attempt(wa_sandbox):
    wa_sandbox.collector.respond_with(500, 500, 500)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message", status="failed")
    assert delivery["attempts"] == 2 and delivery["responses"] == [500, 500]


@pytest.mark.wa_sandbox(webhook_url="http://127.0.0.1:9/unreachable", webhook_max_attempts=2)
def test_unreachable_receiver_is_recorded_as_failed(wa_sandbox):
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message", status="failed")
    assert all(isinstance(r, str) for r in delivery["responses"])


def test_inbound_validation_errors_are_meta_shaped(graph):
    for bad in (
        {"type": "text"},
        {"from": USER, "type": "text"},
        {"from": USER, "type": "poll"},
        {"from": USER, "type": "image", "mime_type": "image/gif"},
        {"from": "abc", "text": "x"},
    ):
        reply = graph.control("POST", "/inbound", bad)
        assert reply.status == 400 and reply.error["code"] in (100, 131008, 131009), (bad, reply.body)
