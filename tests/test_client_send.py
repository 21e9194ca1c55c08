"""Client sends against the local Graph stub: request paths, headers and the
exact JSON body Meta documents for every message type."""

import json

import pytest

import wacloud
from graph_stub import GraphStub, Reply
from wacloud import Client, InvalidParameter, InvalidPhoneNumber, SendResult
from wacloud.messages import (
    Audio,
    Buttons,
    Contacts,
    CtaUrl,
    Document,
    Header,
    Image,
    ListMessage,
    Location,
    Reaction,
    ReplyButton,
    Row,
    Section,
    Sticker,
    Template,
    Text,
    Video,
)

TOKEN = "EAAG-secret-token-123"
PHONE_ID = "106540352242922"
TO = "+1 (650) 555-1234"
WA_ID = "16505551234"
BASE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID}


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def make_client(stub, **options):
    return Client(TOKEN, PHONE_ID, waba_id="102290129340398", base_url=stub.base_url, **options)


def sent_body(stub):
    (request,) = stub.requests
    assert request.method == "POST"
    assert request.path == f"/v25.0/{PHONE_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    return request.json()


def test_send_text_exact_request_and_result(stub):
    result = make_client(stub).send_text(TO, "Hello, world", preview_url=True)
    assert sent_body(stub) == {**BASE, "type": "text", "text": {"preview_url": True, "body": "Hello, world"}}
    assert result == SendResult("wamid.TEST000001", WA_ID, WA_ID, "")


def test_api_version_and_trailing_slash_in_base_url(stub):
    Client(TOKEN, PHONE_ID, api_version="v23.0", base_url=stub.base_url + "/").send_text(TO, "hi")
    assert stub.requests[0].path == f"/v23.0/{PHONE_ID}/messages"


def test_reply_to_adds_context(stub):
    make_client(stub).send_text(TO, "answer", reply_to="wamid.ORIGINAL")
    assert sent_body(stub) == {
        **BASE,
        "context": {"message_id": "wamid.ORIGINAL"},
        "type": "text",
        "text": {"preview_url": False, "body": "answer"},
    }


MEDIA_CASES = [
    ("send_image", {"media_id": "1234", "caption": "A cat"}, "image", {"id": "1234", "caption": "A cat"}),
    ("send_image", {"link": "https://example.com/a.jpg"}, "image", {"link": "https://example.com/a.jpg"}),
    ("send_video", {"media_id": "77", "caption": "clip"}, "video", {"id": "77", "caption": "clip"}),
    ("send_audio", {"media_id": "88"}, "audio", {"id": "88"}),
    (
        "send_sticker",
        {"link": "https://example.com/s.webp"},
        "sticker",
        {"link": "https://example.com/s.webp"},
    ),
    (
        "send_document",
        {"media_id": "99", "caption": "Invoice", "filename": "invoice.pdf"},
        "document",
        {"id": "99", "caption": "Invoice", "filename": "invoice.pdf"},
    ),
]


@pytest.mark.parametrize(("method", "kwargs", "kind", "media"), MEDIA_CASES)
def test_send_media_exact_body(stub, method, kwargs, kind, media):
    getattr(make_client(stub), method)(TO, **kwargs)
    assert sent_body(stub) == {**BASE, "type": kind, kind: media}


def test_send_location(stub):
    make_client(stub).send_location(TO, 37.4847, -122.1473, name="Menlo Park", address="1 Hacker Way")
    assert sent_body(stub) == {
        **BASE,
        "type": "location",
        "location": {
            "latitude": 37.4847,
            "longitude": -122.1473,
            "name": "Menlo Park",
            "address": "1 Hacker Way",
        },
    }


def test_send_contacts_passes_contact_objects_through(stub):
    contacts = [
        {"name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"}, "phones": [{"phone": "+441234"}]}
    ]
    make_client(stub).send_contacts(TO, contacts)
    assert sent_body(stub) == {**BASE, "type": "contacts", "contacts": contacts}


@pytest.mark.parametrize("emoji", ["\U0001f44d", ""])
def test_send_reaction_and_removal(stub, emoji):
    make_client(stub).send_reaction(TO, "wamid.ABC", emoji)
    assert sent_body(stub) == {
        **BASE,
        "type": "reaction",
        "reaction": {"message_id": "wamid.ABC", "emoji": emoji},
    }


def test_send_template_with_components_reports_message_status(stub):
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]
    result = make_client(stub).send_template(TO, "order_update", "en_US", components)
    assert sent_body(stub) == {
        **BASE,
        "type": "template",
        "template": {"name": "order_update", "language": {"code": "en_US"}, "components": components},
    }
    assert result.message_status == "accepted"


def test_send_buttons_with_image_header(stub):
    buttons = [ReplyButton("change", "Change"), ("cancel", "Cancel")]
    header = Header.image(link="https://example.com/h.png")
    make_client(stub).send_buttons(TO, "Change or cancel?", buttons, header=header, footer="Lucky Shrub")
    assert sent_body(stub) == {
        **BASE,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "image", "image": {"link": "https://example.com/h.png"}},
            "body": {"text": "Change or cancel?"},
            "footer": {"text": "Lucky Shrub"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}},
                ]
            },
        },
    }


