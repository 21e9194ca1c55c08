import json
from collections import Counter
from datetime import datetime, timezone

import pytest

import wacloud
from fixture_files import FIXTURES_DIR, all_fixture_paths
from wacloud import _core, webhook
from wacloud.events import (
    ButtonReply,
    ErrorDetail,
    EventType,
    FieldUpdate,
    InboundMessage,
    InteractiveReply,
    InvalidItem,
    Location,
    MediaRef,
    MessageContext,
    MessageStatus,
    Reaction,
    StatusUpdate,
    TemplateStatusUpdate,
    WebhookError,
)

FIXTURES = all_fixture_paths()  # the corpus, plus shared extras when present
MESSAGE_FIELDS = {"messages", "smb_message_echoes"}


def load(name: str) -> bytes:
    return (FIXTURES_DIR / name).read_bytes()


def only(name: str):
    events = webhook.parse(load(name))
    assert len(events) == 1, events
    return events[0]


def body_with(value: dict, field: str = "messages") -> str:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": field, "value": value}]}],
        }
    )


def message_body(message: dict) -> str:
    return body_with(
        {"metadata": {"phone_number_id": "5", "display_phone_number": "1"}, "messages": [message]}
    )


def test_fixtures_are_present():
    assert len(FIXTURES) >= 70


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.name)
def test_every_fixture_parses_and_every_id_appears_once(path):
    body = path.read_bytes()
    payload = json.loads(body)
    events = webhook.parse(body)

    expected_raw = []  # (kind, id, JSON object) found by walking the payload
    other_values = []
    for entry in payload["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            if change["field"] not in MESSAGE_FIELDS:
                other_values.append((change["field"], value))
                continue
            expected_raw += [("message", m["id"], m) for m in value.get("messages", [])]
            expected_raw += [("echo", m["id"], m) for m in value.get("message_echoes", [])]
            expected_raw += [("status", s["id"], s) for s in value.get("statuses", [])]

    found = []
    for event in events:
        assert event.waba_id == payload["entry"][0]["id"]
        assert event.event_type in set(EventType)
        if isinstance(event, InboundMessage):
            found.append(("echo" if event.is_echo else "message", event.message_id, event.raw))
        elif isinstance(event, StatusUpdate):
            found.append(("status", event.message_id, event.raw))
    assert Counter((kind, id_) for kind, id_, _ in found) == Counter(
        (kind, id_) for kind, id_, _ in expected_raw
    )
    # raw is exactly the JSON object each event came from.
    assert [raw for *_, raw in found] == [raw for *_, raw in expected_raw]

    generic = [e for e in events if isinstance(e, (FieldUpdate, TemplateStatusUpdate))]
    assert [(e.field, e.raw) for e in generic if e.field not in MESSAGE_FIELDS] == other_values
    # A messages value is handed over whole when part of it is in no event above.
    message_values = [
        c["value"] for entry in payload["entry"] for c in entry["changes"] if c["field"] in MESSAGE_FIELDS
    ]
    assert all(e.raw in message_values for e in generic if e.field in MESSAGE_FIELDS)


def test_text_message_fields():
    event = only("message__text.json")
    assert isinstance(event, InboundMessage)
    assert event.event_type is EventType.MESSAGE
    assert (event.field, event.waba_id) == ("messages", "1234567890987654321")
    assert (event.phone_number_id, event.display_phone_number) == ("1122334455667", "972123456789")
    assert event.message_id == "wamid.xyzxyz"
    assert event.from_wa_id == "972987654321"
    assert event.contact_name == "Test Name"
    assert event.contact["user_id"] == "US.13491208655302741918"
    assert (event.type, event.text) == ("text", "Body Text")
    assert event.timestamp == datetime(2023, 10, 11, 16, 53, 43, tzinfo=timezone.utc)
    assert event.context is None and event.media is None and not event.is_echo


def test_media_messages():
    image = only("message__media_with_url.json")
    assert image.media == MediaRef(
        id="65463453",
        mime_type="image/jpeg",
        sha256="4654+8g=",
        url=image.raw["image"]["url"],
    )
    assert only("message__voice.json").media.voice is True
    assert only("message__audio.json").media.voice is False
    document = only("message__document.json")
    assert (document.media.filename, document.media.caption) == ("filename.pdf", "caption")
    assert document.media.mime_type == "application/pdf"
    assert only("message__animated_sticker.json").media.animated is True
    assert only("message__static_sticker.json").media.animated is False
    video = only("message__video.json")
    assert (video.type, video.media.id, video.media.caption) == ("video", "765756756", "caption")


def test_location_contacts_order_system_referral():
    assert only("message__chosen_location.json").location == Location(
        latitude=37.4611978,
        longitude=-122.2164385,
        name="Facebook HQ",
        address="1 Hacker Way, Menlo Park, CA 94025",
        url="https://maps.google.com/?cid=2000000000000000000",
    )
    assert only("message__current_location.json").location == Location(12.25089, 43.90539)

    cards = only("message__contacts.json").contacts
    assert [card["name"]["formatted_name"] for card in cards] == ["Chandler Bing", "Monica", "Rachel Green"]

    order = only("message__order.json").order
    assert order["catalog_id"] == "354160437058781"
    assert [item["quantity"] for item in order["product_items"]] == [3, 2, 2]

    system = only("system__phone_number_change.json")
    assert system.system == {
        "body": "User A changed from 972987654321 to 972912345678",
        "wa_id": "972912345678",
        "type": "user_changed_number",
    }
    assert system.contact_name is None
    assert only("system__identity_change.json").system["type"] == "customer_identity_changed"

    referral = only("message__referral.json")
    assert referral.text == "BODY"
    assert referral.referral["ctwa_clid"] == "CTWA_CLID"


def test_interactive_button_and_flow_replies():
    assert only("callback_button__button.json").interactive == InteractiveReply(
        type="button_reply", id="callback_data", title="title"
    )
    assert only("callback_selection__description.json").interactive == InteractiveReply(
        type="list_reply", id="callback_data", title="title", description="description"
    )
    flow = only("flow_completion__completion.json").interactive
    assert flow.type == "nfm_reply" and (flow.body, flow.name) == ("Sent", "flow")
    assert json.loads(flow.response_json)["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
    permission = only("call_permission_update__accept.json")
    assert permission.interactive == InteractiveReply(
        type="call_permission_reply",
        response="accept",
        response_source="user_action",
        expiration=datetime.fromtimestamp(1753186982, timezone.utc),
        content=permission.raw["interactive"]["call_permission_reply"],
    )
    assert permission.raw["interactive"]["call_permission_reply"]["response"] == "accept"

    quick = only("callback_button__quick_reply.json")
    assert quick.type == "button"
    assert quick.button == ButtonReply(payload="callback_data", text="title")
    assert quick.context == MessageContext(message_id="wamid.xyzxyz==", from_wa_id="972123456789")
    assert only("callback_button__quick_reply_without_context.json").context is None


def test_reactions_removed_reaction_is_none():
    assert only("message__reaction.json").reaction == Reaction(message_id="wamid.yzxyzx=", emoji="\U0001f62e")
    assert only("message__unreaction_empty.json").reaction == Reaction("wamid.yzxyzx=", None)
    assert only("message__unreaction_no_emoji.json").reaction == Reaction("wamid.yzxyzx=", None)


def test_context_forwarding_and_referred_product():
    assert only("message__forwarded.json").context == MessageContext(None, None, forwarded=True)
    many = only("message__forwarded_many_times.json").context
    assert many.frequently_forwarded and not many.forwarded
    reply = only("message__reply.json").context
    assert (reply.message_id, reply.from_wa_id) == ("wamid.xyzxyz==", "972123456789")

    product = {"catalog_id": "C1", "product_retailer_id": "SKU"}
    message = {"from": "1", "id": "m", "timestamp": "1", "type": "text", "text": {"body": "is it in stock?"}}
    event = webhook.parse(message_body({**message, "context": {"id": "x", "referred_product": product}}))[0]
    assert event.context.referred_product == product


def test_edit_and_revoke():
    edit = only("edited_message__image.json")
    assert (edit.type, edit.edited_type) == ("edit", "image")
    assert edit.original_message_id == "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
    assert edit.media.caption == "Updated image caption"
    assert edit.context.message_id == "M0"
    revoke = only("deleted_message__revoke.json")
    assert (revoke.type, revoke.original_message_id) == ("revoke", "<ORIGINAL_WHATSAPP_MESSAGE_ID>")


def test_unsupported_and_unknown_types_keep_raw_json():
    unsupported = only("message__unsupported_with_type.json")
    assert unsupported.type == "unsupported"
    assert unsupported.errors == [
        ErrorDetail(
            code=131051,
            title="Message type unknown",
            message="Message type unknown",
            details="Message type is currently not supported.",
            href="",
        )
    ]
    assert unsupported.raw["unsupported"] == {"type": "pool"}

    future = {
        "from": "1",
        "id": "m",
        "timestamp": 5,
        "type": "hologram",
        "hologram": {"depth": [1, 2.5, None]},
    }
    event = webhook.parse(message_body(future))[0]
    assert event.type == "hologram" and event.raw == future


def test_interactive_without_object_and_value_errors():
    message, error = webhook.parse(load("message__interactive_message_with_err.json"))
    assert isinstance(message, InboundMessage) and message.interactive is None
    assert isinstance(error, WebhookError) and error.event_type is EventType.ERROR
    assert error.errors[0].code == 131000
    assert error.errors[0].details == "Unsupported webhook payload"
    assert (
        error.raw["errors"]
        == json.loads(load("message__interactive_message_with_err.json"))["entry"][0]["changes"][0]["value"][
            "errors"
        ]
    )


def test_message_echoes():
    text = only("outgoing_message__text.json")
    assert text.is_echo and text.field == "smb_message_echoes"
    assert (text.from_wa_id, text.to_wa_id) == (
        "<BUSINESS_DISPLAY_PHONE_NUMBER>",
        "<WHATSAPP_USER_PHONE_NUMBER>",
    )
    assert text.text == "Test message"
    assert (text.to_user_id, text.to_parent_user_id) == ("<BSUID>", "<PARENT_BSUID>")
    assert text.contact_name == "Test Name"  # the one contacts entry is the user's
    edit, whole = webhook.parse(load("outgoing_message__edit.json"))
    assert (edit.text, edit.edited_type, edit.original_message_id) == (
        "Text was edited",
        "text",
        "wamid.zzzzzz",
    )
    # The entry names the echo's sender, not the user it went to: it is nobody's
    # contact, so the value is handed over whole too.
    assert edit.contact_name is None
    assert isinstance(whole, FieldUpdate) and whole.value["contacts"] == whole.raw["contacts"]
    delete = webhook.parse(load("outgoing_message__delete.json"))[0]
    assert (delete.type, delete.original_message_id) == ("revoke", "wamid.zzzzzz")


def test_statuses_with_conversation_pricing_and_errors():
    sent = only("message_status__with_tracker.json")
    assert isinstance(sent, StatusUpdate) and sent.event_type is EventType.STATUS
    assert sent.status == MessageStatus.SENT
    assert (sent.message_id, sent.recipient_id) == ("wamid.xyzxyz", "972987654321")
    assert (sent.conversation_id, sent.conversation_origin) == ("7270432eae37498234f4444b35ffc5", "service")
    assert sent.conversation_expiration == datetime.fromtimestamp(1698339900, timezone.utc)
    assert (sent.billable, sent.pricing_model, sent.pricing_category) == (True, "CBP", "service")
    assert sent.biz_opaque_callback_data == "some data"
    assert sent.errors == []

    failed = only("message_status__failed.json")
    assert (
        failed.status == MessageStatus.FAILED and failed.conversation_id is None and failed.billable is None
    )
    assert failed.errors[0].code == 130472
    assert (
        failed.errors[0].href
        == "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    )
    assert failed.errors[0].details.startswith("Failed to send message")

    group = only("message_status__group.json")
    assert (group.recipient_type, group.recipient_participant_id) == (
        "group",
        "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>",
    )
    assert group.contact["user_id"] == "US.123456"  # the one contacts entry
    plain = only("message_status__sent.json")
    assert plain.contact["wa_id"] == plain.recipient_id == "972987654321"
    assert only("message_status__played.json").status == MessageStatus.PLAYED
    assert only("message_status__delivered.json").conversation_expiration is None


def test_template_status_update():
    event = only("template_status_update__rejected.json")
    assert isinstance(event, TemplateStatusUpdate) and event.event_type is EventType.TEMPLATE_STATUS
    assert (event.template_id, event.template_name, event.language) == (
        "1689556908129835",
        "abandoned_cart",
        "en",
    )
    assert (event.status, event.reason, event.category) == ("REJECTED", "INVALID_FORMAT", "MARKETING")
    assert event.timestamp == datetime.fromtimestamp(1751247548, timezone.utc)  # entry.time
    assert event.raw["rejection_info"]["recommendation"].startswith("Separate parameters")


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("account_update__account_restriction.json", "account_update"),
        ("template_quality_update__yellow.json", "message_template_quality_update"),
        ("template_category_update__marketing.json", "template_category_update"),
        ("template_components_update__element.json", "message_template_components_update"),
        ("call_terminate__call_terminate.json", "calls"),
        ("call_status__call_status.json", "calls"),
        ("user_marketing_preferences__signup.json", "user_preferences"),
    ],
)
def test_generic_fields_keep_their_raw_value(name, field):
    event = only(name)
    assert isinstance(event, FieldUpdate) and event.event_type is EventType.FIELD_UPDATE
    assert event.field == field
    assert event.value == json.loads(load(name))["entry"][0]["changes"][0]["value"]
    assert event.value is event.raw


def test_unknown_value_keys_and_empty_values_are_not_dropped():
    message = {"from": "1", "id": "m", "timestamp": "1", "type": "text", "text": {"body": "hi"}}
    events = webhook.parse(body_with({"messages": [message], "surprise": [1]}))
    assert [type(e) for e in events] == [InboundMessage, FieldUpdate]
    assert events[1].value["surprise"] == [1]
    (event,) = webhook.parse(body_with({"messaging_product": "whatsapp"}))
    assert isinstance(event, FieldUpdate) and event.field == "messages"


def test_timestamps_are_utc_aware_and_accept_strings_or_integers():
    base = {"from": "1", "id": "m", "type": "text", "text": {"body": "x"}}
    as_string = webhook.parse(message_body({**base, "timestamp": "1697043223"}))[0].timestamp
    as_integer = webhook.parse(message_body({**base, "timestamp": 1697043223}))[0].timestamp
    assert as_string == as_integer == datetime(2023, 10, 11, 16, 53, 43, tzinfo=timezone.utc)
    assert as_string.tzinfo is timezone.utc
    for event in webhook.parse(load("message_status__sent.json")) + webhook.parse(
        load("account_update__partner_added.json")
    ):
        assert event.timestamp.utcoffset().total_seconds() == 0


def bad_message(**fields):
    return message_body({"from": "1", "id": "m", "timestamp": "1", "type": "text", **fields})


MESSAGE_PATH = "entry[0].changes[0].value.messages[0]"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"", "$"),
        (b"not json", "$"),
        (b"[]", "$"),
        (b'{"object": "whatsapp_business_account", "entry": [] ', "$"),
        (b'{"object": "page", "entry": []}', "object"),
        (b'{"object": ["whatsapp_business_account"], "entry": []}', "object"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry"),
        (b'{"object": "whatsapp_business_account", "entry": [{"id": "1"}]}', "entry[0].changes"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{}]}]}',
            "entry[0].changes[0].field",
        ),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "x"}]}]}',
            "entry[0].changes[0].value",
        ),
        (body_with({"metadata": []}), "entry[0].changes[0].value.metadata"),
        (body_with({"contacts": [7]}), "entry[0].changes[0].value.contacts[0]"),
        (body_with({"messages": {}}), "entry[0].changes[0].value.messages"),
        (body_with({"errors": [{"code": "E"}]}), "entry[0].changes[0].value.errors[0].code"),
        (
            body_with({"event": "APPROVED"}, "message_template_status_update"),
            "entry[0].changes[0].value.message_template_id",
        ),
    ],
)
def test_malformed_bodies_raise_with_path(body, path):
    with pytest.raises(wacloud.WebhookPayloadError) as caught:
        webhook.parse(body)
    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)
    assert path in str(caught.value)


