"""Inbound orders, system notices, unsupported messages, ad referrals and Flow
completions: each webhook is signed, has the key structure of Meta's sample,
parses into typed fields, and a malformed request gets a 400 naming the problem."""

from __future__ import annotations

import json

import pytest
from sandbox_support import USER, check_signature, current_shape, fixture, value_of

from wacloud import webhook
from wacloud.events import InboundMessage, StatusUpdate

NEW_NUMBER = "15550002222"
TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
ORDER = {
    "catalog_id": "354160437058781",
    "text": "",
    "product_items": [
        {"product_retailer_id": "HAMBURGER", "quantity": 3, "item_price": 30, "currency": "ILS"},
        {"product_retailer_id": "SODA", "quantity": 2, "item_price": 10, "currency": "ILS"},
    ],
}
REFERRAL = {
    key: key.upper()
    for key in (
        "source_url", "source_id", "source_type", "headline", "body", "media_type",
        "image_url", "video_url", "thumbnail_url", "ctwa_clid",
    )
}  # fmt: skip
FLOW_ANSWERS = {"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "cs_rating": "0", "comment_text": "ok"}
# Meta's error for a message type it cannot show (message__unsupported.json): code, title, message, details.
UNSUPPORTED = (
    131051,
    "Message type unknown",
    "Message type unknown",
    "Message type is currently not supported.",
)


def check_order(event: InboundMessage) -> None:
    assert event.order == ORDER


def check_number_change(event: InboundMessage) -> None:
    assert event.system == {
        "body": f"User Ana changed from {USER} to {NEW_NUMBER}",
        "wa_id": NEW_NUMBER,
        "type": "user_changed_number",
    }
    assert event.contact is None  # Meta sends no contacts block with a number change


def check_identity_change(event: InboundMessage) -> None:
    assert event.system == {"body": "User identity changed", "type": "customer_identity_changed"}
    assert event.raw["identity"]["acknowledged"] is True


def check_unsupported(event: InboundMessage) -> None:
    assert [(e.code, e.title, e.message, e.details) for e in event.errors] == [UNSUPPORTED]


def check_unsupported_pool(event: InboundMessage) -> None:
    check_unsupported(event)
    assert event.raw["unsupported"] == {"type": "pool"}


def check_referral(event: InboundMessage) -> None:
    assert event.type == "text" and event.text == "BODY" and event.referral == REFERRAL


def check_flow(event: InboundMessage) -> None:
    reply = event.interactive
    assert reply is not None and reply.type == "nfm_reply"
    assert json.loads(reply.response_json or "") == FLOW_ANSWERS
    assert (reply.body, reply.name) == ("Sent", "flow")
    assert event.context is not None and event.context.message_id == "wamid.flow"


CASES = [
    # (inject request, fixture, type, check of the parsed event)
    ({"type": "order", "order": ORDER}, "message__order.json", "order", check_order),
    (
        {"type": "system", "system": {"type": "user_changed_number", "new_wa_id": f"+{NEW_NUMBER}"}},
        "system__phone_number_change.json",
        "system",
        check_number_change,
    ),
    (
        {"type": "system", "system": {"type": "customer_identity_changed"}},
        "system__identity_change.json",
        "system",
        check_identity_change,
    ),
    ({"type": "unsupported"}, "message__unsupported.json", "unsupported", check_unsupported),
    (
        {"type": "unsupported", "unsupported_type": "pool"},
        "message__unsupported_with_type.json",
        "unsupported",
        check_unsupported_pool,
    ),
    (
        {"type": "text", "text": "BODY", "referral": REFERRAL},
        "message__referral.json",
        "text",
        check_referral,
    ),
    (
        {"type": "interactive", "nfm_reply": {"response_json": FLOW_ANSWERS}, "reply_to": "wamid.flow"},
        "flow_completion__completion.json",
        "interactive",
        check_flow,
    ),
    (
        {
            "type": "interactive",
            "interactive": {
                "type": "nfm_reply",
                "nfm_reply": {"response_json": json.dumps(FLOW_ANSWERS), "body": "Sent", "name": "flow"},
            },
            "reply_to": "wamid.flow",
        },
        "flow_completion__completion.json",
        "interactive",
        check_flow,
    ),
]


@pytest.mark.parametrize(
    ("request_", "fixture_name", "kind", "check"), CASES, ids=[f"{i}-{c[1]}" for i, c in enumerate(CASES)]
)
def test_webhook_is_signed_shaped_like_the_fixture_and_parses(
    wa_sandbox, request_, fixture_name, kind, check
):
    message = wa_sandbox.inject_inbound(**{"from": USER, "name": "Ana", **request_})
    (received,) = wa_sandbox.collector.wait(1)
    check_signature(received, wa_sandbox.config.app_secret)
    expected = fixture(fixture_name)
    value = value_of(received.payload)
    assert value["messages"] == [message]
    # The samples predate business-scoped user ids (``user_id``, ``from_user_id``), which
    # test_meta_pricing_statuses.py checks by value; the rest must match exactly.
    assert current_shape(received.payload) == current_shape(expected)
    (event,) = webhook.parse(received.body)
    assert isinstance(event, InboundMessage)
    assert event.type == kind and event.from_wa_id == USER and event.message_id == message["id"]
    check(event)


def test_number_change_moves_the_user_and_retires_the_old_number(graph, wa_sandbox):
    wa_sandbox.inject_inbound(**{"from": USER, "name": "Ana", "type": "text", "text": "hi"})
    # No name in the request: the notice names the user from what the sandbox knows.
    notice = wa_sandbox.inject_inbound(
        **{"from": USER, "type": "system"}, system={"type": "user_changed_number", "new_wa_id": NEW_NUMBER}
    )
    assert notice["system"]["body"] == f"User Ana changed from {USER} to {NEW_NUMBER}"
    wa_sandbox.collector.wait(2)

    # The open window went with the user: free-form to the new number works, to the old one not.
    assert graph.text(to=NEW_NUMBER).status == 200
    assert graph.text(to=USER).error["code"] == 131047
    # A template to the old number is accepted, then fails as sends to a non-WhatsApp number do.
    wamid = graph.send(to=USER, **TEMPLATE).body["messages"][0]["id"]
    (failed,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    (status,) = webhook.parse(failed["body"])
    assert isinstance(status, StatusUpdate) and status.message_id == wamid
    assert [e.code for e in status.errors] == [131026]
    assert wa_sandbox.message(wamid)["status"] == "failed"
    assert USER in graph.control("GET", "/recipients").body["undeliverable"]

    # Messages from the new number carry the user's name.
    wa_sandbox.inject_inbound(**{"from": NEW_NUMBER, "type": "text", "text": "new phone"})
    later = wa_sandbox.wait_for_webhooks(count=2, kind="message.text")[-1]
    contact = value_of(later["payload"])["contacts"][0]
    assert (contact["wa_id"], contact["profile"]) == (NEW_NUMBER, {"name": "Ana"})


def test_system_notices_open_no_window(graph, wa_sandbox):
    wa_sandbox.inject_inbound(
        **{"from": USER, "type": "system"}, system={"type": "customer_identity_changed"}
    )
    assert graph.text().error["code"] == 131047


def with_item(**change):
    """ORDER with its first item changed."""
    return {"type": "order", "order": {**ORDER, "product_items": [{**ORDER["product_items"][0], **change}]}}


# (request without "from", words the error details must contain)
BAD = [
    ({"type": "order"}, "order['catalog_id']"),
    ({"type": "order", "order": {"catalog_id": "1", "product_items": []}}, "product_items"),
    ({"type": "order", "order": {**ORDER, "product_items": [5]}}, "product_retailer_id"),
    (with_item(quantity=0), "quantity"),
    (with_item(item_price="9"), "item_price"),
    (with_item(currency="€"), "currency"),
    ({"type": "order", "order": {**ORDER, "text": 5}}, "order['text']"),
    ({"type": "system"}, "system['type']"),
    ({"type": "system", "system": "user_changed_number"}, "system['type']"),
    ({"type": "system", "system": {"type": "weather"}}, "system['type']"),
    ({"type": "system", "system": {"type": "user_changed_number"}}, "new_wa_id"),
    ({"type": "system", "system": {"type": "user_changed_number", "new_wa_id": 15550002222}}, "new_wa_id"),
    ({"type": "system", "system": {"type": "user_changed_number", "new_wa_id": "abc"}}, "new_wa_id"),
    ({"type": "system", "system": {"type": "user_changed_number", "new_wa_id": USER}}, "must differ"),
    ({"type": "unsupported", "unsupported_type": 5}, "unsupported_type"),
    ({"type": "text", "text": "hi", "referral": "ad"}, "referral['source_url']"),
    ({"type": "text", "text": "hi", "referral": {"source_url": "u"}}, "referral['source_id']"),
    ({"type": "text", "text": "hi", "referral": {**REFERRAL, "headline": 5}}, "headline"),
    ({"type": "text", "text": "hi", "referral": {**REFERRAL, "campaign": "x"}}, "campaign"),
    ({"type": "image", "referral": {**REFERRAL, "headline": 5}}, "headline"),
    ({"type": "interactive", "nfm_reply": {"body": "Sent"}}, "response_json"),
    ({"type": "interactive", "nfm_reply": {"response_json": "{not json"}}, "response_json"),
    ({"type": "interactive", "nfm_reply": {"response_json": "[1, 2]"}}, "response_json"),
    ({"type": "interactive", "nfm_reply": {"response_json": {}, "name": 5}}, "nfm_reply['name']"),
    ({"type": "interactive", "interactive": {"type": "nfm_reply"}}, "interactive['type']"),
    ({"type": "text", "text": "hi", "name": 5}, "name"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "words"), BAD, ids=[f"{i}-{b['type']}" for i, (b, _) in enumerate(BAD)])
def test_bad_requests_get_a_400_that_says_what_is_wrong(graph, wa_sandbox, bad, words):
    reply = graph.control("POST", "/inbound", {"from": USER, **bad})
    assert reply.status == 400, reply.body
    assert reply.error["code"] in (100, 131008, 131009)
    assert words in reply.error["error_data"]["details"], reply.error
    # Refused before anything happened: no message kept, no webhook, no window opened.
    assert wa_sandbox.inbound_messages() == [] and wa_sandbox.webhooks() == []
    assert not wa_sandbox._core.state.media  # nor media stored for it
    assert graph.text().error["code"] == 131047
