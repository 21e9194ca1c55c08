"""Typed components of a template send. Each builds the exact component object of Meta's
template message reference, checked as it is built (a bad value raises
:class:`wacloud.InvalidParameter` naming it); raw component dicts keep working beside them.

>>> TemplateBody("Ana", Currency("$10.99", "USD", 10990)).to_component()["parameters"][0]
{'type': 'text', 'text': 'Ana'}
>>> UrlButton(1, "order/42").to_component()
{'type': 'button', 'sub_type': 'url', 'index': '1', 'parameters': [{'type': 'text', 'text': 'order/42'}]}
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidParameter

__all__ = [
    "Carousel",
    "CarouselCard",
    "CatalogButton",
    "CopyCodeButton",
    "Currency",
    "DateTime",
    "FlowButton",
    "MpmButton",
    "OtpButton",
    "ProductSection",
    "QuickReplyButton",
    "TemplateBody",
    "TemplateComponent",
    "TemplateHeader",
    "UrlButton",
    "component_dicts",
    "otp_components",
]

# Meta refuses these in a text parameter: "Param text cannot have new-line/tab characters or
# more than 4 consecutive spaces".
_UNSENDABLE_TEXT = re.compile(r"[\n\t]| {5,}")
_PARAMETER_NAME = re.compile(r"^[a-z0-9_]+$")
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
MAX_CODE_LENGTH = 15  # a coupon or one-time code (Meta's limit)
MAX_CAROUSEL_CARDS = 10
MAX_MPM_SECTIONS = 10
MAX_MPM_PRODUCTS = 30


def _refuse(where: str, problem: str) -> InvalidParameter:
    return InvalidParameter(f"{where}: {problem}", code=100)


def _text(value: Any, where: str, *, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise _refuse(where, f"must be a str, not {type(value).__name__}")
    if not value.strip():
        raise _refuse(where, "must not be empty")
    if limit is not None and len(value) > limit:
        raise _refuse(where, f"is longer than {limit} characters")
    return value


def _parameter_text(value: Any, where: str) -> str:
    _text(value, where)
    if _UNSENDABLE_TEXT.search(value):
        raise _refuse(where, "cannot have new-line/tab characters or more than 4 consecutive spaces")
    return value


def _index(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise _refuse("button index", f"must be an int from 0 to 9, not {value!r}")
    return str(value)  # Meta's examples send the position as a string


@dataclass(frozen=True)
class Currency:
    """An amount Meta formats for the recipient's locale; ``amount_1000`` is the amount
    times 1000 (``10990`` for 10.99) and ``code`` its ISO 4217 code."""

    fallback_value: str
    code: str
    amount_1000: int

    def parameter(self) -> dict[str, Any]:
        _text(self.fallback_value, "currency fallback_value")
        if not isinstance(self.code, str) or not _CURRENCY_CODE.match(self.code):
            raise _refuse("currency code", f"must be an ISO 4217 code such as 'USD', not {self.code!r}")
        if isinstance(self.amount_1000, bool) or not isinstance(self.amount_1000, int):
            raise _refuse("currency amount_1000", "must be an int (the amount times 1000)")
        currency = {"fallback_value": self.fallback_value, "code": self.code, "amount_1000": self.amount_1000}
        return {"type": "currency", "currency": currency}


@dataclass(frozen=True)
class DateTime:
    """A date shown as ``fallback_value`` (the Cloud API always shows the fallback)."""

    fallback_value: str

    def parameter(self) -> dict[str, Any]:
        _text(self.fallback_value, "date_time fallback_value")
        return {"type": "date_time", "date_time": {"fallback_value": self.fallback_value}}


TextValue = str | Currency | DateTime | Mapping[str, Any]


def _value_parameter(value: Any, where: str, name: str | None) -> dict[str, Any]:
    """A body or text-header parameter: a str, a :class:`Currency`, a :class:`DateTime`, or a
    parameter object as a mapping (taken as given)."""
    if isinstance(value, str):
        parameter: dict[str, Any] = {"type": "text", "text": _parameter_text(value, where)}
    elif isinstance(value, (Currency, DateTime)):
        parameter = value.parameter()
    elif isinstance(value, Mapping):
        parameter = dict(value)
    else:
        raise _refuse(where, f"must be a str, Currency, DateTime or mapping, not {type(value).__name__}")
    if name is not None:
        if not isinstance(name, str) or not _PARAMETER_NAME.match(name) or name.isdigit():
            raise _refuse(where, "a parameter name has only lowercase letters, digits and underscores")
        parameter["parameter_name"] = name
    return parameter


class TemplateComponent:
    """Base of the typed components: :meth:`to_component` is Meta's component object."""

    def __post_init__(self) -> None:
        self.to_component()  # a bad value is refused where it is written, not at the send

    def to_component(self) -> dict[str, Any]:
        raise NotImplementedError