GOOD_MESSAGE = {"from": "1", "id": "good", "timestamp": "1", "type": "text", "text": {"body": "ok"}}
GOOD_STATUS = {"id": "good", "status": "delivered", "timestamp": "2", "recipient_id": "1"}
STATUS_PATH = "entry[0].changes[0].value.statuses[0]"


def bad_status(**fields):
    return {"id": "s", "status": "sent", "timestamp": "1", **fields}


@pytest.mark.parametrize(
    ("item", "path", "reason"),
    [
        ({"status": "sent", "timestamp": "1"}, f"{STATUS_PATH}.id", "is missing"),
        ({"id": "s", "status": "sent"}, f"{STATUS_PATH}.timestamp", "is missing"),
        (
            bad_status(pricing={"billable": "yes"}),
            f"{STATUS_PATH}.pricing.billable",
            "expected a boolean, got a string",
        ),
        ({"from": "1", "timestamp": "1", "type": "text"}, f"{MESSAGE_PATH}.id", "is missing"),
        (
            {"from": "1", "id": "m", "timestamp": "yesterday", "type": "text"},
            f"{MESSAGE_PATH}.timestamp",
            'expected Unix seconds, got "yesterday"',
        ),
        (
            {"from": "1", "id": "m", "timestamp": 1.5, "type": "text"},
            f"{MESSAGE_PATH}.timestamp",
            "expected Unix seconds (an integer or a string of digits), got a number",
        ),
        (
            {"from": "1", "id": "m", "timestamp": 99999999999999, "type": "text"},
            f"{MESSAGE_PATH}.timestamp",
            "timestamp out of range (0 to 253402300799)",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": "text", "text": "hello"},
            f"{MESSAGE_PATH}.text",
            "expected an object, got a string",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": "image", "image": {"caption": "no id"}},
            f"{MESSAGE_PATH}.image.id",
            "is missing",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": "reaction", "reaction": {"emoji": "x"}},
            f"{MESSAGE_PATH}.reaction.message_id",
            "is missing",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": "contacts", "contacts": {"name": "x"}},
            f"{MESSAGE_PATH}.contacts",
            "expected an array, got an object",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": "text", "context": {"id": 5}},
            f"{MESSAGE_PATH}.context.id",
            "expected a string, got an integer",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": "text", "errors": [{"code": "E"}]},
            f"{MESSAGE_PATH}.errors[0].code",
            "expected an integer, got a string",
        ),
        (
            {"from": "1", "id": "m", "timestamp": "1", "type": ["text"]},
            f"{MESSAGE_PATH}.type",
            "expected a string, got an array",
        ),
    ],
)
def test_malformed_items_become_invalid_items_and_neighbours_parse(item, path, reason):
    is_status = path.startswith(STATUS_PATH)
    key, good = ("statuses", GOOD_STATUS) if is_status else ("messages", GOOD_MESSAGE)
    invalid, neighbour = webhook.parse(
        body_with({"metadata": {"phone_number_id": "5", "display_phone_number": "1"}, key: [item, good]})
    )
    assert isinstance(invalid, InvalidItem) and invalid.event_type is EventType.INVALID
    assert (invalid.kind, invalid.path, invalid.reason) == (
        "status" if is_status else "message",
        path,
        f"{path}: {reason}",
    )
    assert invalid.raw == item
    assert invalid.item_id == item.get("id")
    assert (invalid.field, invalid.waba_id, invalid.phone_number_id) == ("messages", "1", "5")
    assert isinstance(neighbour, StatusUpdate if is_status else InboundMessage)
    assert neighbour.message_id == "good" and neighbour.raw == good


