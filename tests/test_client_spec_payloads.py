"""Every payload builder of the client, with every option, sends a body that Meta's OpenAPI spec
(wacloud/sandbox/meta/, the ``sendMessage`` request schema) accepts. The bodies are the ones on
the wire (recorded by the Graph stub), so the C++ builders are what is judged.

Mark-as-read has no schema in the spec, only the example "Send typing indicator and read
receipt": its body is compared with that example instead."""

from __future__ import annotations

from typing import Any

import pytest

from graph_stub import GraphStub
from test_template_components import EXPECTED as TYPED_COMPONENTS
from wacloud import Client, ProductSection, messages
from wacloud.messages import (
    Audio,
    Buttons,
    Contacts,
    CtaUrl,
    Document,
    Flow,
    Header,
    Image,
    ListMessage,
    Location,
    Product,
    ProductList,
    Reaction,
    ReplyButton,
    Row,
    Section,
    Sticker,
    Template,
    Text,
    Video,
)
from wacloud.sandbox import spec

PHONE_ID = "106540352242922"
TO = "+1 650-555-1234"
LINK = "https://media.example/file"
CARD = {
    "name": {"formatted_name": "Ana Lima", "first_name": "Ana", "last_name": "Lima", "prefix": "Dr"},
    "phones": [{"phone": "+1 650 555 1234", "type": "CELL", "wa_id": "16505551234"}],
    "emails": [{"email": "ana@example.com", "type": "WORK"}],
    "addresses": [{"street": "1 Way", "city": "Menlo Park", "country_code": "us", "type": "HOME"}],
    "org": {"company": "Acme", "title": "Buyer"},
    "urls": [{"url": "https://acme.example", "type": "WORK"}],
    "birthday": "1990-05-01",
}
TEMPLATE_COMPONENTS = [
    {"type": "header", "parameters": [{"type": "image", "image": {"link": LINK + ".jpg"}}]},
    {
        "type": "body",
        "parameters": [
            {"type": "text", "text": "Ana"},
            {"type": "currency", "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10000}},
            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}},
        ],
    },
    {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "stop"}],
    },
    {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "order/42"}]},
]
SECTIONS = [
    Section([Row("a", "Standard", "3-5 days"), ("b", "Express")], title="Shipping"),
    {"title": "Pickup", "rows": [{"id": "c", "title": "In store"}]},
]