def test_send_list(stub):
    sections = [
        Section([Row("priority", "Priority Mail", "Next day"), ("ground", "Ground")], title="Shipping"),
        {"title": "Pickup", "rows": [{"id": "store", "title": "In store"}]},
    ]
    make_client(stub).send_list(TO, "Which option?", "Options", sections, header="Choose", footer="Thanks")
    assert sent_body(stub) == {
        **BASE,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Choose"},
            "body": {"text": "Which option?"},
            "footer": {"text": "Thanks"},
            "action": {
                "button": "Options",
                "sections": [
                    {
                        "title": "Shipping",
                        "rows": [
                            {"id": "priority", "title": "Priority Mail", "description": "Next day"},
                            {"id": "ground", "title": "Ground"},
                        ],
                    },
                    {"title": "Pickup", "rows": [{"id": "store", "title": "In store"}]},
                ],
            },
        },
    }


def test_send_cta_url(stub):
    make_client(stub).send_cta_url(TO, "See dates", "Book", "https://example.com/book", header="Tours")
    assert sent_body(stub) == {
        **BASE,
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "header": {"type": "text", "text": "Tours"},
            "body": {"text": "See dates"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Book", "url": "https://example.com/book"},
            },
        },
    }


ALL_MESSAGES = [
    Text("hi"),
    Image(media_id="1"),
    Audio(link="https://example.com/a.ogg"),
    Video(media_id="2", caption="c"),
    Document(media_id="3", filename="f.pdf"),
    Sticker(media_id="4"),
    Location(1.5, 2.5),
    Contacts([{"name": {"formatted_name": "A"}}]),
    Reaction("wamid.X", "\u2764\ufe0f"),
    Template("hello_world", "en_US"),
    Buttons("b", [("1", "One")]),
    ListMessage("b", "Open", [Section([Row("r", "Row")])]),
    CtaUrl("b", "Go", "https://example.com"),
]


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: type(m).__name__)
def test_send_dataclass_matches_to_payload(stub, message):
    make_client(stub).send(TO, message)
    assert sent_body(stub) == message.to_payload(TO)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.send_text(TO, "x" * 4097), "body"),
        (lambda c: c.send_image(TO, media_id="1", caption="c" * 1025), "caption"),
        (lambda c: c.send_buttons(TO, "b", [("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")]), "buttons"),
        (lambda c: c.send_buttons(TO, "b", [("1", "t" * 21)]), "buttons[0].title"),
        (lambda c: c.send_list(TO, "b", "x" * 21, [Section([Row("r", "t")])]), "button"),
        (lambda c: c.send_location(TO, 91, 0), "latitude"),
        (lambda c: c.send_template(TO, "Bad Name", "en_US"), "name"),
        (lambda c: c.send_reaction(TO, "wamid.X", "ok"), "emoji"),
        (lambda c: c.send_image(TO), "image"),
        (lambda c: c.send_cta_url(TO, "b", "Go", "ftp://x"), "url"),
        (lambda c: c.send_text(TO, 42), "body"),
        # Meta's contacts message reference: at most 5 contact cards per message.
        (lambda c: c.send(TO, Contacts([{"name": {"formatted_name": "A"}}] * 6)), "contacts"),
    ],
)
def test_invalid_payload_raises_before_any_request(stub, call, field):
    with pytest.raises(InvalidParameter) as raised:
        call(make_client(stub))
    assert str(raised.value).startswith(field + ":")
    assert raised.value.code == 100
    assert stub.requests == []


def test_bad_recipient_raises_invalid_phone_number_unsent(stub):
    with pytest.raises(InvalidPhoneNumber):
        make_client(stub).send_text("12", "hi")
    with pytest.raises(TypeError):
        make_client(stub).send_text(16505551234, "hi")
    assert stub.requests == []


def test_default_region_reads_national_numbers(stub):
    make_client(stub, default_region="GB").send_text("07911 123456", "hi")
    assert stub.requests[0].json()["to"] == "447911123456"


def test_keep_alive_reuses_one_connection(stub):
    client = make_client(stub)
    for _ in range(5):
        client.send_text(TO, "hi")
    assert len(stub.requests) == 5
    assert stub.connections == 1


def test_mark_read_and_typing_indicator(stub):
    client = make_client(stub)
    client.mark_read("wamid.IN")
    client.mark_read("wamid.IN2", typing_indicator=True)
    first, second = (r.json() for r in stub.requests)
    assert first == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}
    assert second == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN2",
        "typing_indicator": {"type": "text"},
    }


def test_send_answer_without_message_id_is_delivery_unknown(stub):
    stub.script("POST", f"/v25.0/{PHONE_ID}/messages", Reply(200, {"messaging_product": "whatsapp"}))
    with pytest.raises(wacloud.DeliveryUnknown):
        make_client(stub).send_text(TO, "hi")


def test_send_truncated_success_body_is_delivery_unknown_and_not_resent(stub):
    stub.script("POST", f"/v25.0/{PHONE_ID}/messages", Reply(200, '{"messages": [{"id": "wamid.'))
    with pytest.raises(wacloud.DeliveryUnknown):
        make_client(stub).send_text(TO, "hi")
    assert len(stub.requests) == 1


def test_to_payload_is_plain_json():
    payload = Buttons("b", [("1", "One")]).to_payload(TO)
    assert json.loads(json.dumps(payload)) == payload