def test_deep_nesting_is_refused():
    assert _core.WEBHOOK_MAX_DEPTH == webhook.MAX_DEPTH == 32
    with pytest.raises(wacloud.WebhookPayloadError, match="deeper than the limit of 32") as caught:
        webhook.parse(b"[" * 10_000 + b"]" * 10_000)
    assert caught.value.path == "$"


@pytest.mark.parametrize(
    "name", ["message__text.json", "message_status__failed.json", "outgoing_message__edit.json"]
)
def test_every_prefix_of_a_real_payload_raises(name):
    body = load(name)
    end = body.rindex(b"}")
    for length in range(end):
        with pytest.raises(wacloud.WebhookPayloadError) as caught:
            webhook.parse(body[:length])
        assert caught.value.path == "$"


def test_accepts_str_and_bytearray_and_refuses_other_types():
    body = load("message__text.json")
    assert webhook.parse(body.decode()) == webhook.parse(bytearray(body)) == webhook.parse(body)
    with pytest.raises(TypeError):
        webhook.parse(42)


def test_large_bodies_of_every_type_parse_alike():
    # Above 16 KiB the core works with the GIL released, on a copy of a bytearray.
    body = json.loads(load("message__text.json"))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "x" * 40_000
    raw = json.dumps(body).encode()
    events = webhook.parse(raw)
    assert events[0].text == "x" * 40_000
    assert webhook.parse(bytearray(raw)) == webhook.parse(raw.decode()) == events
    assert _core.webhook_routing(bytearray(raw)) == _core.webhook_routing(raw)