BUILDERS: dict[str, Any] = {
    "text": Text("Hello"),
    "text-preview": Text("See https://wacloud.example", preview_url=True),
    "image-id-caption": Image(media_id="1001", caption="A cat"),
    "image-link": Image(link=LINK + ".jpg"),
    "video-id-caption": Video(media_id="1002", caption="Clip"),
    "video-link": Video(link=LINK + ".mp4"),
    "document-id": Document(media_id="1003", filename="invoice.pdf", caption="Your invoice"),
    "document-link": Document(link=LINK + ".pdf", filename="invoice.pdf"),
    "audio-id": Audio(media_id="1004"),
    "audio-link": Audio(link=LINK + ".ogg"),
    "sticker-id": Sticker(media_id="1005"),
    "sticker-link": Sticker(link=LINK + ".webp"),
    "location": Location(37.48, -122.15),
    "location-named": Location(37.48, -122.15, name="HQ", address="1 Hacker Way"),
    "contacts": Contacts([CARD, {"name": {"formatted_name": "Bo"}, "phones": [{"phone": "+15550001111"}]}]),
    "reaction": Reaction("wamid.IN", "👍"),
    "reaction-removed": Reaction("wamid.IN", ""),
    "template": Template("hello_world", "en_US"),
    "template-components": Template("order_update", "en_US", TEMPLATE_COMPONENTS),
    # Every typed component (each one alone, parameters too: tests/test_template_components.py).
    "template-typed": Template("order_update", "en_US", [c for c, _ in TYPED_COMPONENTS.values()]),
    "buttons": Buttons("Pick one", [ReplyButton("y", "Yes"), ("n", "No"), {"id": "m", "title": "Maybe"}]),
    "buttons-text-header-footer": Buttons("Pick", [("y", "Yes")], header="Question", footer="Thanks"),
    "buttons-image-header": Buttons("Pick", [("y", "Yes")], header=Header.image(media_id="1001")),
    "buttons-video-header": Buttons("Pick", [("y", "Yes")], header=Header.video(link=LINK + ".mp4")),
    "buttons-document-header": Buttons("Pick", [("y", "Yes")], header=Header.document(link=LINK + ".pdf")),
    "list": ListMessage("Choose shipping", "Options", SECTIONS),
    "list-header-footer": ListMessage("Choose", "Options", SECTIONS, header="Shipping", footer="Any time"),
    "cta-url": CtaUrl("Track your order", "Track", "https://shop.example/track/42"),
    "cta-url-header-footer": CtaUrl(
        "Track", "Track", "https://shop.example/t", header=Header.of_text("Order 42"), footer="Thanks"
    ),
    "cta-url-image-header": CtaUrl(
        "Track", "Track", "https://shop.example/t", header=Header.image(link=LINK)
    ),
    "flow-navigate": Flow("Book a table", "Book!", "1234567890", flow_token="t-1", screen="START"),
    "flow-navigate-data": Flow("Book", "Book!", "1234567890", screen="START", data={"guests": 2}),
    "flow-exchange-by-name": Flow(
        "Book", "Book!", flow_name="booking", flow_action="data_exchange", mode="draft"
    ),
    "flow-header-footer": Flow("Book", "Book!", "1234567890", header="Tables", footer="Open 9-5"),
    "product": Product("1234", "sku-1"),
    "product-body-footer": Product("1234", "sku-1", body="Our best seller", footer="While stocks last"),
    "product-list": ProductList("Menu", "Pick a dish", "1234", [{"product_retailer_ids": ["a", "b"]}]),
    "product-list-sections": ProductList(
        "Menu", "Pick", "1234", [ProductSection("Drinks", ["a"]), ("Food", ("b", "c"))], footer="Enjoy"
    ),
}


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def client_for(stub: GraphStub) -> Client:
    return Client("token", PHONE_ID, base_url=stub.base_url)


def test_every_builder_is_covered():
    builders = {
        cls
        for name in messages.__all__
        if isinstance(cls := getattr(messages, name), type) and issubclass(cls, messages.Message)
    } - {messages.Message}
    assert builders == {type(message) for message in BUILDERS.values()}


@pytest.mark.parametrize("reply_to", [None, "wamid.PREVIOUS"], ids=["new", "reply"])
@pytest.mark.parametrize("name", BUILDERS)
def test_every_builder_sends_a_body_the_spec_accepts(stub, name, reply_to):
    client_for(stub).send(TO, BUILDERS[name], reply_to=reply_to)
    (request,) = stub.requests
    body = request.json()
    assert ("context" in body) == (reply_to is not None)
    problems = spec.operation("sendMessage").check_body(body)
    assert problems == [], [str(p) for p in problems]


def test_the_spec_refuses_what_meta_refuses():
    """The judge is not lenient: a misspelt field, a wrong type or a missing part fails it."""
    body = Text("Hello").to_payload(TO)
    check = spec.operation("sendMessage").check_body
    assert check({**body, "text": {"body": "Hello", "preview": True}})
    assert check({**body, "text": {"body": 42}})
    assert check({**body, "type": "image", "image": {"caption": "no id, no link"}})
    assert check({**body, "messaging_product": None})


def read_receipt_example() -> dict[str, Any]:
    examples = spec.operation("sendMessage").definition["requestBody"]["content"]["application/json"]
    return examples["examples"]["Send typing indicator and read receipt"]["value"]


@pytest.mark.parametrize("typing", [False, True], ids=["read", "read-typing"])
def test_mark_read_sends_the_body_of_metas_example(stub, typing):
    client_for(stub).mark_read("wamid.IN", typing_indicator=typing)
    (request,) = stub.requests
    body, example = request.json(), read_receipt_example()
    expected = dict(example) if typing else {k: v for k, v in example.items() if k != "typing_indicator"}
    assert body == {**expected, "message_id": "wamid.IN"}
