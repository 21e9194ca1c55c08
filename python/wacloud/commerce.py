"""QR codes, commerce settings and catalog product messages, as :class:`wacloud.Client`
methods. A QR code (and its ``wa.me`` deep link) opens a chat with the number, the
``prefilled_message`` typed in; commerce settings show the catalog and the cart in chats.

>>> qr = client.create_qr_code("Hi! Is my order ready?", image_format="SVG")   # doctest: +SKIP
>>> qr.deep_link_url                                                            # doctest: +SKIP
'https://wa.me/message/...'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _graph
from .messages import Product, ProductList

if TYPE_CHECKING:
    from .client import SendResult

__all__ = ["Commerce", "CommerceSettings", "QrCode"]

_QR_CODE = re.compile(r"^[A-Z2-7]{14}$")
#: Meta's limit on a QR code's prefilled message, in characters.
MAX_PREFILLED_MESSAGE = 140
IMAGE_FORMATS = ("PNG", "SVG")


@dataclass(frozen=True)
class QrCode:
    """A QR code of the number: ``code`` (14 characters), the ``prefilled_message``, the
    ``deep_link_url`` it stands for and, when an image format was asked, ``qr_image_url``."""

    code: str
    prefilled_message: str
    deep_link_url: str
    qr_image_url: str | None = None

    @classmethod
    def _from(cls, item: dict[str, Any]) -> QrCode:
        if isinstance(item.get("data"), list) and item["data"]:  # Meta wraps a single code in data
            item = item["data"][0]
        return cls(
            code=item.get("code", ""),
            prefilled_message=item.get("prefilled_message", ""),
            deep_link_url=item.get("deep_link_url", ""),
            qr_image_url=item.get("qr_image_url"),
        )


@dataclass(frozen=True)
class CommerceSettings:
    """Whether chats with the number show the cart and the catalog."""

    is_cart_enabled: bool
    is_catalog_visible: bool


def _code(value: Any) -> str:
    if not isinstance(value, str) or not _QR_CODE.match(value):
        raise _graph.refuse("code", "must be a QR code's 14-character code (A-Z, 2-7)")
    return value


def _prefilled(value: Any) -> str:
    text = _graph.text(value, "prefilled_message", MAX_PREFILLED_MESSAGE)
    assert text is not None
    return text


def _image_format(value: Any) -> str | None:
    return None if value is None else _graph.choice(value, "image_format", IMAGE_FORMATS)


def _qr_fields(image_format: str | None) -> str:
    fields = "code,prefilled_message,deep_link_url"
    return fields + (f",qr_image_url.format({image_format})" if image_format else "")


class Commerce:
    """QR codes, commerce settings, and product and product list messages."""

    _core: Any
    phone_number_id: str
    waba_id: str | None

    # ---- QR codes ----------------------------------------------------------------------
    def create_qr_code(self, prefilled_message: str, image_format: str | None = None) -> QrCode:
        """A new QR code for ``prefilled_message`` (at most 140 characters); with
        ``image_format`` (``"PNG"`` or ``"SVG"``) Meta also renders its image."""
        body: dict[str, Any] = {"prefilled_message": _prefilled(prefilled_message)}
        image = _image_format(image_format)
        if image:
            body["generate_qr_image"] = image
        return QrCode._from(_graph.call(self, "POST", self._qr_path(), body))

    def update_qr_code(self, code: str, prefilled_message: str) -> QrCode:
        """Change the message a QR code fills in (its code and link stay)."""
        body = {"code": _code(code), "prefilled_message": _prefilled(prefilled_message)}
        return QrCode._from(_graph.call(self, "POST", self._qr_path(), body))

    def get_qr_code(self, code: str, image_format: str | None = None) -> QrCode:
        path = _graph.with_query(
            f"{self._qr_path()}/{_code(code)}", {"fields": _qr_fields(_image_format(image_format))}
        )
        return QrCode._from(_graph.call(self, "GET", path))

    def list_qr_codes(self, image_format: str | None = None) -> list[QrCode]:
        """Every QR code of the number, following the pages."""
        params = {"fields": _qr_fields(_image_format(image_format)), "limit": 25}
        return [QrCode._from(item) for item in _graph.pages(self, self._qr_path(), params)]

    def delete_qr_code(self, code: str) -> None:
        """Delete a QR code: scanning it no longer opens a chat."""
        _graph.call(self, "DELETE", f"{self._qr_path()}/{_code(code)}")

    def _qr_path(self) -> str:
        return f"/{self.phone_number_id}/message_qrdls"

    # ---- commerce settings ---------------------------------------------------------------
    def get_commerce_settings(self) -> CommerceSettings:
        answer = _graph.call(self, "GET", f"/{self.phone_number_id}/whatsapp_commerce_settings")
        data = answer.get("data") or [{}]
        settings = data[0] if data else {}
        return CommerceSettings(
            bool(settings.get("is_cart_enabled", False)), bool(settings.get("is_catalog_visible", False))
        )

    def update_commerce_settings(
        self, is_cart_enabled: bool | None = None, is_catalog_visible: bool | None = None
    ) -> None:
        """Show or hide the cart and the catalog in chats (the settings not given stay)."""
        given = {"is_cart_enabled": is_cart_enabled, "is_catalog_visible": is_catalog_visible}
        params = {}
        for name, value in given.items():
            if value is None:
                continue
            if not isinstance(value, bool):
                raise _graph.refuse(name, "must be True or False")
            params[name] = "true" if value else "false"
        if not params:
            raise _graph.refuse("is_cart_enabled", "or is_catalog_visible must be given")
        path = _graph.with_query(f"/{self.phone_number_id}/whatsapp_commerce_settings", params)
        _graph.call(self, "POST", path)

    # ---- product messages ----------------------------------------------------------------
    def send_product(
        self,
        to: str,
        catalog_id: str,
        product_retailer_id: str,
        body: str | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send one catalog product (no header; an optional body and footer)."""
        message = Product(catalog_id, product_retailer_id, body, footer)
        return self.send(to, message, reply_to=reply_to)  # type: ignore[attr-defined]

    def send_product_list(
        self,
        to: str,
        header: str,
        body: str,
        catalog_id: str,
        sections: Sequence[Any],
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send up to 30 catalog products in up to 10 titled sections, under a text
        ``header`` and a ``body`` (both required by Meta)."""
        message = ProductList(header, body, catalog_id, sections, footer)
        return self.send(to, message, reply_to=reply_to)  # type: ignore[attr-defined]