def test_strings_decode_like_json_loads():
    message = {
        "from": "1",
        "id": "m",
        "timestamp": "1",
        "type": "text",
        "text": {"body": "caf\u00e9 \U0001f600"},
    }
    assert webhook.parse(message_body(message))[0].text == "caf\u00e9 \U0001f600"
    # A lone surrogate escape (json.loads keeps it) is read as U+FFFD; invalid
    # UTF-8 is a typed error, never a UnicodeDecodeError.
    lone = webhook.parse(message_body(message).replace("caf\\u00e9", "\\ud800"))
    assert lone[0].text == "\ufffd \U0001f600"
    with pytest.raises(wacloud.WebhookPayloadError):
        webhook.parse(message_body(message).encode().replace(b"caf", b"\xff\xfe"))


def test_parse_many_returns_or_raises_errors():
    good = load("message__text.json")
    status = load("message_status__sent.json")
    results = webhook.parse_many([good, b"{", status, b"[]"], return_exceptions=True)
    assert [type(r) for r in results] == [
        list,
        wacloud.WebhookPayloadError,
        list,
        wacloud.WebhookPayloadError,
    ]
    assert results[0] == webhook.parse(good)
    assert results[2] == webhook.parse(status)
    assert results[1].path == results[3].path == "$"

    with pytest.raises(wacloud.WebhookPayloadError, match="not valid JSON"):
        webhook.parse_many([good, b"{"])
    assert webhook.parse_many([]) == []
    assert webhook.parse_many([bytearray(good), good.decode()]) == [webhook.parse(good)] * 2
    with pytest.raises(TypeError):
        webhook.parse_many([good, None])


