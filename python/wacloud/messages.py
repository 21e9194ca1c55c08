"""Outbound message types. Each dataclass turns into the exact body of
``POST /<phone-number-id>/messages`` through the C++ payload builders, which
enforce Meta's limits (text 4096 characters, captions 1024, at most 3 reply
buttons with titles of at most 20 characters, list sections and rows, ...) and
raise :class:`wacloud.InvalidParameter` naming the field before anything is sent.

>>> Text("Hello").to_payload("+1 650-555-1234")["text"]
{'preview_url': False, 'body': 'Hello'}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from . import _core
from .errors import InvalidParameter
from .recipients import BusinessScopedUser, check_phone_recipient
from .template_check import check_components
from .template_components import TemplateComponent, component_dicts

__all__ = [
    "Audio",
    "Buttons",
    "Contacts",
    "CtaUrl",
    "Document",
    "Flow",
    "Header",
    "Image",
    "ListMessage",
    "Location",
    "Message",
    "Product",
    "ProductList",
    "Reaction",
    "ReplyButton",
    "Row",
    "Section",
    "Sticker",
    "Template",
    "Text",
    "Video",
]


def dumps_fields(kind: str, fields: Any) -> str:
    """The JSON the core reads a message from; values JSON cannot hold raise
    :class:`InvalidParameter` naming the field."""
    try:
        text = json.dumps(fields, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")  # lone surrogates have no UTF-8 form
        return text
    except (TypeError, ValueError) as error:
        culprit = kind
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                try:
                    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
                except (TypeError, ValueError):
                    culprit = str(key)
                    break
        problem = "is not valid Unicode text" if isinstance(error, UnicodeError) else str(error)
        raise InvalidParameter(f"{culprit}: {problem}", code=100) from None


class Message:
    """Base of the outbound message types."""

    type: ClassVar[str]

    def fields(self) -> dict[str, Any]:
        """The message's fields as the core reads them."""
        raise NotImplementedError

    def to_payload(
        self,
        to: str | BusinessScopedUser,
        reply_to: str | None = None,
        default_region: str | None = None,
    ) -> dict:
        """The request body sending this message to ``to`` (a phone number, normalized
        to a wa_id, or a :class:`wacloud.BusinessScopedUser`, named in ``recipient``),
        optionally as a reply to the message ``reply_to``."""
        if isinstance(to, BusinessScopedUser):
            fields = dumps_fields(self.type, self.fields())
            return json.loads(_core.build_user_message_payload(self.type, fields, to.user_id, reply_to or ""))
        check_phone_recipient(to)
        body = _core.build_message_payload(
            self.type, dumps_fields(self.type, self.fields()), to, reply_to or "", default_region or ""
        )
        return json.loads(body)


@dataclass(frozen=True)
class Text(Message):
    body: str
    preview_url: bool = False
    type: ClassVar[str] = "text"

    def fields(self) -> dict[str, Any]:
        return {"body": self.body, "preview_url": self.preview_url}


@dataclass(frozen=True)
class _Media(Message):
    """Exactly one of ``media_id`` (from :meth:`Client.upload_media`) or ``link``."""

    media_id: str | None = None
    link: str | None = None

    def fields(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "link": self.link}


@dataclass(frozen=True)
class Image(_Media):
    caption: str | None = None
    type: ClassVar[str] = "image"

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "caption": self.caption}


@dataclass(frozen=True)
class Video(Image):
    type: ClassVar[str] = "video"


@dataclass(frozen=True)
class Document(Image):
    filename: str | None = None
    type: ClassVar[str] = "document"

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "filename": self.filename}


@dataclass(frozen=True)
class Audio(_Media):
    type: ClassVar[str] = "audio"


@dataclass(frozen=True)
class Sticker(_Media):
    type: ClassVar[str] = "sticker"


