"""Every event of Meta's ``message_template_status_update`` webhook can be emitted through the
control API, with ``disable_info`` and ``other_info`` where Meta sends them.

Source: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
(``event``: APPROVED, ARCHIVED, DELETED, DISABLED, FLAGGED, IN_APPEAL, LIMIT_EXCEEDED, LOCKED,
PAUSED, PENDING, PENDING_DELETION, REINSTATED, REJECTED, UNARCHIVED; ``disable_info.disable_date``
only for a disabled template; ``other_info.title``/``description`` for a locked one)."""

from __future__ import annotations

import pytest
from sandbox_support import USER, value_of

from wacloud import webhook

EVENTS = {
    # event -> the status the template has afterwards
    "APPROVED": "APPROVED",
    "ARCHIVED": "ARCHIVED",
    "DELETED": "DELETED",
    "DISABLED": "DISABLED",
    "FLAGGED": "APPROVED",
    "IN_APPEAL": "IN_APPEAL",
    "LIMIT_EXCEEDED": "LIMIT_EXCEEDED",
    "LOCKED": "APPROVED",
    "PAUSED": "PAUSED",
    "PENDING": "PENDING",
    "PENDING_DELETION": "PENDING_DELETION",
    "REINSTATED": "APPROVED",
    "REJECTED": "REJECTED",
    "UNARCHIVED": "APPROVED",
}
HELLO = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


@pytest.mark.parametrize(("event", "status"), EVENTS.items())
def test_every_meta_template_event_can_be_emitted(graph, wa_sandbox, event, status):
    reply = graph.control("POST", "/templates/hello_world/status", {"event": event})
    assert reply.status == 200, reply.body
    assert reply.body["status"] == status
    (delivery,) = wa_sandbox.wait_for_webhooks(kind=f"template.{event.lower()}")
    value = value_of(delivery["payload"])
    assert value["event"] == event and value["message_template_name"] == "hello_world"
    assert ("disable_info" in value) == (event == "DISABLED")
    assert ("other_info" in value) == (event == "LOCKED")
    assert webhook.parse(delivery["body"].encode())


def test_disabled_template_carries_its_disable_date(wa_sandbox):
    wa_sandbox.set_template_status("hello_world", "DISABLED", disable_info={"disable_date": "1767225600"})
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="template.disabled")
    assert value_of(delivery["payload"])["disable_info"] == {"disable_date": "1767225600"}


def test_other_info_explains_the_event(wa_sandbox):
    info = {"title": "FIRST_PAUSE", "description": "Paused for low quality."}
    wa_sandbox.set_template_status("hello_world", "PAUSED", other_info=info)
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="template.paused")
    assert value_of(delivery["payload"])["other_info"] == info


def test_bad_other_info_is_refused(graph):
    reply = graph.control("POST", "/templates/hello_world/status", {"event": "LOCKED", "other_info": "x"})
    assert reply.status == 400


@pytest.mark.parametrize("event", ["ARCHIVED", "DELETED", "PENDING_DELETION", "IN_APPEAL"])
def test_templates_that_are_no_longer_approved_cannot_be_sent(graph, wa_sandbox, event):
    wa_sandbox.set_template_status("hello_world", event)
    reply = graph.send(to=USER, **HELLO)
    assert reply.status == 404 and reply.error["code"] == 132001


def test_unarchived_and_flagged_templates_send_again(graph, wa_sandbox):
    wa_sandbox.set_template_status("hello_world", "ARCHIVED")
    wa_sandbox.set_template_status("hello_world", "UNARCHIVED")
    assert graph.send(to=USER, **HELLO).status == 200
    wa_sandbox.set_template_status("hello_world", "FLAGGED")
    assert graph.send(to=USER, **HELLO).status == 200
