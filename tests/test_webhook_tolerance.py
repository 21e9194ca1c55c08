"""Webhook bodies written by others parse with nothing lost.

Two sets of bodies are checked the same way: the project's own small bodies in
tests/data/webhooks-tolerance (one per tolerated shape, always present) and, when
the checkout sits next to it, the shared folder of bodies collected from Meta's
docs and other libraries (mixed licences, so never copied here)."""

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import wacloud
from wacloud import webhook
from wacloud.events import (
    ErrorDetail,
    Event,
    EventType,
    FieldUpdate,
    InboundMessage,
    InteractiveReply,
    InvalidItem,
    StatusUpdate,
    TemplateStatusUpdate,
    WebhookError,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
EXTERNAL_FIXTURES_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "webhooks-external"
TOLERANCE_DIR = Path(__file__).resolve().parent / "data" / "webhooks-tolerance"

EXTERNAL = sorted(EXTERNAL_FIXTURES_DIR.glob("*.json"))
OWN = sorted(TOLERANCE_DIR.glob("*.json"))
EXTERNAL_ABSENT = pytest.mark.skip(
    reason=f"{EXTERNAL_FIXTURES_DIR} is absent: the external bodies are not checked"
)

MESSAGE_FIELDS = {"messages", "smb_message_echoes"}
ITEM_ARRAYS = {"messages": "message", "message_echoes": "message_echo", "statuses": "status"}
METADATA_IDS = {"phone_number_id", "display_phone_number"}


def own(name: str) -> bytes:
    return (TOLERANCE_DIR / name).read_bytes()


def parsed(name: str) -> list[Event]:
    return webhook.parse(own(name))


def without_lone_surrogates(node: Any) -> Any:
    """What the parser reads a lone UTF-16 surrogate escape as: U+FFFD (json.loads keeps it)."""
    if isinstance(node, str):
        return node.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(node, list):
        return [without_lone_surrogates(item) for item in node]
    if isinstance(node, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in node.items()}
    return node


def item_kind(event: Event) -> str:
    if isinstance(event, InboundMessage):
        return "message_echo" if event.is_echo else "message"
    if isinstance(event, StatusUpdate):
        return "status"
    assert isinstance(event, InvalidItem)
    return event.kind


def assert_nothing_lost(body: bytes) -> list[Event]:
    """Every message, status and echo is one event whose raw is that item; every
    other change value is one event's raw; every leaf of the body is inside an
    event's raw or contact, or is an envelope id the events carry."""
    payload = without_lone_surrogates(json.loads(body))
    events = webhook.parse(body)

    expected_items, other_values, message_values = [], [], []
    envelope_paths = {("object",)}
    for i, entry in enumerate(payload["entry"]):
        envelope_paths |= {("entry", i, "id"), ("entry", i, "time")}
        for j, change in enumerate(entry["changes"]):
            change_path = ("entry", i, "changes", j)
            value = change["value"]
            envelope_paths.add((*change_path, "field"))
            envelope_paths |= {(*change_path, "value", "metadata", key) for key in METADATA_IDS}
            if change["field"] not in MESSAGE_FIELDS:
                other_values.append((change["field"], value))
                continue
            message_values.append(value)
            if value.get("messaging_product") == "whatsapp":
                envelope_paths.add((*change_path, "value", "messaging_product"))
            for key, kind in ITEM_ARRAYS.items():
                for item in value.get(key) or []:
                    expected_items.append((kind, item if isinstance(item, dict) else {}))

    items = [e for e in events if isinstance(e, (InboundMessage, StatusUpdate, InvalidItem))]
    assert [(item_kind(e), e.raw) for e in items] == expected_items
    value_events = [e for e in events if isinstance(e, (FieldUpdate, TemplateStatusUpdate, WebhookError))]
    assert [(e.field, e.raw) for e in value_events if e.field not in MESSAGE_FIELDS] == other_values
    assert all(e.raw in message_values for e in value_events if e.field in MESSAGE_FIELDS)

    # The envelope ids are carried by the events themselves.
    for entry in payload["entry"]:
        if entry["changes"]:
            assert str(entry["id"]) in {e.waba_id for e in events}
        for change in entry["changes"]:
            metadata = change["value"].get("metadata") or {}
            if "phone_number_id" in metadata:
                assert str(metadata["phone_number_id"]) in {e.phone_number_id for e in events}
            if "display_phone_number" in metadata:
                assert metadata["display_phone_number"] in {e.display_phone_number for e in events}

    reachable = [e.raw for e in events] + [e.contact for e in items if getattr(e, "contact", None)]
    lost = []

    def walk(node: Any, path: tuple) -> None:
        if path in envelope_paths or (isinstance(node, dict) and any(node == r for r in reachable)):
            return
        if isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, (*path, key))
        elif isinstance(node, list) and node:
            for index, child in enumerate(node):
                walk(child, (*path, index))
        else:
            lost.append((path, node))

    walk(payload, ())
    assert lost == []
    return events