@dataclass(frozen=True)
class Location(Message):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    type: ClassVar[str] = "location"

    def fields(self) -> dict[str, Any]:
        def coordinate(value: Any) -> Any:
            # JSON has no NaN or infinity: send the text, which the core refuses by name.
            return str(value) if isinstance(value, float) and not math.isfinite(value) else value

        return {
            "latitude": coordinate(self.latitude),
            "longitude": coordinate(self.longitude),
            "name": self.name,
            "address": self.address,
        }


@dataclass(frozen=True)
class Contacts(Message):
    """Contact cards as Meta's contact objects; each needs ``name.formatted_name``."""

    contacts: Sequence[Mapping[str, Any]]
    type: ClassVar[str] = "contacts"

    def fields(self) -> dict[str, Any]:
        return {"contacts": list(self.contacts)}


@dataclass(frozen=True)
class Reaction(Message):
    """A reaction to ``message_id``; an empty ``emoji`` removes it."""

    message_id: str
    emoji: str
    type: ClassVar[str] = "reaction"

    def fields(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "emoji": self.emoji}


@dataclass(frozen=True)
class Template(Message):
    """An approved template; ``components`` are typed components
    (:mod:`wacloud.template_components`) or Meta's component objects as dicts."""

    name: str
    language: str
    components: Sequence[TemplateComponent | Mapping[str, Any]] | None = None
    type: ClassVar[str] = "template"

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "components": None if self.components is None else component_dicts(self.components),
        }

    def check_against(self, definition: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Raise what Meta would answer to this send for the template ``definition`` (its
        object from :meth:`wacloud.Client.get_template`, or its components):
        :class:`wacloud.template_check.TemplateMismatch` (132000, 132012) and the rest of
        :func:`wacloud.template_check.check_components`."""
        check_components(definition, self.components, name=self.name, language=self.language)


@dataclass(frozen=True)
class Header:
    """An interactive header: ``Header.text("...")`` or an image, video or
    document by ``media_id`` or ``link``. A plain ``str`` also means text."""

    type: str
    text: str | None = None
    media_id: str | None = None
    link: str | None = None

    @classmethod
    def of_text(cls, text: str) -> Header:
        return cls("text", text=text)

    @classmethod
    def image(cls, media_id: str | None = None, link: str | None = None) -> Header:
        return cls("image", media_id=media_id, link=link)

    @classmethod
    def video(cls, media_id: str | None = None, link: str | None = None) -> Header:
        return cls("video", media_id=media_id, link=link)

    @classmethod
    def document(cls, media_id: str | None = None, link: str | None = None) -> Header:
        return cls("document", media_id=media_id, link=link)

    def fields(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text, "media_id": self.media_id, "link": self.link}


@dataclass(frozen=True)
class ReplyButton:
    id: str
    title: str


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Section:
    rows: Sequence[Row | tuple | Mapping[str, Any]]
    title: str | None = None


def _header_fields(header: str | Header | Mapping[str, Any] | None) -> Any:
    if isinstance(header, Header):
        return header.fields()
    if isinstance(header, Mapping):
        return dict(header)
    return header  # str, None, or a wrong type the core names


def _record(item: Any, names: tuple[str, ...]) -> Any:
    """A button or row given as its class, a tuple or a mapping, as a dict."""
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, tuple) and len(item) <= len(names):
        return dict(zip(names, item, strict=False))  # optional trailing fields may be left out
    if hasattr(item, names[0]):
        return {name: getattr(item, name, None) for name in names}
    return item


@dataclass(frozen=True)
class Buttons(Message):
    """Up to 3 reply buttons: :class:`ReplyButton`, ``(id, title)`` or mappings."""

    body: str
    buttons: Sequence[ReplyButton | tuple[str, str] | Mapping[str, str]]
    header: str | Header | None = None
    footer: str | None = None
    type: ClassVar[str] = "buttons"

    def fields(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "buttons": [_record(button, ("id", "title")) for button in self.buttons],
            "header": _header_fields(self.header),
            "footer": self.footer,
        }


@dataclass(frozen=True)
class ListMessage(Message):
    """A list: ``button`` opens up to 10 sections holding at most 10 rows in all."""

    body: str
    button: str
    sections: Sequence[Section | Mapping[str, Any]]
    header: str | None = None
    footer: str | None = None
    type: ClassVar[str] = "list"

    def fields(self) -> dict[str, Any]:
        sections = []
        for section in self.sections:
            record = _record(section, ("rows", "title"))
            if isinstance(record, dict) and isinstance(record.get("rows"), (list, tuple)):
                record["rows"] = [_record(row, ("id", "title", "description")) for row in record["rows"]]
            sections.append(record)
        return {
            "body": self.body,
            "button": self.button,
            "sections": sections,
            "header": _header_fields(self.header),
            "footer": self.footer,
        }


@dataclass(frozen=True)
class CtaUrl(Message):
    """One call-to-action button opening ``url``."""

    body: str
    display_text: str
    url: str
    header: str | Header | None = None
    footer: str | None = None
    type: ClassVar[str] = "cta_url"

    def fields(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "display_text": self.display_text,
            "url": self.url,
            "header": _header_fields(self.header),
            "footer": self.footer,
        }


@dataclass(frozen=True)
class Flow(Message):
    """An interactive WhatsApp Flow: the ``flow_cta`` button (at most 30 characters) opens
    the Flow ``flow_id`` or ``flow_name`` (exactly one). ``flow_token`` identifies this
    send to your endpoint and comes back in the completion (Meta's default: ``"unused"``).
    ``flow_action="navigate"`` opens ``screen`` (default: the Flow's first) with ``data``;
    ``"data_exchange"`` asks the Flow's endpoint for the first screen instead. ``mode``
    ``"draft"`` sends a Flow that is not published yet (for testing). The header is text."""

    body: str
    flow_cta: str
    flow_id: str | None = None
    flow_name: str | None = None
    flow_token: str | None = None
    flow_action: str = "navigate"
    screen: str | None = None
    data: Mapping[str, Any] | None = None
    mode: str | None = None
    header: str | None = None
    footer: str | None = None
    type: ClassVar[str] = "flow"

    def fields(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "flow_cta": self.flow_cta,
            "flow_id": self.flow_id,
            "flow_name": self.flow_name,
            "flow_token": self.flow_token,
            "flow_action": self.flow_action,
            "screen": self.screen,
            # Anything but a mapping goes as is, for the core to refuse by name.
            "data": dict(self.data) if isinstance(self.data, Mapping) else self.data,
            "mode": self.mode,
            "header": self.header,
            "footer": self.footer,
        }


@dataclass(frozen=True)
class Product(Message):
    """One product of the business's catalog, with an optional ``body`` and ``footer`` (Meta
    allows no header on it)."""

    catalog_id: str
    product_retailer_id: str
    body: str | None = None
    footer: str | None = None
    type: ClassVar[str] = "product"

    def fields(self) -> dict[str, Any]:
        return {
            "catalog_id": self.catalog_id,
            "product_retailer_id": self.product_retailer_id,
            "body": self.body,
            "footer": self.footer,
        }


@dataclass(frozen=True)
class ProductList(Message):
    """Up to 30 catalog products in up to 10 ``sections``, each a
    :class:`wacloud.ProductSection`, a ``(title, product_retailer_ids)`` tuple or a mapping
    (the title may be left out when there is one section). Meta requires the text
    ``header`` and the ``body``."""

    header: str
    body: str
    catalog_id: str
    sections: Sequence[Any]
    footer: str | None = None
    type: ClassVar[str] = "product_list"

    def fields(self) -> dict[str, Any]:
        sections = []
        for section in self.sections:
            record = _record(section, ("title", "product_retailer_ids"))
            if isinstance(record, dict) and isinstance(record.get("product_retailer_ids"), tuple):
                record["product_retailer_ids"] = list(record["product_retailer_ids"])
            sections.append(record)
        return {
            "header": self.header,
            "body": self.body,
            "catalog_id": self.catalog_id,
            "sections": sections,
            "footer": self.footer,
        }
