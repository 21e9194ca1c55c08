"""Sending to business-scoped user ids (BSUIDs) with the client: ``BusinessScopedUser`` in
place of a number, Meta's ``recipient`` on the wire (and valid for the spec), every send
helper and send_many, and the events that carry BSUIDs (``user_id_update`` included)."""

from __future__ import annotations

import json

import pytest

import wacloud
from graph_stub import GraphStub, Reply
from wacloud import (
    BusinessScopedUser,
    Client,
    EventType,
    InvalidParameter,
    InvalidPhoneNumber,
    StatusUpdate,
    UserIdUpdate,
    webhook,
)
from wacloud.messages import Reaction, Template, Text
from wacloud.sandbox import spec

PHONE_ID = "106540352242922"
USER_ID = "US.13491208655302741918"
USER = BusinessScopedUser(USER_ID)


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def client_for(stub: GraphStub, **options) -> Client:
    return Client("token", PHONE_ID, base_url=stub.base_url, max_retries=0, **options)


def answered(stub: GraphStub, contact: dict) -> None:
    body = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": "wamid.X"}]}
    stub.script("POST", f"/v25.0/{PHONE_ID}/messages", Reply(200, body))


def test_a_send_to_a_business_scoped_user_names_it_as_recipient(stub):
    answered(stub, {"input": USER_ID, "user_id": USER_ID})
    result = client_for(stub).send(USER, Text("Hello"), reply_to="wamid.IN")
    (request,) = stub.requests
    body = request.json()
    assert body["recipient"] == USER_ID and "to" not in body
    assert spec.operation("sendMessage").check_body(body) == []
    assert (result.message_id, result.user_id, result.wa_id, result.input) == (
        "wamid.X",
        USER_ID,
        "",
        USER_ID,
    )


@pytest.mark.parametrize(
    ("helper", "args"),
    [
        ("send_text", ("Hi",)),
        ("send_image", (None, "https://media.example/cat.jpg")),
        ("send_template", ("hello_world", "en_US")),
        ("send_reaction", ("wamid.IN", "👍")),
        ("send_location", (37.48, -122.15)),
        ("send_buttons", ("Pick", [("y", "Yes")])),
    ],
)
def test_every_send_helper_takes_a_business_scoped_user(stub, helper, args):
    getattr(client_for(stub), helper)(USER, *args)
    (request,) = stub.requests
    assert request.json()["recipient"] == USER_ID
    assert spec.operation("sendMessage").check_body(request.json()) == []


def test_send_many_takes_users_beside_numbers_and_payloads_with_recipient(stub):
    prepared = Reaction("wamid.IN", "👍").to_payload(USER)
    results = client_for(stub).send_many(
        [
            (USER, Text("a")),
            ("+1 650 555 1234", Text("b")),
            prepared,
            {"messaging_product": "whatsapp", "recipient": USER_ID, "text": {"body": "c"}},
        ]
    )
    assert all(isinstance(result, wacloud.SendResult) for result in results)
    recipients = sorted(r.json().get("recipient") or "to " + r.json()["to"] for r in stub.requests)
    assert recipients == [USER_ID, USER_ID, USER_ID, "to 16505551234"]


def test_a_python_rate_limiter_is_asked_for_the_user_id(stub):
    asked = []

    class Limiter:
        def acquire(self, key, recipient, timeout):
            asked.append(recipient)
            return True

    client_for(stub, rate_limiter=Limiter()).send_text(USER, "hi")
    assert asked == [USER_ID]


def test_a_bsuid_is_never_read_as_a_phone_number(stub):
    with pytest.raises(InvalidPhoneNumber, match=r'BusinessScopedUser\("US.13491208655302741918"\)'):
        client_for(stub).send_text(USER_ID, "hi")
    with pytest.raises(InvalidPhoneNumber, match="business-scoped user id"):
        Text("hi").to_payload(" " + USER_ID)
    with pytest.raises(InvalidParameter, match="user_id: is not a business-scoped user id"):
        BusinessScopedUser("+1 650 555 1234")
    with pytest.raises(TypeError, match="user_id must be a str"):
        BusinessScopedUser(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BusinessScopedUser"):
        client_for(stub).send(16505551234, Text("hi"))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match='"to" or "recipient"'):
        client_for(stub).send_many([{"type": "text", "text": {"body": "no one"}}])
    assert stub.requests == []


def test_a_parent_bsuid_is_a_business_scoped_user_too():
    payload = Template("hello_world", "en_US").to_payload(BusinessScopedUser("US.ENT.11815799212886844830"))
    assert payload["recipient"] == "US.ENT.11815799212886844830"
    assert str(USER) == USER_ID and USER == BusinessScopedUser(USER_ID)


# -- events -------------------------------------------------------------------------------------
def body(field: str, value: dict) -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_ID}, **value}
    change = {"field": field, "value": value}
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    ).encode()


def test_user_id_update_is_a_typed_event_with_both_ids():
    entry = {
        "wa_id": "16505551234",
        "user_id": {"previous": USER_ID, "current": "US.2"},
        "parent_user_id": {"previous": "US.ENT.1", "current": "US.ENT.2"},
        "timestamp": "1750000000",
    }
    (event,) = webhook.parse(body("user_id_update", {"user_id_update": [entry]}))
    assert isinstance(event, UserIdUpdate) and event.event_type is EventType.USER_ID_UPDATE
    assert (event.previous_user_id, event.user_id, event.wa_id) == (USER_ID, "US.2", "16505551234")
    assert (event.previous_parent_user_id, event.parent_user_id) == ("US.ENT.1", "US.ENT.2")
    assert event.timestamp.timestamp() == 1750000000 and event.raw == entry
    assert wacloud.UserIdUpdate is UserIdUpdate and "UserIdUpdate" in wacloud.__all__


def test_statuses_carry_the_recipients_bsuids_in_either_spelling():
    statuses = [
        {"id": "a", "status": "sent", "timestamp": "1", "recipient_user_id": USER_ID,
         "parent_recipient_user_id": "US.ENT.1"},
        {"id": "b", "status": "sent", "timestamp": "1", "recipient_user_id": USER_ID,
         "recipient_parent_user_id": "US.ENT.2"},
    ]  # fmt: skip
    first, second = webhook.parse(body("messages", {"statuses": statuses}))
    assert isinstance(first, StatusUpdate) and first.recipient_id is None
    assert (first.recipient_user_id, first.recipient_parent_user_id) == (USER_ID, "US.ENT.1")
    assert second.recipient_parent_user_id == "US.ENT.2"


def test_a_messages_sender_takes_the_bsuids_of_its_contact():
    contact = {
        "profile": {"name": "Ana"},
        "wa_id": "16505551234",
        "user_id": USER_ID,
        "parent_user_id": "US.ENT.1",
    }
    message = {"from": "16505551234", "id": "m", "timestamp": "1", "type": "text", "text": {"body": "hi"}}
    (event,) = webhook.parse(body("messages", {"contacts": [contact], "messages": [message]}))
    assert (event.from_wa_id, event.from_user_id, event.from_parent_user_id) == (
        "16505551234",
        USER_ID,
        "US.ENT.1",
    )