@pytest.mark.parametrize(
    "path",
    EXTERNAL or [pytest.param(None, marks=EXTERNAL_ABSENT)],
    ids=lambda path: path.name if path else "absent",
)
def test_every_external_body_parses_with_nothing_lost(path):
    assert assert_nothing_lost(path.read_bytes())


@pytest.mark.skipif(
    not EXTERNAL, reason=f"{EXTERNAL_FIXTURES_DIR} is absent: the external bodies are not checked"
)
def test_external_bodies_are_all_there():
    assert len(EXTERNAL) >= 116


def test_own_bodies_are_all_there():
    assert len(OWN) >= 10


@pytest.mark.parametrize("path", OWN, ids=lambda path: path.name)
def test_every_own_body_parses_with_nothing_lost(path):
    assert assert_nothing_lost(path.read_bytes())


# 1. the top-level "object"
def test_a_missing_object_is_tolerated_and_another_one_refused():
    (event,) = parsed("object_missing.json")
    assert isinstance(event, FieldUpdate) and event.field == "account_update"
    assert event.value["waba_info"]["owner_business_id"] == "600700800900"
    assert webhook.parse(b'{"entry": []}') == []
    payload = json.loads(own("object_missing.json"))
    for wrong, reason in [
        ("page", 'expected "whatsapp_business_account", got "page"'),
        (5, "expected a string"),
    ]:
        with pytest.raises(wacloud.WebhookPayloadError, match=reason) as caught:
            webhook.parse(json.dumps({"object": wrong, **payload}))
        assert caught.value.path == "object"


# 2. one unreadable item
def test_unreadable_items_become_invalid_items_between_parsed_neighbours():
    events = parsed("invalid_items.json")
    assert [type(e).__name__ for e in events] == [
        "InboundMessage",
        "InvalidItem",
        "InvalidItem",
        "InvalidItem",
        "StatusUpdate",
        "InvalidItem",
        "InboundMessage",
    ]
    good, no_type, bad_time, no_id, status, echo, good_echo = events
    assert (good.message_id, good.text, good.contact_name) == ("wamid.good-text", "first", "Ada")
    assert (status.message_id, status.status) == ("wamid.good-status", "delivered")
    assert (good_echo.message_id, good_echo.is_echo) == ("wamid.good-echo", True)

    prefix = "entry[0].changes[0].value"
    assert no_type.event_type is EventType.INVALID
    assert (no_type.kind, no_type.path, no_type.item_id) == (
        "message",
        f"{prefix}.messages[1].type",
        "wamid.no-type",
    )
    assert no_type.reason == f"{prefix}.messages[1].type: is missing"
    assert no_type.raw["location"] == {"latitude": 52.52, "longitude": 13.405}
    assert no_type.timestamp == datetime.fromtimestamp(1751000002, timezone.utc)
    assert (no_type.field, no_type.waba_id, no_type.phone_number_id, no_type.display_phone_number) == (
        "messages",
        "100200300400500",
        "200300400500",
        "15550001111",
    )
    assert (bad_time.path, bad_time.item_id, bad_time.timestamp) == (
        f"{prefix}.messages[2].timestamp",
        "wamid.bad-timestamp",
        None,
    )
    assert bad_time.reason == f'{prefix}.messages[2].timestamp: expected Unix seconds, got "yesterday"'
    assert (no_id.kind, no_id.path, no_id.item_id) == ("status", f"{prefix}.statuses[0].id", None)
    assert no_id.timestamp == datetime.fromtimestamp(1751000003, timezone.utc)
    assert (echo.kind, echo.path, echo.field) == (
        "message_echo",
        "entry[0].changes[1].value.message_echoes[0].to",
        "smb_message_echoes",
    )
    assert echo.raw["text"] == {"body": "sent from the phone app"}


def test_an_item_that_is_not_an_object_hands_its_value_over_whole():
    invalid, good, whole = parsed("invalid_item_not_an_object.json")
    assert isinstance(invalid, InvalidItem) and invalid.raw == {}
    assert (invalid.path, invalid.item_id, invalid.timestamp) == (
        "entry[0].changes[0].value.messages[0]",
        None,
        None,
    )
    assert "expected an object, got a string" in invalid.reason
    assert isinstance(good, InboundMessage) and good.text == "hello"
    assert isinstance(whole, FieldUpdate) and whole.value["messages"][0] == "wamid.a-bare-string"