def component_dicts(components: Iterable[TemplateComponent | Mapping[str, Any]]) -> list[Any]:
    """Meta's component objects for typed components and raw dicts alike (dicts are copied
    as given; anything else is left for the payload checks to name)."""
    if isinstance(components, (str, bytes, Mapping)) or not isinstance(components, Iterable):
        raise _refuse("components", "must be a list of components")
    out: list[Any] = []
    for component in components:
        if isinstance(component, TemplateComponent):
            out.append(component.to_component())
        elif isinstance(component, Mapping):
            out.append(dict(component))
        else:
            out.append(component)
    return out


# -- header ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemplateHeader(TemplateComponent):
    """The header's value: ``TemplateHeader.text("Fall sale")`` (``name=`` for a NAMED
    template), an image, video or document by ``media_id`` or ``link``, or a location."""

    format: str
    parameter: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def text(cls, value: TextValue, name: str | None = None) -> TemplateHeader:
        return cls("text", _value_parameter(value, "header parameter", name))

    @classmethod
    def image(cls, media_id: str | None = None, link: str | None = None) -> TemplateHeader:
        return cls("image", _media_parameter("image", media_id, link))

    @classmethod
    def video(cls, media_id: str | None = None, link: str | None = None) -> TemplateHeader:
        return cls("video", _media_parameter("video", media_id, link))

    @classmethod
    def document(
        cls, media_id: str | None = None, link: str | None = None, filename: str | None = None
    ) -> TemplateHeader:
        parameter = _media_parameter("document", media_id, link)
        if filename is not None:
            parameter["document"]["filename"] = _text(filename, "header document filename")
        return cls("document", parameter)

    @classmethod
    def location(
        cls, latitude: float, longitude: float, name: str | None = None, address: str | None = None
    ) -> TemplateHeader:
        location: dict[str, Any] = {
            "latitude": _coordinate(latitude, "latitude", 90),
            "longitude": _coordinate(longitude, "longitude", 180),
        }
        if name is not None:
            location["name"] = _text(name, "header location name")
        if address is not None:
            location["address"] = _text(address, "header location address")
        return cls("location", {"type": "location", "location": location})

    def to_component(self) -> dict[str, Any]:
        if not isinstance(self.parameter, Mapping) or self.parameter.get("type") != self.format:
            raise _refuse("header", "build it with TemplateHeader.text/.image/.video/.document/.location")
        return {"type": "header", "parameters": [copy.deepcopy(dict(self.parameter))]}


def _media_parameter(kind: str, media_id: str | None, link: str | None) -> dict[str, Any]:
    where = f"header {kind}"
    if (media_id is None) == (link is None):
        raise _refuse(where, "give exactly one of media_id or link")
    if media_id is not None:
        return {"type": kind, kind: {"id": _text(media_id, f"{where} media_id")}}
    if not isinstance(link, str) or not re.match(r"^https?://\S+$", link):
        raise _refuse(f"{where} link", "must be an http or https URL")
    return {"type": kind, kind: {"link": link}}


