"""Business-scoped user ids (BSUIDs) in the sandbox, as Meta's BSUID reference describes them
(developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/):
sends by ``recipient``, users who hide their number, ``user_id_update`` and the control API.
Every answer and webhook here is checked against Meta's spec as the sandbox reads it."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import USER, Graph, assert_valid_error, value_of

from wacloud.sandbox import Sandbox, conformance, spec

HELLO = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def user_id_of(wa_sandbox: Any, wa_id: str = USER) -> str:
    return wa_sandbox.user(wa_id)["user_id"]


def statuses(wa_sandbox: Any, wamid: str, count: int) -> list[dict[str, Any]]:
    found = []
    for delivery in wa_sandbox.wait_for_webhooks(count=count, kind="status", status=None):
        value = value_of(delivery["payload"])
        found += [(value, s) for s in value["statuses"] if s["id"] == wamid]
    return found


def conforms(reply: Any) -> None:
    problems = spec.operation(conformance.SEND_MESSAGE).check_response(reply.status, reply.body)
    assert problems == [], [str(p) for p in problems]


def test_a_send_by_recipient_reaches_the_user_and_is_answered_with_their_ids(graph, wa_sandbox, open_window):
    user_id = user_id_of(wa_sandbox)
    reply = graph.send(recipient=user_id, type="text", text={"body": "hi"})
    assert reply.status == 200, reply.body
    conforms(reply)
    assert reply.body["contacts"] == [{"input": user_id, "wa_id": USER, "user_id": user_id}]
    wamid = reply.body["messages"][0]["id"]
    found = statuses(wa_sandbox, wamid, count=3)
    assert [s["status"] for _, s in found] == ["sent", "delivered", "read"]
    for value, status in found:
        assert (status["recipient_id"], status["recipient_user_id"]) == (USER, user_id)
        assert value["contacts"][0]["wa_id"] == USER
    (sent,) = wa_sandbox.sent_messages(to=user_id)
    assert (sent["wa_id"], sent["user_id"]) == (USER, user_id)


def test_a_user_who_hides_their_number_is_named_by_id_only(graph, wa_sandbox):
    wa_sandbox.hide_number(USER)
    user_id = user_id_of(wa_sandbox)
    inbound = wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi")
    assert "from" not in inbound and inbound["from_user_id"] == user_id
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message")
    (contact,) = value_of(delivery["payload"])["contacts"]
    assert "wa_id" not in contact and contact["user_id"] == user_id
    assert USER[-4:] not in contact["profile"]["name"]  # no part of the number shows

    reply = graph.send(recipient=user_id, type="text", text={"body": "hello"})
    conforms(reply)
    assert reply.body["contacts"] == [{"input": user_id, "user_id": user_id}]
    (value, status), *_ = statuses(wa_sandbox, reply.body["messages"][0]["id"], count=1)
    assert "recipient_id" not in status and status["recipient_user_id"] == user_id
    assert "wa_id" not in value["contacts"][0]
    # A send to the number itself still names it: the business knows it.
    reply = graph.send(to=USER, type="text", text={"body": "by number"})
    assert reply.body["contacts"] == [{"input": USER, "wa_id": USER}]


def test_a_changed_user_id_emits_user_id_update_and_the_old_id_reaches_nobody(graph, wa_sandbox, open_window):
    previous = user_id_of(wa_sandbox)
    changed = wa_sandbox.change_user_id(previous)
    assert changed["previous_user_id"] == previous and changed["user_id"] != previous
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="user_id_update")
    change = delivery["payload"]["entry"][0]["changes"][0]
    assert change["field"] == "user_id_update"
    (entry,) = change["value"]["user_id_update"]
    assert entry["user_id"] == {"previous": previous, "current": changed["user_id"]}
    assert entry["wa_id"] == USER and entry["timestamp"].isdigit() and "parent_user_id" not in entry

    old = graph.send(recipient=previous, **HELLO)
    assert old.status == 200  # accepted, then failed as for a number not on WhatsApp
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    value = value_of(delivery["payload"])
    assert "contacts" not in value
    (status,) = value["statuses"]
    assert status["errors"][0]["code"] == 131026 and status["recipient_user_id"] == previous
    assert "recipient_id" not in status
    # The new id reaches the user, and inbound messages carry it.
    assert graph.send(recipient=changed["user_id"], type="text", text={"body": "hi"}).status == 200
    assert wa_sandbox.inject_inbound(**{"from": USER}, text="again")["from_user_id"] == changed["user_id"]


def test_an_unknown_id_fails_even_for_free_form_and_a_malformed_one_is_refused(graph, wa_sandbox):
    reply = graph.send(recipient="US.42", type="text", text={"body": "hi"})
    assert reply.status == 200, reply.body
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="status.failed")
    assert value_of(delivery["payload"])["statuses"][0]["errors"][0]["code"] == 131026
    for bad in ("15550001111", "US.42 43", 42):
        error = assert_valid_error(graph.send(recipient=bad, type="text", text={"body": "hi"}), 100, 400)
        assert "recipient" in error["error_data"]["details"]
    error = assert_valid_error(graph.send(type="text", text={"body": "hi"}), 100, 400)
    assert error["message"] == "(#100) The parameter to is required."


def test_to_wins_when_a_send_names_both(graph, wa_sandbox, open_window):
    reply = graph.send(to=USER, recipient="US.42", type="text", text={"body": "hi"})
    assert reply.body["contacts"] == [{"input": USER, "wa_id": USER}]


@pytest.mark.wa_sandbox(managed_business=True)
def test_managed_businesses_get_parent_ids_in_sends_and_updates(graph, wa_sandbox, open_window):
    user = wa_sandbox.user(USER)
    assert user["parent_user_id"].startswith("US.ENT.")
    reply = graph.send(recipient=user["parent_user_id"], type="text", text={"body": "to the parent id"})
    assert reply.body["contacts"][0]["user_id"] == user["user_id"]
    wa_sandbox.change_user_id(USER)
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="user_id_update")
    (entry,) = value_of(delivery["payload"])["user_id_update"]
    assert entry["parent_user_id"]["previous"] == user["parent_user_id"]


def test_the_control_api_over_http(graph, wa_sandbox):
    user_id = graph.control("GET", f"/users/{USER}").body["user_id"]
    assert graph.control("GET", f"/users/{user_id}").body["wa_id"] == USER
    hidden = graph.control("POST", f"/users/{user_id}", {"number_hidden": True})
    assert hidden.status == 200 and hidden.body["number_hidden"] is True
    assert graph.control("POST", f"/users/{USER}", {"number_hidden": "yes"}).status == 400
    changed = graph.control("POST", f"/users/{USER}/user_id")
    assert changed.body["previous_user_id"] == user_id
    assert graph.control("GET", f"/users/{user_id}").status == 404  # replaced: nobody holds it
    assert graph.control("GET", "/users/not-a-user").status == 400
    assert "POST /_sandbox/users/{key}/user_id" in graph.control("GET", "").body["endpoints"]


def test_ids_and_hidden_numbers_survive_a_restart(tmp_path):
    path = tmp_path / "state.json"
    with Sandbox(state_file=str(path)) as first:
        first.hide_number(USER)
        changed = first.change_user_id(USER)
        first.save()
    with Sandbox(state_file=str(path)) as second:
        assert second.user(changed["user_id"]) == {
            "wa_id": USER,
            "user_id": changed["user_id"],
            "number_hidden": True,
        }


# -- every webhook above validates (test_spec_conformance.py runs this emitter) -------------------
def emit_business_scoped_users(graph: Graph, wa_sandbox: Any) -> int:
    """A user who hides their number writes, is answered by id, changes ids and is written to
    by the old one: 1 inbound, sent/delivered/read, the update, 1 failure."""
    wa_sandbox.hide_number(USER)
    wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi")
    user_id = user_id_of(wa_sandbox)
    assert graph.send(recipient=user_id, type="text", text={"body": "hello"}).status == 200
    wa_sandbox.wait_for_webhooks(kind="status.read")
    wa_sandbox.change_user_id(USER)
    assert graph.send(recipient=user_id, **HELLO).status == 200
    wa_sandbox.wait_for_webhooks(kind="status.failed")
    return 1 + 3 + 1 + 1
