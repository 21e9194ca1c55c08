"""Checks Meta makes that the sandbox makes too: template parameters and buttons, template
bodies that start or end with a variable, interactive headers, contacts per message, the
upload's ``type`` field and sticker sizes.

Sources: the template message reference
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#template-object:
button components need ``sub_type`` and ``index``; ``currency`` needs ``fallback_value``, ``code``
and ``amount_1000``; ``date_time`` needs ``fallback_value``), template creation errors
(https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates: subcode
2388299, variables at the start or end), the interactive object reference (list headers are text;
product_list needs ``header`` and ``body``; single product takes no header), the contacts message
reference (at most 5 contacts), the media upload reference (``type`` required) and the supported
media types (stickers: static 100 KB, animated 500 KB)."""

from __future__ import annotations

import struct

import pytest
from sandbox_support import USER, assert_valid_error
from test_media_templates import create, multipart

BUTTON_TEMPLATE = [
    {"type": "BODY", "text": "Your order {{1}} is ready."},
    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"}]},
]


@pytest.fixture
def order_template(graph, wa_sandbox):
    assert create(graph, "order_ready", BUTTON_TEMPLATE).status == 200
    wa_sandbox.wait_for_webhooks(kind="template.approved")
    return "order_ready"


def send_template(graph, components):
    template = {"name": "order_ready", "language": {"code": "en_US"}, "components": components}
    return graph.send(to=USER, type="template", template=template)


def body_with(parameter):
    return {"type": "body", "parameters": [parameter]}


URL_BUTTON = {
    "type": "button",
    "sub_type": "url",
    "index": "0",
    "parameters": [{"type": "text", "text": "A1"}],
}


# -- template sends ------------------------------------------------------------------------
def test_button_component_with_sub_type_and_index_is_accepted(graph, order_template):
    reply = send_template(graph, [body_with({"type": "text", "text": "A1"}), URL_BUTTON])
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("key", ["sub_type", "index"])
def test_button_component_needs_sub_type_and_index(graph, order_template, key):
    button = {k: v for k, v in URL_BUTTON.items() if k != key}
    error = assert_valid_error(
        send_template(graph, [body_with({"type": "text", "text": "A1"}), button]), 131008, 400
    )
    assert key in error["error_data"]["details"]


def test_button_index_is_a_position_from_0_to_9(graph, order_template):
    button = {**URL_BUTTON, "index": "10"}
    assert_valid_error(send_template(graph, [body_with({"type": "text", "text": "A1"}), button]), 131009, 400)


@pytest.mark.parametrize("key", ["fallback_value", "code", "amount_1000"])
def test_currency_parameter_needs_all_its_fields(graph, order_template, key):
    currency = {"fallback_value": "$10.99", "code": "USD", "amount_1000": 10990}
    currency.pop(key)
    reply = send_template(graph, [body_with({"type": "currency", "currency": currency}), URL_BUTTON])
    error = assert_valid_error(reply, 131008, 400)
    assert key in error["error_data"]["details"]


def test_complete_currency_parameter_is_accepted(graph, order_template):
    currency = {"fallback_value": "$10.99", "code": "USD", "amount_1000": 10990}
    reply = send_template(graph, [body_with({"type": "currency", "currency": currency}), URL_BUTTON])
    assert reply.status == 200, reply.body


def test_date_time_parameter_needs_fallback_value(graph, order_template):
    reply = send_template(graph, [body_with({"type": "date_time", "date_time": {}}), URL_BUTTON])
    assert "fallback_value" in assert_valid_error(reply, 131008, 400)["error_data"]["details"]
    fine = {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}}
    assert send_template(graph, [body_with(fine), URL_BUTTON]).status == 200


# -- template creation -------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["{{1}} is your code.", "Your code is {{1}}", "Hi {{1}}, see {{2}} "])
def test_variables_at_the_start_or_end_of_the_body_are_refused(graph, text):
    error = assert_valid_error(create(graph, "edgy", [{"type": "BODY", "text": text}]), 100, 400)
    assert error["error_subcode"] == 2388299 and error["error_user_title"] and error["error_user_msg"]


# -- interactive ---------------------------------------------------------------------------------
LIST_ACTION = {"button": "Pick", "sections": [{"rows": [{"id": "a", "title": "A"}]}]}
SECTIONS = [{"title": "All", "product_items": [{"product_retailer_id": "SKU1"}]}]


def interactive(graph, **obj):
    return graph.send(to=USER, type="interactive", interactive=obj)


def test_list_header_must_be_text(graph, open_window):
    body = {"text": "Choose"}
    image = {"type": "image", "image": {"link": "https://x.test/a.jpg"}}
    reply = interactive(graph, type="list", header=image, body=body, action=LIST_ACTION)
    assert_valid_error(reply, 131009, 400)
    text = {"type": "text", "text": "Menu"}
    assert interactive(graph, type="list", header=text, body=body, action=LIST_ACTION).status == 200


def test_product_list_needs_a_text_header_and_a_body(graph, open_window):
    action = {"catalog_id": "1", "sections": SECTIONS}
    header, body = {"type": "text", "text": "Menu"}, {"text": "Our picks"}
    assert_valid_error(interactive(graph, type="product_list", body=body, action=action), 131008, 400)
    assert_valid_error(interactive(graph, type="product_list", header=header, action=action), 131008, 400)
    reply = interactive(graph, type="product_list", header=header, body=body, action=action)
    assert reply.status == 200, reply.body


def test_single_product_takes_no_header(graph, open_window):
    action = {"catalog_id": "1", "product_retailer_id": "SKU1"}
    reply = interactive(graph, type="product", header={"type": "text", "text": "x"}, action=action)
    assert_valid_error(reply, 131009, 400)
    assert interactive(graph, type="product", action=action).status == 200


# -- contacts --------------------------------------------------------------------------------------
def test_at_most_five_contacts_per_message(graph, open_window):
    card = {"name": {"formatted_name": "Rui"}, "phones": [{"phone": "+351 912"}]}
    assert graph.send(to=USER, type="contacts", contacts=[card] * 5).status == 200
    assert_valid_error(graph.send(to=USER, type="contacts", contacts=[card] * 6), 131009, 400)


# -- media upload ------------------------------------------------------------------------------------
def upload(graph, data, mime, fields):
    body, content_type = multipart(fields, ("file.bin", mime, data))
    return graph.request("POST", f"/{graph.phone}/media", data=body, content_type=content_type)


def webp(size, animated):
    """A WebP of ``size`` bytes: extended header (VP8X) with or without the animation flag."""
    flags = 0x02 if animated else 0x00
    chunk = b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0]) + b"\x1f\x01\x00\x1f\x01\x00"
    payload = b"WEBP" + chunk
    payload += b"\x00" * (size - 8 - len(payload))
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def test_upload_needs_the_type_field(graph):
    reply = upload(graph, b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg", {"messaging_product": "whatsapp"})
    error = assert_valid_error(reply, 100, 400)
    assert "type" in error["message"]


@pytest.mark.parametrize(
    ("size", "animated", "accepted"),
    [
        (100 << 10, False, True),
        ((100 << 10) + 1, False, False),
        ((100 << 10) + 1, True, True),
        (500 << 10, True, True),
        ((500 << 10) + 1, True, False),
    ],
)
def test_sticker_size_limits_static_100kb_animated_500kb(graph, size, animated, accepted):
    reply = upload(
        graph, webp(size, animated), "image/webp", {"messaging_product": "whatsapp", "type": "image/webp"}
    )
    assert (reply.status == 200) is accepted, reply.body