def test_events_are_frozen_and_typed():
    event = only("message__text.json")
    with pytest.raises(AttributeError):
        event.text = "changed"
    assert str(EventType.MESSAGE) == "message"
    assert MessageStatus("delivered") is MessageStatus.DELIVERED


def test_parse_many_across_several_chunks_matches_parse():
    # More bodies than one core call takes (webhook._CHUNK), a bad one mid-batch.
    bodies = [path.read_bytes() for path in FIXTURES] * 8
    bad_index = webhook._CHUNK + 3
    bodies.insert(bad_index, b'{"object": "whatsapp_business_account", "entry": 7}')
    assert len(bodies) > 2 * webhook._CHUNK
    results = webhook.parse_many(bodies, return_exceptions=True)
    assert len(results) == len(bodies)
    assert isinstance(results[bad_index], wacloud.WebhookPayloadError)
    assert results[bad_index].path == "entry"
    for index, (body, result) in enumerate(zip(bodies, results, strict=True)):
        if index != bad_index:
            assert result == webhook.parse(body)
    with pytest.raises(wacloud.WebhookPayloadError):
        webhook.parse_many(bodies)


def test_every_field_of_every_event_is_set():
    # The binding fills the dataclass slots itself; a forgotten one would only
    # show up as an AttributeError when read.
    import dataclasses

    def check(value):
        if dataclasses.is_dataclass(value):
            for field in dataclasses.fields(value):
                check(getattr(value, field.name))
        elif isinstance(value, list):
            for item in value:
                check(item)

    for path in FIXTURES:
        for event in webhook.parse(path.read_bytes()):
            check(event)
            assert isinstance(event.event_type, EventType)
            assert event == type(event)(**{f.name: getattr(event, f.name) for f in dataclasses.fields(event)})


