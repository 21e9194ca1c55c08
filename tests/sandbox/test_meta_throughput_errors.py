"""Throughput shared by inbound and outbound messages, the send answer's ``message_status``,
the failed status' error ``href`` and the number-change system message.

Sources: Meta's throughput page (https://developers.facebook.com/docs/whatsapp/throughput:
"up to 80 messages per second (mps) of combined incoming and outgoing messages"); the Messages
API reference (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages:
``message_status`` "only included if sending a template"; spec ``components/schemas/MessageStatus``);
the status webhook reference (error ``href``); the messages webhook reference (system messages)."""

from __future__ import annotations

import pytest
from sandbox_support import USER, assert_valid_error, value_of

HELLO = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


@pytest.mark.wa_sandbox(messages_per_second=5, pair_rate_per_second=None)
def test_inbound_messages_spend_the_same_throughput_as_sends(graph, wa_sandbox):
    for index in range(4):
        wa_sandbox.inject_inbound(**{"from": f"1555000{index:04d}"}, type="text", text="hi")
    assert graph.send(to=USER, **HELLO).status == 200
    assert_valid_error(graph.send(to=USER, **HELLO), 130429, 400)


def test_message_status_is_returned_for_template_sends_only(graph, open_window):
    assert graph.send(to=USER, **HELLO).body["messages"][0]["message_status"] == "accepted"
    (text,) = graph.text().body["messages"]
    assert "message_status" not in text


def test_failed_status_error_href_is_relative(graph, wa_sandbox):
    wa_sandbox.mark_undeliverable(USER)
    graph.send(to=USER, **HELLO)
    (failed,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    (error,) = value_of(failed["payload"])["statuses"][0]["errors"]
    assert error["href"].startswith("/") and "error-codes" in error["href"]


def test_number_change_reads_user_name_changed(wa_sandbox):
    message = wa_sandbox.inject_inbound(
        **{"from": USER},
        name="Ana",
        type="system",
        system={"type": "user_changed_number", "new_wa_id": "15550002222"},
    )
    assert message["system"]["body"] == f"User Ana changed from {USER} to 15550002222"
