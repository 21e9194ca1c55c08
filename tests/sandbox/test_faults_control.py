"""Fault injection, the control API over HTTP, and state persistence."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from sandbox_support import USER, Graph, assert_valid_error

from wacloud.sandbox import Sandbox

TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def test_latency_is_added_to_graph_requests_only(graph, wa_sandbox):
    wa_sandbox.set_faults(latency_ms=200)
    started = time.monotonic()
    assert graph.request("GET", f"/{graph.phone}").status == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    graph.control("GET", "/faults")
    assert time.monotonic() - started < 0.2  # the control API is never faulted


@pytest.mark.wa_sandbox(seed=7)
def test_error_rate_answers_transient_errors(graph, wa_sandbox):
    wa_sandbox.set_faults(error_rate=1.0)
    seen = set()
    for _ in range(12):
        reply = graph.send(to=USER, **TEMPLATE)
        error = reply.error
        assert error["is_transient"] is True
        seen.add((error["code"], reply.status))
    assert seen == {(131000, 500), (2, 503)}
    assert wa_sandbox.sent_messages() == []
    wa_sandbox.clear_faults()
    assert graph.send(to=USER, **TEMPLATE).status == 200


def test_rate_limit_burst_hits_the_next_n_requests(graph, wa_sandbox):
    wa_sandbox.set_faults(rate_limit_next=2)
    assert_valid_error(graph.send(to=USER, **TEMPLATE), 130429, 400)
    assert_valid_error(graph.request("GET", f"/{graph.phone}"), 130429, 400)
    assert graph.send(to=USER, **TEMPLATE).status == 200


def test_timeout_fault_processes_then_holds_the_answer(graph, wa_sandbox):
    wa_sandbox.set_faults(timeout_next=1, timeout_seconds=30)
    request = urllib.request.Request(
        f"{graph.sandbox.graph_url}/{graph.phone}/messages",
        data=json.dumps({"messaging_product": "whatsapp", "to": USER, **TEMPLATE}).encode(),
        headers={"Authorization": f"Bearer {graph.token}", "Content-Type": "application/json"},
    )
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=0.5)
    assert len(wa_sandbox.sent_messages()) == 1  # the send happened; only its answer was lost
    assert graph.send(to=USER, **TEMPLATE).status == 200


def test_dropped_webhooks_are_never_sent(wa_sandbox):
    wa_sandbox.set_faults(webhook_drop_rate=1.0)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    (dropped,) = wa_sandbox.webhooks(status="dropped")
    assert dropped["attempts"] == 0
    time.sleep(0.2)
    assert wa_sandbox.collector.received == []


def test_duplicated_webhooks_arrive_twice(wa_sandbox):
    wa_sandbox.set_faults(webhook_duplicate_rate=1.0)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    first, second = wa_sandbox.collector.wait(2)
    assert first.body == second.body
    assert wa_sandbox.webhooks()[0]["attempts"] == 2


def test_reordered_webhooks_arrive_in_reverse_groups(wa_sandbox):
    wa_sandbox.set_faults(webhook_reorder_window=3, webhook_reorder_hold=1.0)
    for text in ("one", "two", "three"):
        wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": text})
    received = wa_sandbox.collector.wait(3)
    bodies = [r.payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] for r in received]
    assert bodies == ["three", "two", "one"]


def test_fault_settings_are_validated(graph):
    for bad in ({"error_rate": 2}, {"latency_ms": -1}, {"nonsense": 1}, {"rate_limit_next": "many"}):
        reply = graph.control("POST", "/faults", bad)
        assert reply.status == 400 and reply.error["code"] == 100
    assert graph.control("POST", "/faults", {"latency_ms": 5}).body["latency_ms"] == 5
    assert graph.control("DELETE", "/faults").body["latency_ms"] == 0


# -- the control API over HTTP ------------------------------------------------------------
def test_control_api_endpoints(graph, wa_sandbox):
    index = graph.control("GET", "").body["endpoints"]
    assert "POST /_sandbox/inbound" in index
    assert graph.control("GET", "/config").body["phone_number_id"] == graph.phone
    message = graph.control("POST", "/inbound", {"from": USER, "name": "Ana", "type": "text", "text": "hi"})
    assert message.status == 200 and message.body["message"]["text"] == {"body": "hi"}
    assert len(graph.control("GET", "/inbound").body["data"]) == 1
    wamid = graph.text().body["messages"][0]["id"]
    assert graph.control("GET", f"/messages?to={USER}").body["data"][0]["id"] == wamid
    assert graph.control("GET", "/messages?type=image").body["data"] == []
    assert graph.control("GET", f"/messages/{wamid}").body["payload"]["text"] == {"body": "hello"}
    assert graph.control("GET", "/messages/wamid.nope").status == 404
    (conversation,) = graph.control("GET", "/conversations").body["data"]
    assert conversation["open"] is True and conversation["category"] == "service"
    waited = graph.control("POST", "/webhooks/wait", {"count": 3, "kind": "status", "timeout": 5})
    assert (
        len(waited.body["data"]) >= 3
        and waited.body["data"][0]["payload"]["object"] == "whatsapp_business_account"
    )
    assert graph.control("POST", "/webhooks/wait", {"count": 99, "timeout": 0.1}).status == 408
    assert graph.control("GET", "/webhooks?kind=message").body["data"][0]["status"] == "delivered"
    assert graph.control("POST", "/recipients/15550004444", {"undeliverable": True}).status == 200
    assert graph.control("GET", "/recipients").body == {"undeliverable": ["15550004444"]}
    assert graph.control("POST", "/recipients/abc", {"undeliverable": True}).status == 400
    assert graph.control("POST", "/clock", {"advance_seconds": 90000}).body["offset"] == 90000
    assert graph.control("GET", "/conversations").body["data"][0]["open"] is False
    assert graph.control("POST", "/clock", {"advance_seconds": -5}).status == 400
    assert (
        graph.control("POST", "/templates/hello_world/status", {"event": "PAUSED"}).body["status"] == "PAUSED"
    )
    assert graph.control("POST", "/templates/hello_world/status", {"event": "MAYBE"}).status == 400
    assert graph.control("POST", "/templates/nothing/status", {"event": "PAUSED"}).status == 404
    assert graph.control("POST", "/save").status == 400  # no state file configured
    assert graph.control("POST", "/reset").body == {"success": True}
    assert graph.control("GET", "/messages").body["data"] == []
    assert graph.control("GET", "/recipients").body == {"undeliverable": []}
    assert graph.control("GET", "/nothing").error["code"] == 100


# -- persistence --------------------------------------------------------------------------
def test_state_survives_a_restart(tmp_path):
    state_file = tmp_path / "sandbox.json"
    options = {
        "state_file": str(state_file),
        "template_review_seconds": 0.05,
        "sent_after": 0.01,
        "delivered_after": 0.02,
        "read_after": 0.03,
    }
    with Sandbox(**options) as first:
        graph = Graph(first)
        first.inject_inbound(**{"from": USER, "name": "Ana", "type": "image"})
        wamid = graph.text().body["messages"][0]["id"]
        body = {
            "name": "kept",
            "language": "en_US",
            "category": "MARKETING",
            "components": [{"type": "BODY", "text": "x"}],
        }
        graph.request("POST", f"/{graph.waba}/message_templates", body)
        first.mark_undeliverable("15550009999")
        media_id = first.inbound_messages()[0]["message"]["image"]["id"]
        data = first.media_bytes(media_id)
        time.sleep(0.2)  # the template review and the statuses happen
    assert json.loads(state_file.read_text())["version"] == 1
    with Sandbox(**options) as second:
        graph = Graph(second)
        assert second.message(wamid)["status"] == "read"
        assert graph.text().status == 200  # the window opened before the restart is still open
        assert {t["name"]: t["status"] for t in second.templates()} == {
            "hello_world": "APPROVED",
            "kept": "APPROVED",
        }
        assert second.media_bytes(media_id) == data
        info = graph.request("GET", f"/{media_id}").body
        assert graph.request("GET", info["url"].removeprefix(second.base_url)).body == data
        assert second.inbound_messages()[0]["name"] == "Ana"
        assert graph.control("GET", "/recipients").body == {"undeliverable": ["15550009999"]}


def test_pending_webhooks_are_resumed_after_a_restart(tmp_path):
    from wacloud.sandbox import WebhookCollector

    state_file = tmp_path / "state.json"
    options = {"state_file": str(state_file), "webhook_retry_base": 30.0}
    with WebhookCollector() as collector:
        collector.respond_with(500)
        with Sandbox(webhook_url=collector.url, **options) as first:
            first.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
            (retrying,) = first.wait_for_webhooks(kind="message", status="retrying")
        with Sandbox(webhook_url=collector.url, **options) as second:
            (delivered,) = second.wait_for_webhooks(kind="message", status="delivered")
            assert delivered["id"] == retrying["id"] and delivered["responses"] == [500, 200]


def test_corrupt_state_file_is_refused_clearly(tmp_path):
    state_file = tmp_path / "bad.json"
    state_file.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Sandbox(state_file=str(state_file)).start()
