"""Templates and sends that fit them or not, shared by the client's check
(tests/test_template_check.py) and the sandbox (tests/test_client_templates.py), which must
answer each the same way."""

from __future__ import annotations

from typing import Any

from wacloud import (
    Carousel,
    CarouselCard,
    CopyCodeButton,
    DateTime,
    QuickReplyButton,
    TemplateBody,
    TemplateHeader,
    UrlButton,
)

IMAGE = "https://media.example/banner.jpg"

# Definitions as Meta's GET /<TEMPLATE_ID> answers them (status added by the tests).
ORDER = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "parameter_format": "POSITIONAL",
    "components": [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "Hi {{1}}, order {{2}} ships on {{3}}."},
        {"type": "FOOTER", "text": "Thanks for shopping"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop updates"},
                {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}"},
                {"type": "COPY_CODE", "example": "SAVE25"},
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550001111"},
            ],
        },
    ],
}
NAMED = {
    "name": "named_welcome",
    "language": "en_US",
    "category": "MARKETING",
    "parameter_format": "NAMED",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Hello {{first_name}}"},
        {"type": "BODY", "text": "Welcome {{first_name}}, your code is {{code}} today."},
    ],
}
_CARD = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Only {{1}} left"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "More like this"},
            {"type": "URL", "text": "Buy", "url": "https://shop.example/p/{{1}}"},
        ],
    },
]
CAROUSEL = {
    "name": "spring_cards",
    "language": "en_US",
    "category": "MARKETING",
    "parameter_format": "POSITIONAL",
    "components": [
        {"type": "BODY", "text": "Spring picks for {{1}} today."},
        {"type": "CAROUSEL", "cards": [{"components": _CARD}, {"components": _CARD}]},
    ],
}
DEFINITIONS = {"order": ORDER, "named": NAMED, "carousel": CAROUSEL}


def card(stock: str = "3", product: str = "p1", header: TemplateHeader | None = None) -> CarouselCard:
    return CarouselCard(
        header or TemplateHeader.image(link=IMAGE), TemplateBody(stock), [UrlButton(1, product)]
    )


ORDER_OK = [
    TemplateHeader.image(link=IMAGE),
    TemplateBody("Ana", "42", DateTime("May 1")),
    UrlButton(1, "42"),
    CopyCodeButton(2, "SAVE25"),
]
NAMED_OK = [TemplateHeader.text("Ana", name="first_name"), TemplateBody(first_name="Ana", code="X1")]
CAROUSEL_OK = [TemplateBody("Ana"), Carousel([card(), card("1", "p2")])]


def replace(components: list[Any], index: int, new: Any) -> list[Any]:
    return [new if i == index else c for i, c in enumerate(components)]


def without(components: list[Any], index: int) -> list[Any]:
    return [c for i, c in enumerate(components) if i != index]


# (id, template, components, Meta's code or None when it fits, component, index, card)
CASES: list[tuple[str, str, list[Any], int | None, str, int | None, int | None]] = [
    ("order-fits", "order", ORDER_OK, None, "", None, None),
    (
        "order-with-optional-quick-reply",
        "order",
        [*ORDER_OK, QuickReplyButton(0, "stop")],
        None,
        "",
        None,
        None,
    ),
    ("header-missing", "order", without(ORDER_OK, 0), 132012, "header", 0, None),
    (
        "header-video-for-image",
        "order",
        replace(ORDER_OK, 0, TemplateHeader.video(link=IMAGE)),
        132012,
        "header",
        0,
        None,
    ),
    ("body-one-short", "order", replace(ORDER_OK, 1, TemplateBody("Ana", "42")), 132000, "body", None, None),
    (
        "body-image-parameter",
        "order",
        replace(
            ORDER_OK,
            1,
            {
                "type": "body",
                "parameters": [
                    {"type": "image", "image": {"link": IMAGE}},
                    {"type": "text", "text": "42"},
                    {"type": "text", "text": "May 1"},
                ],
            },
        ),
        132012,
        "body",
        0,
        None,
    ),
    ("url-button-missing", "order", without(ORDER_OK, 2), 132000, "button", 1, None),
    (
        "url-button-as-quick-reply",
        "order",
        replace(ORDER_OK, 2, QuickReplyButton(1, "42")),
        132012,
        "button",
        1,
        None,
    ),
    ("coupon-missing", "order", without(ORDER_OK, 3), 132000, "button", 2, None),
    (
        "coupon-as-text",
        "order",
        replace(
            ORDER_OK,
            3,
            {
                "type": "button",
                "sub_type": "copy_code",
                "index": "2",
                "parameters": [{"type": "text", "text": "SAVE25"}],
            },
        ),
        132012,
        "button",
        2,
        None,
    ),
    ("phone-button-takes-nothing", "order", [*ORDER_OK, QuickReplyButton(3, "x")], 132000, "button", 3, None),
    ("no-such-button", "order", [*ORDER_OK, QuickReplyButton(5, "x")], 132000, "button", 5, None),
    ("carousel-on-plain-template", "order", [*ORDER_OK, Carousel([card()])], 132000, "carousel", None, None),
    ("named-fits", "named", NAMED_OK, None, "", None, None),
    (
        "named-wrong-name",
        "named",
        replace(NAMED_OK, 1, TemplateBody(first_name="Ana", coupon="X1")),
        132000,
        "body",
        None,
        None,
    ),
    (
        "named-given-in-order",
        "named",
        replace(NAMED_OK, 1, TemplateBody("Ana", "X1")),
        132000,
        "body",
        0,
        None,
    ),
    ("named-header-missing", "named", without(NAMED_OK, 0), 132000, "header", None, None),
    ("carousel-fits", "carousel", CAROUSEL_OK, None, "", None, None),
    ("carousel-missing", "carousel", [TemplateBody("Ana")], 132000, "carousel", None, None),
    (
        "carousel-one-card-short",
        "carousel",
        [TemplateBody("Ana"), Carousel([card()])],
        132000,
        "carousel",
        None,
        None,
    ),
    (
        "card-video-for-image",
        "carousel",
        [TemplateBody("Ana"), Carousel([card(), card(header=TemplateHeader.video(link=IMAGE))])],
        132012,
        "header",
        0,
        1,
    ),
    (
        "card-url-missing",
        "carousel",
        [
            TemplateBody("Ana"),
            Carousel([CarouselCard(TemplateHeader.image(link=IMAGE), TemplateBody("3")), card()]),
        ],
        132000,
        "button",
        1,
        0,
    ),
    (
        "card-body-missing",
        "carousel",
        [
            TemplateBody("Ana"),
            Carousel([card(), CarouselCard(TemplateHeader.image(link=IMAGE), buttons=[UrlButton(1, "p")])]),
        ],
        132000,
        "body",
        None,
        1,
    ),
]