@pytest.mark.parametrize(
    "seconds",
    [0, 1, 59, 86_399, 86_400, 951_782_400, 951_868_799, 1_697_043_223, 4_107_542_400, 253_402_300_799],
)
def test_timestamps_equal_datetime_fromtimestamp(seconds):
    # Epoch, day and leap-day boundaries (2000-02-29), 2100-03-01, datetime.max's second.
    message = {"from": "1", "id": "m", "timestamp": seconds, "type": "text", "text": {"body": "x"}}
    (event,) = webhook.parse(message_body(message))
    assert event.timestamp == datetime.fromtimestamp(seconds, timezone.utc)
    assert event.timestamp.tzinfo is timezone.utc


def test_fields_that_are_parts_of_raw_share_its_objects():
    order = only("message__order.json")
    assert order.order is order.raw["order"]
    cards = only("message__contacts.json")
    assert all(card is raw for card, raw in zip(cards.contacts, cards.raw["contacts"], strict=True))
    referral = only("message__referral.json")
    assert referral.referral is referral.raw["referral"]
    system = only("system__phone_number_change.json")
    assert system.system is system.raw["system"]


def test_timestamps_across_the_whole_range_equal_datetime_fromtimestamp():
    step = 253_402_300_799 // 4_999  # about every 1.6 years, at varying times of day
    seconds = [i * step for i in range(5_000)]
    messages = [
        {"from": "1", "id": str(i), "timestamp": s, "type": "text", "text": {"body": "x"}}
        for i, s in enumerate(seconds)
    ]
    body = body_with({"messages": messages})
    got = [event.timestamp for event in webhook.parse(body)]
    assert got == [datetime.fromtimestamp(s, timezone.utc) for s in seconds]
