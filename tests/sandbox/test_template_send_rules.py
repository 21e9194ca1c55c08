"""Template sends checked against the stored template beyond the cases the client shares
(tests/template_cases.py): a location header, authentication (one-time code) and flow,
catalog and multi-product buttons, the carousel's own fields; and carousel templates and URL
buttons at creation, as Meta's template reference describes them."""

from __future__ import annotations

import pytest
from sandbox_support import USER, assert_valid_error
from test_media_templates import create

IMAGE = {"type": "image", "image": {"link": "https://media.example/a.jpg"}}


def approved(graph, wa_sandbox, name, components, **extra):
    reply = create(graph, name, components, **extra)
    assert reply.status == 200, reply.body
    wa_sandbox.set_template_status(name, "APPROVED")


def send(graph, name, components):
    template = {"name": name, "language": {"code": "en_US"}, "components": components}
    return graph.send(to=USER, type="template", template=template)


def button(sub_type, index, parameter):
    return {"type": "button", "sub_type": sub_type, "index": str(index), "parameters": [parameter]}


@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_a_location_header_needs_its_coordinates(graph, wa_sandbox):
    approved(
        graph,
        wa_sandbox,
        "store_visit",
        [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "See you at the store."}],
    )
    place = {"latitude": 37.48, "longitude": -122.15, "name": "HQ"}
    good = [{"type": "header", "parameters": [{"type": "location", "location": place}]}]
    assert send(graph, "store_visit", good).status == 200
    bad = [{"type": "header", "parameters": [{"type": "location", "location": {"name": "HQ"}}]}]
    assert (
        "latitude"
        in assert_valid_error(send(graph, "store_visit", bad), 131008, 400)["error_data"]["details"]
    )
    assert_valid_error(send(graph, "store_visit", [{"type": "header", "parameters": [IMAGE]}]), 132012, 400)


@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_an_authentication_code_fills_the_body_and_the_otp_button(graph, wa_sandbox):
    components = [
        {"type": "BODY", "text": "Your code is {{1}} for now."},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
    ]
    approved(graph, wa_sandbox, "login_code", components, category="AUTHENTICATION")
    code = {"type": "text", "text": "482913"}
    body = {"type": "body", "parameters": [code]}
    assert send(graph, "login_code", [body, button("url", 0, code)]).status == 200
    details = assert_valid_error(send(graph, "login_code", [body]), 132000, 400)["error_data"]["details"]
    assert "button 0" in details and "OTP" in details
    coupon = button("copy_code", 0, {"type": "coupon_code", "coupon_code": "482913"})
    assert_valid_error(send(graph, "login_code", [body, coupon]), 132012, 400)


@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_flow_and_catalog_buttons_are_optional_multi_product_ones_are_not(graph, wa_sandbox):
    components = [
        {"type": "BODY", "text": "Have a look at our picks."},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "FLOW", "text": "Book", "flow_id": "1"},
                {"type": "CATALOG", "text": "View"},
                {"type": "MPM", "text": "Pick"},
            ],
        },
    ]
    approved(graph, wa_sandbox, "shop_picks", components, category="MARKETING")
    products = {
        "thumbnail_product_retailer_id": "sku-1",
        "sections": [{"title": "Shoes", "product_items": [{"product_retailer_id": "sku-1"}]}],
    }
    mpm = button("mpm", 2, {"type": "action", "action": products})
    assert send(graph, "shop_picks", [mpm]).status == 200
    flow = button("flow", 0, {"type": "action", "action": {"flow_token": "t-1"}})
    catalog = button("catalog", 1, {"type": "action", "action": {"thumbnail_product_retailer_id": "sku-1"}})
    assert send(graph, "shop_picks", [flow, catalog, mpm]).status == 200
    assert_valid_error(send(graph, "shop_picks", [flow, catalog]), 132000, 400)
    assert_valid_error(
        send(graph, "shop_picks", [button("flow", 0, {"type": "payload", "payload": "x"}), mpm]), 132012, 400
    )
    no_action = button("flow", 0, {"type": "action"})
    assert_valid_error(send(graph, "shop_picks", [no_action, mpm]), 131008, 400)


CARD = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Only {{1}} left"},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "More"}]},
]
CAROUSEL = [
    {"type": "BODY", "text": "Spring picks for you."},
    {"type": "CAROUSEL", "cards": [{"components": CARD}] * 2},
]


def sent_card(index, stock="3", **extra):
    return {
        "card_index": index,
        **extra,
        "components": [
            {"type": "header", "parameters": [IMAGE]},
            {"type": "body", "parameters": [{"type": "text", "text": stock}]},
        ],
    }


@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_carousel_cards_name_their_index_once_each(graph, wa_sandbox):
    approved(graph, wa_sandbox, "spring_cards", CAROUSEL, category="MARKETING")
    good = [{"type": "carousel", "cards": [sent_card(1), sent_card(0)]}]  # in any order, by index
    assert send(graph, "spring_cards", good).status == 200
    unnamed = {k: v for k, v in sent_card(1).items() if k != "card_index"}
    error = assert_valid_error(
        send(graph, "spring_cards", [{"type": "carousel", "cards": [sent_card(0), unnamed]}]), 100, 400
    )
    assert (
        error["message"]
        == "(#100) The parameter template['components'][0]['cards'][1]['card_index'] is required."
    )
    assert_valid_error(
        send(graph, "spring_cards", [{"type": "carousel", "cards": [sent_card(0), sent_card(0)]}]),
        132000,
        400,
    )
    twice = [{"type": "body", "parameters": []}, {"type": "body", "parameters": []}]
    assert_valid_error(send(graph, "spring_cards", twice), 100, 400)


@pytest.mark.parametrize(
    ("components", "words"),
    [
        ([{"type": "HEADER", "format": "TEXT", "text": "Hi"}, *CAROUSEL], "one BODY and one CAROUSEL"),
        ([CAROUSEL[0], {"type": "CAROUSEL", "cards": [{"components": CARD}] * 11}], "1 to 10 cards"),
        (
            [CAROUSEL[0], {"type": "CAROUSEL", "cards": [{"components": CARD[:2]}]}],
            "HEADER, an optional BODY",
        ),
        (
            [
                CAROUSEL[0],
                {"type": "CAROUSEL", "cards": [{"components": [{**CARD[0], "format": "TEXT"}, *CARD[1:]]}]},
            ],
            "IMAGE or a VIDEO",
        ),
        (
            [
                CAROUSEL[0],
                {
                    "type": "CAROUSEL",
                    "cards": [
                        {"components": CARD},
                        {"components": [{**CARD[0], "format": "VIDEO"}, *CARD[1:]]},
                    ],
                },
            ],
            "same header",
        ),
        (
            [
                CAROUSEL[0],
                {
                    "type": "CAROUSEL",
                    "cards": [
                        {
                            "components": [
                                *CARD[:2],
                                {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "X"}]},
                            ]
                        }
                    ],
                },
            ],
            "QUICK_REPLY, URL",
        ),
        (
            [
                {"type": "BODY", "text": "Track it"},
                {
                    "type": "BUTTONS",
                    "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}/more"}],
                },
            ],
            "at its end",
        ),
        (
            [
                {"type": "BODY", "text": "Track it"},
                {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track"}]},
            ],
            "http(s) url",
        ),
    ],
)
def test_template_creation_refuses_what_meta_refuses(graph, components, words):
    error = assert_valid_error(create(graph, "refused", components), 100, 400)
    assert words in error["error_user_msg"]
    assert graph.request("GET", f"/{graph.waba}/message_templates?name=refused").body["data"] == []
