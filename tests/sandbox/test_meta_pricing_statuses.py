"""Status webhooks as Meta sends them today: per-message pricing, where ``conversation`` and
``pricing`` appear, business-scoped user ids, and the callback data echoed from the send.

Sources: Meta's pricing page (https://developers.facebook.com/docs/whatsapp/pricing, per-message
pricing since 2025-07-01), the status webhook reference
(https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/)
and the OpenAPI spec's ``components/schemas/Pricing`` (``pricing_model``: CBP | PMP)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sandbox_support import USER, value_of

HELLO = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def statuses_of(wa_sandbox: Any, wamid: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The status entries of ``wamid`` delivered so far, waiting until there are ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            value_of(d["payload"])["statuses"][0]
            for d in wa_sandbox.webhooks(kind="status", status="delivered")
            if value_of(d["payload"])["statuses"][0]["id"] == wamid
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def send(graph: Any, **payload: Any) -> str:
    reply = graph.send(**{"to": USER, **payload})
    assert reply.status == 200, reply.body
    return reply.body["messages"][0]["id"]


def _sent_pricing(graph: Any, wa_sandbox: Any, **payload: Any) -> dict[str, Any]:
    (sent, *_) = statuses_of(wa_sandbox, send(graph, **payload))
    assert sent["status"] == "sent"
    return sent["pricing"]


def _create_marketing_template(graph: Any, wa_sandbox: Any) -> None:
    body = {
        "name": "promo",
        "language": "en_US",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Sale today"}],
    }
    assert graph.request("POST", f"/{graph.waba}/message_templates", body).status == 200
    wa_sandbox.wait_for_webhooks(kind="template.approved")


# -- 1. per-message pricing ------------------------------------------------------------
def test_template_outside_the_window_is_billed_per_message(graph, wa_sandbox):
    assert _sent_pricing(graph, wa_sandbox, **HELLO) == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "utility",
        "type": "regular",
    }


def test_utility_template_inside_the_customer_service_window_is_free(graph, wa_sandbox, open_window):
    assert _sent_pricing(graph, wa_sandbox, **HELLO) == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "utility",
        "type": "free_customer_service",
    }


def test_service_message_is_free_customer_service(graph, wa_sandbox, open_window):
    pricing = _sent_pricing(graph, wa_sandbox, type="text", text={"body": "hi"})
    assert pricing == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }


def test_marketing_template_is_billed_even_inside_the_window(graph, wa_sandbox, open_window):
    _create_marketing_template(graph, wa_sandbox)
    template = {"type": "template", "template": {"name": "promo", "language": {"code": "en_US"}}}
    pricing = _sent_pricing(graph, wa_sandbox, **template)
    assert pricing == {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"}


def test_messages_after_an_ad_referral_are_free_entry_point(graph, wa_sandbox):
    referral = {"source_url": "https://fb.me/ad", "source_id": "AD1", "source_type": "ad"}
    wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi", referral=referral)
    pricing = _sent_pricing(graph, wa_sandbox, **HELLO)
    assert pricing["billable"] is False and pricing["pricing_model"] == "PMP"
    assert pricing["type"] == "free_entry_point"
    wa_sandbox.advance_clock(72 * 3600 + 1)  # the 72-hour entry point window closes
    assert _sent_pricing(graph, wa_sandbox, **HELLO)["type"] == "regular"


# -- 2. which statuses carry conversation and pricing -------------------------------------
def test_pricing_is_on_sent_and_delivered_but_not_again_on_read(graph, wa_sandbox, open_window):
    wamid = send(graph, type="text", text={"body": "hi"})
    sent, delivered, read = statuses_of(wa_sandbox, wamid, count=3)
    assert [s["status"] for s in (sent, delivered, read)] == ["sent", "delivered", "read"]
    for entry in (sent, delivered):
        assert entry["pricing"]["pricing_model"] == "PMP" and "conversation" in entry
    assert "pricing" not in read and "conversation" not in read


def test_from_v24_statuses_have_no_conversation(graph, wa_sandbox, open_window):
    reply = graph.request(
        "POST",
        f"/{graph.phone}/messages",
        {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": "hi"}},
        version="v24.0",
    )
    # By status: the read may have come too, and deliveries need not arrive in order.
    entries = statuses_of(wa_sandbox, reply.body["messages"][0]["id"], count=2)
    found = {entry["status"]: entry for entry in entries}
    for entry in (found["sent"], found["delivered"]):
        assert "conversation" not in entry
        assert entry["pricing"]["type"] == "free_customer_service"


def test_from_v24_free_entry_point_keeps_its_conversation(graph, wa_sandbox):
    referral = {"source_url": "https://fb.me/ad", "source_id": "AD1", "source_type": "ad"}
    wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi", referral=referral)
    body = {"messaging_product": "whatsapp", "to": USER, **HELLO}
    reply = graph.request("POST", f"/{graph.phone}/messages", body, version="v24.0")
    (sent, *_) = statuses_of(wa_sandbox, reply.body["messages"][0]["id"])
    assert sent["conversation"]["origin"] == {"type": "referral_conversion"}
    assert sent["pricing"]["type"] == "free_entry_point"


# -- 3. business-scoped user ids; failed statuses without contacts -----------------------
# Meta: https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/
def test_statuses_carry_recipient_user_id_and_failed_has_no_contacts(graph, wa_sandbox):
    wa_sandbox.mark_undeliverable(USER)
    send(graph, **HELLO)
    (failed,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    value = value_of(failed["payload"])
    assert "contacts" not in value
    (status,) = value["statuses"]
    assert status["recipient_user_id"].startswith("US.") and "parent_recipient_user_id" not in status


def test_inbound_messages_carry_from_user_id_without_parent_ids(wa_sandbox):
    message = wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi")
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message")
    value = value_of(delivery["payload"])
    (contact,) = value["contacts"]
    assert message["from_user_id"] == contact["user_id"] == value["messages"][0]["from_user_id"]
    assert "parent_user_id" not in contact and "from_parent_user_id" not in message


@pytest.mark.wa_sandbox(managed_business=True)
def test_managed_businesses_also_get_parent_user_ids(graph, wa_sandbox, open_window):
    (inbound,) = wa_sandbox.wait_for_webhooks(kind="message")
    value = value_of(inbound["payload"])
    assert value["contacts"][0]["parent_user_id"].startswith("US.ENT.")
    assert value["messages"][0]["from_parent_user_id"] == value["contacts"][0]["parent_user_id"]
    (sent, *_) = statuses_of(wa_sandbox, send(graph, type="text", text={"body": "hi"}))
    assert sent["parent_recipient_user_id"] == value["contacts"][0]["parent_user_id"]
    assert sent["recipient_user_id"] == value["contacts"][0]["user_id"]


# -- 4. biz_opaque_callback_data --------------------------------------------------------
# Meta's send reference (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages):
# an arbitrary string of at most 512 characters, returned in the message's status webhooks
# (sample: message_status__with_tracker.json).
def test_callback_data_is_echoed_in_every_status(graph, wa_sandbox, open_window):
    wamid = send(graph, type="text", text={"body": "hi"}, biz_opaque_callback_data="order-42")
    entries = statuses_of(wa_sandbox, wamid, count=3)
    assert [e["status"] for e in entries] == ["sent", "delivered", "read"]
    assert all(e["biz_opaque_callback_data"] == "order-42" for e in entries)


def test_callback_data_is_echoed_in_failed_statuses_too(graph, wa_sandbox):
    wa_sandbox.mark_undeliverable(USER)
    send(graph, biz_opaque_callback_data="campaign-7", **HELLO)
    (failed,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    assert value_of(failed["payload"])["statuses"][0]["biz_opaque_callback_data"] == "campaign-7"


def test_callback_data_over_512_characters_is_refused(graph, open_window):
    reply = graph.send(to=USER, type="text", text={"body": "hi"}, biz_opaque_callback_data="x" * 513)
    assert reply.status == 400 and reply.error["code"] == 131009


def test_statuses_without_callback_data_do_not_mention_it(graph, wa_sandbox, open_window):
    (sent, *_) = statuses_of(wa_sandbox, send(graph, type="text", text={"body": "hi"}))
    assert "biz_opaque_callback_data" not in sent