def _coordinate(value: Any, axis: str, bound: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _refuse(f"header location {axis}", "must be a finite number")
    if not -bound <= value <= bound:
        raise _refuse(f"header location {axis}", f"must be between -{bound} and {bound}")
    return value


# -- body ------------------------------------------------------------------------------------
class TemplateBody(TemplateComponent):
    """The body's parameters, in order (``TemplateBody("Ana", "42")`` for ``{{1}}``, ``{{2}}``)
    or by name for a NAMED template (``TemplateBody(first_name="Ana")``); each a str, a
    :class:`Currency` or a :class:`DateTime`. Not both ways at once."""

    def __init__(self, *values: TextValue, **named: TextValue) -> None:
        if values and named:
            raise _refuse("body", "give its parameters in order or by name, not both")
        if not values and not named:
            raise _refuse("body", "give at least one parameter (a body without any needs no component)")
        positional = [_value_parameter(v, f"body parameter {i + 1}", None) for i, v in enumerate(values)]
        by_name = [_value_parameter(v, f"body parameter {k!r}", k) for k, v in named.items()]
        self.parameters: tuple[dict[str, Any], ...] = tuple(positional or by_name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TemplateBody) and other.parameters == self.parameters

    def __hash__(self) -> int:
        return hash(repr(self.parameters))

    def __repr__(self) -> str:
        return f"TemplateBody(parameters={list(self.parameters)!r})"

    def to_component(self) -> dict[str, Any]:
        return {"type": "body", "parameters": copy.deepcopy([dict(p) for p in self.parameters])}


# -- buttons ---------------------------------------------------------------------------------
def _button(sub_type: str, index: int, parameter: dict[str, Any]) -> dict[str, Any]:
    return {"type": "button", "sub_type": sub_type, "index": _index(index), "parameters": [parameter]}


@dataclass(frozen=True)
class QuickReplyButton(TemplateComponent):
    """The ``payload`` a tap on the quick-reply button at ``index`` sends back (without
    one, Meta sends the button's text)."""

    index: int
    payload: str

    def to_component(self) -> dict[str, Any]:
        payload = _text(self.payload, f"button {self.index} payload")
        return _button("quick_reply", self.index, {"type": "payload", "payload": payload})


@dataclass(frozen=True)
class UrlButton(TemplateComponent):
    """The suffix that fills the ``{{1}}`` of the URL button at ``index``."""

    index: int
    text: str

    def to_component(self) -> dict[str, Any]:
        text = _text(self.text, f"button {self.index} text")
        return _button("url", self.index, {"type": "text", "text": text})


@dataclass(frozen=True)
class CopyCodeButton(TemplateComponent):
    """The code (at most 15 characters) the copy-code button at ``index`` copies."""

    index: int
    coupon_code: str

    def to_component(self) -> dict[str, Any]:
        code = _text(self.coupon_code, f"button {self.index} coupon_code", limit=MAX_CODE_LENGTH)
        return _button("copy_code", self.index, {"type": "coupon_code", "coupon_code": code})


@dataclass(frozen=True)
class OtpButton(TemplateComponent):
    """The one-time code of an authentication template's copy-code or one-tap button: Meta
    takes it as the text parameter of a ``url`` button."""

    index: int
    code: str

    def to_component(self) -> dict[str, Any]:
        code = _text(self.code, f"button {self.index} code", limit=MAX_CODE_LENGTH)
        return _button("url", self.index, {"type": "text", "text": code})


@dataclass(frozen=True)
class FlowButton(TemplateComponent):
    """The ``flow_token`` and first screen's ``flow_action_data`` of the flow button at ``index``."""

    index: int
    flow_token: str | None = None
    flow_action_data: Mapping[str, Any] | None = None

    def to_component(self) -> dict[str, Any]:
        action: dict[str, Any] = {}
        if self.flow_token is not None:
            action["flow_token"] = _text(self.flow_token, f"button {self.index} flow_token")
        if self.flow_action_data is not None:
            if not isinstance(self.flow_action_data, Mapping):
                raise _refuse(f"button {self.index} flow_action_data", "must be a mapping")
            action["flow_action_data"] = dict(self.flow_action_data)
        if not action:
            raise _refuse(f"button {self.index}", "give flow_token or flow_action_data (or leave it out)")
        return _button("flow", self.index, {"type": "action", "action": action})


@dataclass(frozen=True)
class CatalogButton(TemplateComponent):
    """The product whose image heads a catalog template."""

    index: int
    thumbnail_product_retailer_id: str

    def to_component(self) -> dict[str, Any]:
        product = _text(
            self.thumbnail_product_retailer_id, f"button {self.index} thumbnail_product_retailer_id"
        )
        return _button(
            "catalog", self.index, {"type": "action", "action": {"thumbnail_product_retailer_id": product}}
        )


@dataclass(frozen=True)
class ProductSection:
    """A titled section (at most 24 characters) of a multi-product message."""

    title: str
    product_retailer_ids: Sequence[str]


@dataclass(frozen=True)
class MpmButton(TemplateComponent):
    """The products of a multi-product template: up to 10 sections, 30 products in all."""

    index: int
    thumbnail_product_retailer_id: str
    sections: Sequence[ProductSection]

    def to_component(self) -> dict[str, Any]:
        where = f"button {self.index}"
        thumbnail = _text(self.thumbnail_product_retailer_id, f"{where} thumbnail_product_retailer_id")
        if not isinstance(self.sections, Sequence) or not 1 <= len(self.sections) <= MAX_MPM_SECTIONS:
            raise _refuse(f"{where} sections", f"must hold 1 to {MAX_MPM_SECTIONS} sections")
        sections = []
        for number, section in enumerate(self.sections):
            if not isinstance(section, ProductSection):
                raise _refuse(f"{where} sections[{number}]", "must be a ProductSection")
            ids = section.product_retailer_ids
            if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
                raise _refuse(f"{where} sections[{number}]", "needs a list of product retailer ids")
            items = [
                {"product_retailer_id": _text(i, f"{where} sections[{number}] product retailer id")}
                for i in ids
            ]
            title = _text(section.title, f"{where} sections[{number}] title", limit=24)
            sections.append({"title": title, "product_items": items})
        if sum(len(s["product_items"]) for s in sections) > MAX_MPM_PRODUCTS:
            raise _refuse(f"{where} sections", f"hold more than {MAX_MPM_PRODUCTS} products")
        action = {"thumbnail_product_retailer_id": thumbnail, "sections": sections}
        return _button("mpm", self.index, {"type": "action", "action": action})


def otp_components(code: str, button_index: int = 0) -> list[TemplateComponent]:
    """An authentication template's send: the code fills the body's ``{{1}}`` and the
    copy-code or one-tap button."""
    return [TemplateBody(code), OtpButton(button_index, code)]


# -- carousel --------------------------------------------------------------------------------
_CARD_BUTTONS = (QuickReplyButton, UrlButton)


@dataclass(frozen=True)
class CarouselCard:
    """One card: its image or video header, body parameters and button values."""

    header: TemplateHeader
    body: TemplateBody | None = None
    buttons: Sequence[QuickReplyButton | UrlButton] = ()

    def __post_init__(self) -> None:
        self.to_card(0)

    def to_card(self, card_index: int) -> dict[str, Any]:
        where = f"carousel card {card_index}"
        if not isinstance(self.header, TemplateHeader) or self.header.format not in ("image", "video"):
            raise _refuse(where, "needs an image or video header")
        components = [self.header.to_component()]
        if self.body is not None:
            if not isinstance(self.body, TemplateBody):
                raise _refuse(f"{where} body", "must be a TemplateBody")
            components.append(self.body.to_component())
        for button in self.buttons:
            if not isinstance(button, _CARD_BUTTONS):
                raise _refuse(f"{where} buttons", "take QuickReplyButton and UrlButton values")
            components.append(button.to_component())
        return {"card_index": card_index, "components": components}


@dataclass(frozen=True)
class Carousel(TemplateComponent):
    """The cards of a carousel template, in order (at most 10; as many as the template has)."""

    cards: Sequence[CarouselCard]

    def to_component(self) -> dict[str, Any]:
        if isinstance(self.cards, (str, Mapping)) or not isinstance(self.cards, Sequence):
            raise _refuse("carousel cards", "must be a list of CarouselCard")
        if not 1 <= len(self.cards) <= MAX_CAROUSEL_CARDS:
            raise _refuse("carousel cards", f"must hold 1 to {MAX_CAROUSEL_CARDS} cards")
        cards = []
        for index, card in enumerate(self.cards):
            if not isinstance(card, CarouselCard):
                raise _refuse(f"carousel card {index}", "must be a CarouselCard")
            cards.append(card.to_card(index))
        return {"type": "carousel", "cards": cards}
