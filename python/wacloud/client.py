"""The Graph API client. All network work runs in the C++ core (libcurl, one
connection pool per client, the GIL released); this module adapts arguments
and results.

>>> client = Client(token, "106540352242922")          # doctest: +SKIP
>>> client.send_text("+16505551234", "Hello").message_id  # doctest: +SKIP
'wamid.HBgL...'
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from . import _core
from . import media as _media
from . import template_management as _templates
from .commerce import Commerce
from .errors import GraphAPIError, InvalidParameter, RateLimited
from .messages import (
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
    Message,
    Reaction,
    ReplyButton,
    Section,
    Sticker,
    Template,
    Text,
    Video,
    dumps_fields,
)
from .meta_analytics import MetaAnalytics
from .numbers import NumberManagement
from .recipients import BusinessScopedUser, check_phone_recipient
from .template_components import TemplateComponent
from .tokens import REQUIRED_TOKEN_SCOPES, GranularScope, TokenInfo
from .uploads import ResumableUploads

if TYPE_CHECKING:
    from .flows import Flows

__all__ = [
    "DEFAULT_API_VERSION",
    "REQUIRED_TOKEN_SCOPES",
    "Client",
    "GranularScope",
    "PythonRateLimiter",
    "RemoteMedia",
    "SendResult",
    "TokenInfo",
]

# A current Graph API version. Meta keeps each version about two years (v21.0 is retired on
# 2027-01-21); from v24.0 status webhooks no longer carry ``conversation``.
DEFAULT_API_VERSION = "v25.0"


@dataclass(frozen=True)
class SendResult:
    """Meta's answer to a send: the message id (wamid), the recipient's wa_id (empty
    when sent to a business-scoped user whose number Meta does not share), the
    recipient as sent (``input``), ``message_status`` (e.g. ``"accepted"``; may be
    empty) and the recipient's business-scoped ``user_id`` when Meta answers one."""

    message_id: str
    wa_id: str
    input: str
    message_status: str
    user_id: str = ""


@dataclass(frozen=True)
class RemoteMedia:
    """Media held by Meta (``GET /<media-id>``). ``url`` is short-lived and
    needs the access token; ``sha256`` is lowercase hex."""

    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int


@runtime_checkable
class PythonRateLimiter(Protocol):
    """Any object with this method can be a client's ``rate_limiter``: it should
    block until a send from ``key`` (the phone number id) to ``recipient`` (a
    wa_id, or a business-scoped user id) is allowed and return ``False`` if
    ``timeout`` seconds pass first."""

    def acquire(self, key: str, recipient: str, timeout: float | None) -> bool: ...


def _native_limiter(limiter: Any) -> Any:
    """The core limiter behind ``limiter``, or None when it is a Python object."""
    # wacloud.RateLimiter exposes its core object as `native`.
    for candidate in (limiter, getattr(limiter, "native", None)):
        if isinstance(candidate, _core.RateLimiter):
            return candidate
    return None