def test_invalid_item_is_exported_and_frozen():
    assert wacloud.InvalidItem is InvalidItem and "InvalidItem" in wacloud.__all__
    assert str(EventType.INVALID) == "invalid"
    item = parsed("invalid_items.json")[1]
    with pytest.raises(AttributeError):
        item.reason = "changed"


# 3. no sender at all
def test_a_message_without_any_sender_is_kept_with_the_sender_unknown():
    (message,) = parsed("sender_unknown.json")
    assert isinstance(message, InboundMessage)
    assert (message.from_wa_id, message.from_user_id) == (None, None)
    assert (message.message_id, message.text) == ("wamid.nobody-sent-this", "who am I?")


# 4. the single contact whose wa_id differs from "from"
def test_a_single_contact_is_the_senders_even_when_its_wa_id_differs():
    (message,) = parsed("contact_wa_id_differs.json")
    assert message.from_wa_id == "551187654321"
    assert message.contact == {"profile": {"name": "Bruna"}, "wa_id": "5511987654321"}
    assert message.contact_name == "Bruna"


def test_several_contacts_match_exactly_or_are_handed_over_with_their_value():
    message, whole = parsed("contacts_several_none_match.json")
    assert (message.contact, message.contact_name) == (None, None)
    assert isinstance(whole, FieldUpdate)
    assert [c["profile"]["name"] for c in whole.value["contacts"]] == ["Carla", "Dan"]


# 5. the older error shape
def test_errors_with_details_beside_the_title_keep_their_text():
    message, status = parsed("error_details_top_level.json")
    assert message.errors == [
        ErrorDetail(
            code=131051,
            title="Unsupported message type",
            message="",
            details="Message type is not currently supported",
            href="",
        )
    ]
    assert (status.errors[0].title, status.errors[0].details) == (
        "Media upload error",
        "Downloading media failed",
    )


# 6. a template quality update labelled as a status update
def test_a_template_status_change_without_event_is_a_field_update():
    (event,) = parsed("template_quality_labelled_status.json")
    assert isinstance(event, FieldUpdate) and event.field == "message_template_status_update"
    assert event.value["new_quality_score"] == "YELLOW"
    assert event.timestamp == datetime.fromtimestamp(1751000000, timezone.utc)


# 7. typed fields
def test_group_bsuid_unsupported_and_echo_fields_are_typed():
    group, unsupported, permission, echo = parsed("typed_fields.json")
    assert (group.group_id, group.from_user_id, group.from_parent_user_id) == (
        "GROUP.300400500",
        "US.1000000000000001",
        "US.ENT.2000000000000002",
    )
    assert (unsupported.type, unsupported.unsupported_type) == ("unsupported", "edit")
    assert (echo.to_wa_id, echo.to_user_id, echo.to_parent_user_id) == (
        "15550002222",
        "US.1000000000000001",
        "US.ENT.2000000000000002",
    )
    assert permission.interactive == InteractiveReply(
        type="call_permission_reply",
        response="accept",
        response_source="user_action",
        expiration=datetime.fromtimestamp(1751604803, timezone.utc),
        content=permission.raw["interactive"]["call_permission_reply"],
    )
    assert permission.interactive.content is permission.raw["interactive"]["call_permission_reply"]


def test_every_interactive_kind_keeps_its_object():
    message = {
        "from": "1",
        "id": "m",
        "timestamp": "1",
        "type": "interactive",
        "interactive": {"type": "future_reply", "future_reply": {"choice": 2}},
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": [message]}}]}],
    }
    (event,) = webhook.parse(json.dumps(body))
    assert event.interactive == InteractiveReply(type="future_reply", content={"choice": 2})
    assert event.interactive.content is event.raw["interactive"]["future_reply"]


def test_a_status_carries_its_recipients_contact():
    events = parsed("invalid_items.json")
    status = next(e for e in events if isinstance(e, StatusUpdate))
    assert status.contact == {"profile": {"name": "Ada"}, "wa_id": "15550002222"}


# 8. lone UTF-16 surrogate escapes
def test_lone_surrogate_escapes_become_replacement_characters():
    high, low, escaped = parsed("lone_surrogates.json")
    assert high.text == "cut emoji \ufffd"
    assert low.text == "\ufffd then a pair \U0001f600 and \ufffd\U0001f600"
    assert escaped.text == "C:\\ud800 stays text, \\\ufffd does not"


def test_repaired_bodies_still_report_errors_at_their_byte():
    # The escape is rewritten in place (same length): a later error keeps its offset.
    for lone in (b"\\ud800", b"\\udc00", b"\\ud800x"):
        body = b'{"object": "whatsapp_business_account", "note": "' + lone + b'", "entry": nope}'
        with pytest.raises(wacloud.WebhookPayloadError) as caught:
            webhook.parse(body)
        assert caught.value.path == "$"
        assert str(caught.value).endswith(f"at byte {body.index(b'nope')}")