class Client(NumberManagement, Commerce, MetaAnalytics, ResumableUploads):
    """A WhatsApp Cloud API client for one business phone number.

    ``timeout`` bounds each request (seconds); ``max_retries`` is how many times
    a transient or throttled request is resent, after exponential backoff with
    jitter starting near ``retry_backoff`` seconds and never above
    ``retry_backoff_max`` (a longer ``Retry-After`` is raised as
    :class:`RateLimited` instead of waited out). A send that may have reached
    Meta without an answer raises :class:`DeliveryUnknown` and is not resent.
    ``rate_limiter`` is a :class:`wacloud.RateLimiter` (run in C++) or any
    object with ``acquire(key, recipient, timeout) -> bool``."""

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        waba_id: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = "https://graph.facebook.com",
        timeout: float = 30,
        max_retries: int = 3,
        rate_limiter: Any = None,
        *,
        connect_timeout: float = 10,
        retry_backoff: float = 0.5,
        retry_backoff_max: float = 30.0,
        rate_limit_timeout: float | None = None,
        default_region: str | None = None,
    ) -> None:
        for name, value in (("access_token", access_token), ("phone_number_id", phone_number_id)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        native = _native_limiter(rate_limiter) if rate_limiter is not None else None
        if (
            rate_limiter is not None
            and native is None
            and not callable(getattr(rate_limiter, "acquire", None))
        ):
            raise TypeError(
                "rate_limiter must be a wacloud.RateLimiter or have acquire(key, recipient, timeout)"
            )
        self._python_limiter = rate_limiter if rate_limiter is not None and native is None else None
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self.api_version = api_version
        self.base_url = base_url
        self.timeout = float(timeout)
        self.rate_limit_timeout = rate_limit_timeout
        self.default_region = default_region
        # The token lives only inside the core object: no attribute, repr or pickle shows it.
        self._core = _core.GraphClient(
            access_token,
            str(phone_number_id),
            waba_id or "",
            api_version,
            base_url,
            float(timeout),
            float(connect_timeout),
            int(max_retries),
            float(retry_backoff),
            float(retry_backoff_max),
            native,
            rate_limit_timeout,
            default_region or "",
        )

    def __repr__(self) -> str:
        return (
            f"Client(phone_number_id={self.phone_number_id!r}, waba_id={self.waba_id!r}, "
            f"api_version={self.api_version!r}, base_url={self.base_url!r})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a wacloud Client holds a secret and a connection pool; it cannot be pickled")

    # ---- sending ------------------------------------------------------------
    def send(
        self, to: str | BusinessScopedUser, message: Message, *, reply_to: str | None = None
    ) -> SendResult:
        """Send any :mod:`wacloud.messages` message to ``to``: a phone number (any
        format) or a :class:`wacloud.BusinessScopedUser` (Meta's ``recipient``). Every
        ``send_*`` helper takes either."""
        payload, wa_id = self._prepare(to, message, reply_to)
        self._acquire_python_limiter(wa_id)
        return SendResult(*self._core.send_payload(payload, wa_id))

    def send_text(
        self, to: str, body: str, preview_url: bool = False, reply_to: str | None = None
    ) -> SendResult:
        """Send a text message (at most 4096 characters); ``preview_url`` shows a
        preview of the first link. Outside the customer's 24-hour window Meta
        refuses it (:class:`wacloud.ReEngagementRequired`): send a template."""
        return self.send(to, Text(body, preview_url), reply_to=reply_to)

    def send_image(
        self,
        to: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send an image by ``media_id`` (from :meth:`upload_media`) or public
        ``link`` (exactly one), with an optional ``caption``."""
        return self.send(to, Image(media_id, link, caption), reply_to=reply_to)

    def send_video(
        self,
        to: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a video by ``media_id`` or ``link`` (exactly one), with an optional ``caption``."""
        return self.send(to, Video(media_id, link, caption), reply_to=reply_to)

    def send_document(
        self,
        to: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a document by ``media_id`` or ``link`` (exactly one); ``filename``
        is the name the recipient sees."""
        return self.send(to, Document(media_id, link, caption, filename), reply_to=reply_to)

    def send_audio(
        self, to: str, media_id: str | None = None, link: str | None = None, reply_to: str | None = None
    ) -> SendResult:
        """Send audio (or a voice note) by ``media_id`` or ``link`` (exactly one); audio takes no caption."""
        return self.send(to, Audio(media_id, link), reply_to=reply_to)

    def send_sticker(
        self, to: str, media_id: str | None = None, link: str | None = None, reply_to: str | None = None
    ) -> SendResult:
        """Send a WebP sticker by ``media_id`` or ``link`` (exactly one)."""
        return self.send(to, Sticker(media_id, link), reply_to=reply_to)

    def send_location(
        self,
        to: str,
        latitude: float,
        longitude: float,
        name: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a map pin at ``latitude``/``longitude``, optionally named and with an address."""
        return self.send(to, Location(latitude, longitude, name, address), reply_to=reply_to)

    def send_contacts(
        self, to: str, contacts: Sequence[Mapping[str, Any]], reply_to: str | None = None
    ) -> SendResult:
        """Send contact cards, each a mapping in Meta's contact object format
        (``name``, ``phones``, ``emails``, ...)."""
        return self.send(to, Contacts(contacts), reply_to=reply_to)

    def send_reaction(self, to: str, message_id: str, emoji: str) -> SendResult:
        """React to ``message_id`` with one emoji; ``""`` removes the reaction."""
        return self.send(to, Reaction(message_id, emoji))

    def send_template(
        self,
        to: str,
        name: str,
        language: str,
        components: Sequence[TemplateComponent | Mapping[str, Any]] | None = None,
        *,
        definition: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send the approved template ``name`` in ``language`` (e.g. ``"en_US"``);
        ``components`` fill its parameters: typed (:mod:`wacloud.template_components`) or
        Meta's dicts. With the template's ``definition`` (:meth:`get_template`) they are
        checked against it first, as Meta would (:meth:`Template.check_against`). Templates
        are the only messages allowed outside the customer's 24-hour window."""
        message = Template(name, language, components)
        if definition is not None:
            message.check_against(definition)
        return self.send(to, message)

    def send_buttons(
        self,
        to: str,
        body: str,
        buttons: Sequence[ReplyButton | tuple[str, str] | Mapping[str, str]],
        header: str | Header | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send up to 3 reply buttons (``(id, title)``, titles of at most 20
        characters) under ``body``; the tap comes back as an inbound message."""
        return self.send(to, Buttons(body, buttons, header, footer), reply_to=reply_to)

    def send_list(
        self,
        to: str,
        body: str,
        button: str,
        sections: Sequence[Section | Mapping[str, Any]],
        header: str | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a list: ``button`` opens up to 10 ``sections`` holding at most 10 rows in all."""
        return self.send(to, ListMessage(body, button, sections, header, footer), reply_to=reply_to)

    def send_cta_url(
        self,
        to: str,
        body: str,
        display_text: str,
        url: str,
        header: str | Header | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a call-to-action button labelled ``display_text`` that opens ``url``."""
        return self.send(to, CtaUrl(body, display_text, url, header, footer), reply_to=reply_to)

    def send_flow(
        self,
        to: str,
        body: str,
        flow_cta: str,
        flow_id: str | None = None,
        *,
        reply_to: str | None = None,
        **options: Any,
    ) -> SendResult:
        """Send a WhatsApp Flow behind the ``flow_cta`` button; ``options`` are the other
        fields of :class:`wacloud.messages.Flow` (``flow_name``, ``flow_token``,
        ``flow_action``, ``screen``, ``data``, ``mode``, ``header``, ``footer``)."""
        return self.send(to, Flow(body, flow_cta, flow_id, **options), reply_to=reply_to)

    def send_many(
        self, messages: Iterable[tuple[str, Message] | Mapping[str, Any]], concurrency: int = 32
    ) -> list[SendResult | GraphAPIError]:
        """Send many messages with up to ``concurrency`` requests in flight, in
        one C++ call with the GIL released. Items are ``(to, message)`` pairs (``to``
        a phone number or a :class:`wacloud.BusinessScopedUser`) or payloads from
        :meth:`Message.to_payload`. Returns, in input order, a
        :class:`SendResult` or the :class:`GraphAPIError` that ended each send.

        Every item is checked first: a bad one raises (naming its index in
        ``error.send_many_index``) before anything is sent. A Python
        ``rate_limiter`` is asked for each message of a group of
        ``concurrency`` before that group is dispatched."""
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise InvalidParameter("concurrency: must be a positive int", code=100)
        prepared = [self._prepare_item(index, item) for index, item in enumerate(messages)]
        if self._python_limiter is None:
            return [self._outcome(raw) for raw in self._core.send_many(prepared, concurrency)]
        results: list[SendResult | GraphAPIError] = []
        for start in range(0, len(prepared), concurrency):
            group = prepared[start : start + concurrency]
            allowed = [self._python_limiter_allows(wa_id) for _, wa_id in group]
            sent = iter(
                self._core.send_many(
                    [item for item, ok in zip(group, allowed, strict=True) if ok], concurrency
                )
            )
            results.extend(self._outcome(next(sent)) if ok else self._limiter_refusal() for ok in allowed)
        return results

    def mark_read(self, message_id: str, typing_indicator: bool = False) -> None:
        """Mark an inbound message (and earlier ones) as read, optionally showing
        a typing indicator until the reply (or 25 seconds)."""
        self._core.mark_read(message_id, bool(typing_indicator))

    # ---- media ----------------------------------------------------------------
    def upload_media(
        self,
        path_or_bytes: str | os.PathLike | bytes | bytearray | memoryview,
        mime_type: str | None = None,
        filename: str | None = None,
    ) -> str:
        """Upload media and return its id. The content is checked first with
        :func:`wacloud.media.check` (type sniffed, Meta's types and sizes), so
        media Meta would refuse raises :class:`wacloud.MediaRejected` unsent."""
        info = _media.check(path_or_bytes, mime_type)
        if isinstance(path_or_bytes, (str, os.PathLike)):
            path = os.fspath(path_or_bytes)
            name = filename or os.path.basename(path)
            return self._core.upload_media(None, path, info.mime, name)
        return self._core.upload_media(bytes(path_or_bytes), "", info.mime, filename or "")

    def get_media(self, media_id: str) -> RemoteMedia:
        return RemoteMedia(*self._core.get_media(media_id))

    def download_media(self, media_id: str, dest: str | os.PathLike) -> RemoteMedia:
        """Stream media to ``dest`` (via a temporary file beside it). Its size and
        SHA-256 must match Meta's, else :class:`MediaError` and no file is left."""
        return RemoteMedia(*self._core.download_media(media_id, os.fspath(dest)))

    def delete_media(self, media_id: str) -> None:
        self._core.delete_media(media_id)

    # ---- templates, profile, health --------------------------------------------
    def list_templates(
        self, status: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[dict]:
        """Every template of the WABA, following ``paging.next``; ``limit`` is
        the page size asked of Meta."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidParameter("limit: must be a positive int", code=100)
        return self._core.list_templates(status or "", name or "", limit)

    def create_template(
        self,
        name: str,
        language: str,
        category: str,
        components: Sequence[Mapping[str, Any]],
        parameter_format: str | None = None,
    ) -> dict:
        """Submit a template for review; returns Meta's ``{"id", "status", "category"}``.
        ``parameter_format="NAMED"`` for variables named ``{{order_id}}`` (their examples in
        ``body_text_named_params``); left out, Meta takes ``POSITIONAL`` (``{{1}}``)."""
        return self._core.create_template(
            name, language, category, dumps_fields("template", list(components)), parameter_format or ""
        )

    def delete_template(self, name: str) -> None:
        self._core.delete_template(name)

    def get_template(self, template_id: str, fields: Sequence[str] | None = None) -> dict:
        """The template ``template_id`` (``GET /<TEMPLATE_ID>``): by default Meta's ``id``,
        ``name``, ``language``, ``status``, ``category``, ``components``, ..."""
        return self._core.call("GET", _templates.template_path(template_id, fields))

    def edit_template(
        self,
        template_id: str,
        components: Sequence[Mapping[str, Any]] | None = None,
        category: str | None = None,
    ) -> dict:
        """Edit a template (``POST /<TEMPLATE_ID>``): the new ``components`` replace all of
        its components, ``category`` changes its category (not an approved template's). Meta
        edits only APPROVED, REJECTED and PAUSED templates, an approved one once a day; the
        edit goes to review again. Returns Meta's ``{"success": true}``."""
        path = _templates.template_path(template_id)
        return self._core.call("POST", path, _templates.edit_body(components, category))

    def get_business_profile(self) -> dict:
        return self._core.get_business_profile()

    def update_business_profile(self, **fields: Any) -> None:
        """Set profile fields: ``about``, ``address``, ``description``, ``email``,
        ``profile_picture_handle``, ``vertical``, ``websites``."""
        self._core.update_business_profile(dumps_fields("business profile", fields))

    def get_phone_number(self) -> dict:
        """The number's health: ``verified_name``, ``display_phone_number``,
        ``quality_rating``, ``throughput``, ``messaging_limit_tier``, ..."""
        return self._core.get_phone_number()

    def debug_token(self, input_token: str | None = None) -> TokenInfo:
        """Ask Meta (``GET /debug_token``) about ``input_token``, by default this
        client's own token: validity, expiry, permissions and the WABAs they reach.
        An unknown or expired token is not an exception: ``valid`` is false and
        Meta's reason is in ``error_message``."""
        if input_token is not None and not isinstance(input_token, str):
            raise TypeError(f"input_token must be a str, not {type(input_token).__name__}")
        return TokenInfo._from_core(self._core.debug_token(input_token or ""))

    @property
    def flows(self) -> Flows:
        """WhatsApp Flows of this WABA and number: create, list, upload Flow JSON, publish,
        deprecate, delete, preview, metrics, and the endpoint's public key."""
        from .flows import Flows

        return Flows(self)

    # ---- internals -------------------------------------------------------------
    def _prepare(self, to: Any, message: Any, reply_to: str | None) -> tuple[str, str]:
        if not isinstance(to, BusinessScopedUser):
            check_phone_recipient(to)
        if not isinstance(message, Message):
            raise TypeError(f"message must be a wacloud.messages type, not {type(message).__name__}")
        fields = dumps_fields(message.type, message.fields())
        if isinstance(to, BusinessScopedUser):
            return self._core.prepare_for_user(message.type, fields, to.user_id, reply_to or "")
        return self._core.prepare(message.type, fields, to, reply_to or "")

    def _prepare_item(self, index: int, item: Any) -> tuple[str, str]:
        try:
            if isinstance(item, Mapping):
                # "to" holds a wa_id, "recipient" a business-scoped user id (Meta's two spellings).
                recipient = item.get("to", item.get("recipient"))
                if not isinstance(recipient, str) or not recipient:
                    raise InvalidParameter(
                        'to: a prepared payload needs its recipient in "to" or "recipient"', code=100
                    )
                return json.dumps(item, ensure_ascii=True), recipient
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError(
                    f"send_many takes (to, message) pairs or payload dicts, not {type(item).__name__}"
                )
            return self._prepare(item[0], item[1], None)
        except Exception as error:
            error.send_many_index = index  # type: ignore[attr-defined]
            if hasattr(error, "add_note"):
                error.add_note(f"in send_many item {index}")
            raise

    def _acquire_python_limiter(self, wa_id: str) -> None:
        if self._python_limiter is not None and not self._python_limiter_allows(wa_id):
            raise self._limiter_refusal()

    def _python_limiter_allows(self, wa_id: str) -> bool:
        timeout = self.rate_limit_timeout if self.rate_limit_timeout is not None else self.timeout
        return bool(self._python_limiter.acquire(self.phone_number_id, wa_id, timeout))

    def _limiter_refusal(self) -> RateLimited:
        return RateLimited("the rate limiter gave no send slot in time", retriable=True)

    @staticmethod
    def _outcome(raw: Any) -> SendResult | GraphAPIError:
        return raw if isinstance(raw, GraphAPIError) else SendResult(*raw)
